import type { ConversionStatus } from './index';
import type { ConversionRecord } from './records';

/**
 * The conversion lifecycle as one explicit state machine: the statuses, the moves between them (TRANSITIONS) and
 * pure transition functions that return the next record or a typed refusal. The worker and the API's cancel only
 * write records through these; RecordStore.updateConversion also refuses any status change the table does not
 * allow (IllegalTransitionError), so an illegal move (completed → active, canceled → completed, …) cannot be
 * written. Pure: no Redis, no clock unless passed in.
 */

export const CONVERSION_STATUSES: readonly ConversionStatus[] = ['queued', 'active', 'completed', 'failed', 'canceled'];

/** Terminal statuses: a record in one of them is never written again. */
export const ENDED: ReadonlySet<ConversionStatus> = new Set<ConversionStatus>(['completed', 'failed', 'canceled']);

export function isEnded(status: ConversionStatus): boolean {
  return ENDED.has(status);
}

export type LifecycleEvent = 'claim' | 'progress' | 'complete' | 'fail' | 'requeue' | 'requestCancel' | 'cancel';

/**
 * Event → the statuses it may start from and the status it leads to (`same`: the status does not change).
 * - claim: a worker takes the job (active → active: a re-run of a stalled job claims it again); refused while a
 *   cancel is pending.
 * - progress: the engine/upload reports progress; only while active.
 * - complete: the outputs are published; refused while a cancel is pending (the cancel wins, the pair is removed).
 *   From queued too: a worker whose lock was lost may finish after another worker put the job back.
 * - fail: a final error (or a job that never got claimed and ran out of attempts: queued → failed).
 * - requeue: a transient failure with attempts left, or a shutdown: back to queued for BullMQ's retry.
 * - requestCancel: DELETE while the job is active in BullMQ: the record notes it, the worker settles it.
 * - cancel: DELETE of a queued job (the API), or the worker settling a requested cancel.
 */
export const TRANSITIONS: Readonly<Record<LifecycleEvent, { from: readonly ConversionStatus[]; to: ConversionStatus | 'same' }>> = {
  claim: { from: ['queued', 'active'], to: 'active' },
  progress: { from: ['active'], to: 'same' },
  complete: { from: ['queued', 'active'], to: 'completed' },
  fail: { from: ['queued', 'active'], to: 'failed' },
  requeue: { from: ['active'], to: 'queued' },
  requestCancel: { from: ['queued', 'active'], to: 'same' },
  cancel: { from: ['queued', 'active'], to: 'canceled' },
};

/** Whether any event moves a record from `from` to `to` (a same-status write of an ended record is not a move). */
export function canMove(from: ConversionStatus, to: ConversionStatus): boolean {
  return Object.values(TRANSITIONS).some((t) => t.from.includes(from) && (t.to === 'same' ? from : t.to) === to);
}

export type RefusalReason =
  /** the table has no such move from this status */
  | 'not-allowed'
  /** claim/complete while DELETE has been accepted: the cancel wins */
  | 'cancel-pending'
  /** requestCancel when one is already noted: nothing to write */
  | 'already-requested';

export interface TransitionRefusal {
  readonly ok: false;
  readonly event: LifecycleEvent;
  readonly from: ConversionStatus;
  readonly reason: RefusalReason;
}

export type Transition = { readonly ok: true; readonly event: LifecycleEvent; readonly record: ConversionRecord } | TransitionRefusal;

/** A write the table forbids: a programming error, never retried. */
export class IllegalTransitionError extends Error {
  readonly code = 'ILLEGAL_TRANSITION';
  readonly retryable = false;
  constructor(
    readonly id: string,
    readonly from: ConversionStatus,
    readonly to: ConversionStatus,
  ) {
    super(`conversion ${id}: ${from} → ${to} is not an allowed move`);
  }
}

/** Throws IllegalTransitionError unless `next` may replace `current` (an ended record is never rewritten). */
export function assertMove(current: ConversionRecord, next: ConversionRecord): void {
  if (isEnded(current.status) || (next.status !== current.status && !canMove(current.status, next.status))) {
    throw new IllegalTransitionError(current.id, current.status, next.status);
  }
}

function refuse(event: LifecycleEvent, r: ConversionRecord, reason: RefusalReason): TransitionRefusal {
  return { ok: false, event, from: r.status, reason };
}

function move(event: LifecycleEvent, r: ConversionRecord, next: ConversionRecord): Transition {
  if (!TRANSITIONS[event].from.includes(r.status)) return refuse(event, r, 'not-allowed');
  const to = TRANSITIONS[event].to;
  return { ok: true, event, record: { ...next, status: to === 'same' ? r.status : to } };
}

const CANCELED_ERROR = { code: 'CANCELED', message: 'the conversion was canceled' } as const;

/** A worker takes the job: active, progress probe 0, `startedAt` kept from an earlier attempt. */
export function claim(r: ConversionRecord, now = new Date()): Transition {
  if (!isEnded(r.status) && r.cancelRequestedAt) return refuse('claim', r, 'cancel-pending');
  return move('claim', r, { ...r, progress: { stage: 'probe', percent: 0 }, startedAt: r.startedAt ?? now.toISOString() });
}

export function progress(r: ConversionRecord, p: { stage: string; percent: number }): Transition {
  return move('progress', r, { ...r, progress: p });
}

export function complete(r: ConversionRecord, result: NonNullable<ConversionRecord['result']>, now = new Date()): Transition {
  if (!isEnded(r.status) && r.cancelRequestedAt) return refuse('complete', r, 'cancel-pending');
  return move('complete', r, {
    ...r,
    progress: { stage: 'done', percent: 100 },
    result,
    error: undefined,
    finishedAt: now.toISOString(),
  });
}

/**
 * A final error. While a cancel is pending (DELETE accepted, the worker has not settled it yet) the user's cancel
 * wins: the record ends `canceled` (event `cancel`), with the failure kept as `lastError` — one answer to "what
 * happened to my cancel", whichever of the two the worker saw first.
 */
export function fail(r: ConversionRecord, error: { code: string; message: string }, now = new Date()): Transition {
  const failure = { code: error.code, message: error.message };
  if (!isEnded(r.status) && r.cancelRequestedAt) {
    return move('cancel', r, { ...r, error: { ...CANCELED_ERROR }, lastError: failure, finishedAt: now.toISOString() });
  }
  return move('fail', r, { ...r, error: failure, finishedAt: now.toISOString() });
}

/** Back to the queue; `lastError` (a transient failure) stays visible while the job waits for its retry. */
export function requeue(r: ConversionRecord, lastError?: { code: string; message: string }): Transition {
  return move('requeue', r, {
    ...r,
    progress: { stage: 'queued', percent: 0 },
    ...(lastError ? { lastError: { code: lastError.code, message: lastError.message } } : {}),
  });
}

export function requestCancel(r: ConversionRecord, now = new Date()): Transition {
  if (!isEnded(r.status) && r.cancelRequestedAt) return refuse('requestCancel', r, 'already-requested');
  return move('requestCancel', r, { ...r, cancelRequestedAt: now.toISOString() });
}

/**
 * Canceled with the CANCELED error. `markRequested` (the API's DELETE of a queued job) also notes when the cancel
 * was asked for; the worker settling an earlier request leaves `cancelRequestedAt` as it is.
 */
export function cancel(r: ConversionRecord, now = new Date(), opts: { markRequested?: boolean } = {}): Transition {
  const at = now.toISOString();
  return move('cancel', r, {
    ...r,
    error: { ...CANCELED_ERROR },
    ...(opts.markRequested ? { cancelRequestedAt: r.cancelRequestedAt ?? at } : {}),
    finishedAt: at,
  });
}
