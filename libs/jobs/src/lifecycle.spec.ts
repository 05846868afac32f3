import type { ConversionStatus } from './index';
import {
  CONVERSION_STATUSES,
  IllegalTransitionError,
  TRANSITIONS,
  assertMove,
  canMove,
  cancel,
  claim,
  complete,
  fail,
  progress,
  requeue,
  requestCancel,
  type LifecycleEvent,
  type Transition,
} from './lifecycle';
import type { ConversionRecord } from './records';

/** The lifecycle table walked in full, without Redis: every allowed move succeeds, every other one is refused. */

const now = new Date('2025-01-02T03:04:05.000Z');
const result: NonNullable<ConversionRecord['result']> = {
  contentIdentifier: 'ID',
  stillTime: 1,
  still: { bucket: 'o', key: 'p/a.JPG' },
  video: { bucket: 'o', key: 'p/a.MOV' },
  warnings: [],
};

function record(status: ConversionStatus, extra: Partial<ConversionRecord> = {}): ConversionRecord {
  return {
    id: 'cnv_1',
    tenant: 'acme',
    status,
    progress: { stage: status === 'queued' ? 'queued' : 'render', percent: 40 },
    request: { source: { bucket: 'in', key: 'a.mov' }, output: { bucket: 'o', prefix: 'p/' } },
    createdAt: '2025-01-01T00:00:00.000Z',
    ...extra,
  };
}

const steps: Record<LifecycleEvent, (r: ConversionRecord) => Transition> = {
  claim: (r) => claim(r, now),
  progress: (r) => progress(r, { stage: 'upload', percent: 50 }),
  complete: (r) => complete(r, result, now),
  fail: (r) => fail(r, { code: 'INPUT_NOT_MEDIA', message: 'no' }, now),
  requeue: (r) => requeue(r, { code: 'FFMPEG_FAILED', message: 'x' }),
  requestCancel: (r) => requestCancel(r, now),
  cancel: (r) => cancel(r, now),
};

/** Written out here (not derived from TRANSITIONS): event → { from status → to status }. */
const EXPECTED: Record<LifecycleEvent, Partial<Record<ConversionStatus, ConversionStatus>>> = {
  claim: { queued: 'active', active: 'active' },
  progress: { active: 'active' },
  complete: { queued: 'completed', active: 'completed' },
  fail: { queued: 'failed', active: 'failed' },
  requeue: { active: 'queued' },
  requestCancel: { queued: 'queued', active: 'active' },
  cancel: { queued: 'canceled', active: 'canceled' },
};

describe('the conversion lifecycle table', () => {
  const events = Object.keys(EXPECTED) as LifecycleEvent[];

  it('has exactly the expected events', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...events].sort());
  });

  for (const event of events) {
    for (const from of CONVERSION_STATUSES) {
      const to = EXPECTED[event][from];
      it(`${event} from ${from}: ${to ? `→ ${to}` : 'refused'}`, () => {
        const before = record(from);
        const t = steps[event](before);
        if (to) {
          expect(t).toMatchObject({ ok: true, event, record: { status: to } });
          if (t.ok) expect(() => assertMove(before, t.record)).not.toThrow();
        } else {
          expect(t).toEqual({ ok: false, event, from, reason: 'not-allowed' });
        }
        expect(before.status).toBe(from); // pure: the input is never changed
      });
    }
  }

  it('allows exactly these status moves, and rewrites no ended record', () => {
    const allowed = new Set(events.flatMap((e) => Object.entries(EXPECTED[e]).map(([from, to]) => `${from}→${to}`)));
    for (const from of CONVERSION_STATUSES) {
      for (const to of CONVERSION_STATUSES) {
        const legal = allowed.has(`${from}→${to}`);
        expect([`${from}→${to}`, canMove(from, to)]).toEqual([`${from}→${to}`, legal]);
        const write = () => assertMove(record(from), record(to));
        if (legal && !['completed', 'failed', 'canceled'].includes(from)) expect(write).not.toThrow();
        else expect(write).toThrow(IllegalTransitionError);
      }
    }
    // the moves the issue names
    expect(canMove('completed', 'active')).toBe(false);
    expect(canMove('canceled', 'completed')).toBe(false);
    expect(() => assertMove(record('canceled'), record('completed'))).toThrow(/canceled → completed/);
    // a same-status rewrite of an ended record (e.g. a second `result`) is refused too
    expect(() => assertMove(record('completed'), record('completed', { result }))).toThrow(IllegalTransitionError);
  });
});

describe('the transition functions', () => {
  it('claim: active at probe 0, startedAt set once; refused while a cancel is pending', () => {
    expect(claim(record('queued'), now)).toEqual({
      ok: true,
      event: 'claim',
      record: { ...record('queued'), status: 'active', progress: { stage: 'probe', percent: 0 }, startedAt: now.toISOString() },
    });
    const again = claim(record('active', { startedAt: 'earlier' }), now);
    expect(again.ok && again.record.startedAt).toBe('earlier');
    for (const s of ['queued', 'active'] as const) {
      expect(claim(record(s, { cancelRequestedAt: 'x' }), now)).toEqual({ ok: false, event: 'claim', from: s, reason: 'cancel-pending' });
    }
  });

  it('complete: result, done 100, finishedAt, no error; refused while a cancel is pending', () => {
    const t = complete(record('active', { error: { code: 'X', message: 'old' } }), result, now);
    expect(t.ok && t.record).toMatchObject({ status: 'completed', result, progress: { stage: 'done', percent: 100 }, finishedAt: now.toISOString() });
    expect(t.ok && t.record.error).toBeUndefined();
    expect(complete(record('active', { cancelRequestedAt: 'x' }), result, now)).toMatchObject({ ok: false, reason: 'cancel-pending' });
  });

  it('a final failure while a cancel is pending ends canceled, the failure kept as lastError', () => {
    const pending = { ...record('active'), cancelRequestedAt: now.toISOString() };
    const t = fail(pending, { code: 'FFMPEG_FAILED', message: 'boom' }, now);
    expect(t.ok && t.event).toBe('cancel');
    expect(t.ok && t.record).toMatchObject({
      status: 'canceled',
      error: { code: 'CANCELED' },
      lastError: { code: 'FFMPEG_FAILED', message: 'boom' },
      finishedAt: now.toISOString(),
    });
    // without a pending cancel it is an ordinary failure
    const plain = fail(record('active'), { code: 'FFMPEG_FAILED', message: 'boom' }, now);
    expect(plain.ok && plain.record.status).toBe('failed');
  });

  it('fail, requeue and cancel write what the record shows', () => {
    const failed = fail(record('active'), { code: 'INPUT_NOT_MEDIA', message: 'no', retryable: false } as never, now);
    expect(failed.ok && failed.record).toMatchObject({ error: { code: 'INPUT_NOT_MEDIA', message: 'no' }, finishedAt: now.toISOString() });
    expect(failed.ok && failed.record.error).toEqual({ code: 'INPUT_NOT_MEDIA', message: 'no' });

    const back = requeue(record('active'), { code: 'FFMPEG_FAILED', message: 'x' });
    expect(back.ok && back.record).toMatchObject({ status: 'queued', progress: { stage: 'queued', percent: 0 }, lastError: { code: 'FFMPEG_FAILED', message: 'x' } });
    const shutdown = requeue(record('active'));
    expect(shutdown.ok && 'lastError' in shutdown.record).toBe(false);

    const canceled = cancel(record('active', { cancelRequestedAt: 'asked' }), now);
    expect(canceled.ok && canceled.record).toMatchObject({
      status: 'canceled',
      error: { code: 'CANCELED', message: 'the conversion was canceled' },
      cancelRequestedAt: 'asked',
      finishedAt: now.toISOString(),
    });
    const byApi = cancel(record('queued'), now, { markRequested: true });
    expect(byApi.ok && byApi.record.cancelRequestedAt).toBe(now.toISOString());
    const byWorker = cancel(record('queued'), now);
    expect(byWorker.ok && 'cancelRequestedAt' in byWorker.record).toBe(false);
  });

  it('requestCancel notes the time once and keeps the status', () => {
    const t = requestCancel(record('active'), now);
    expect(t.ok && t.record).toEqual({ ...record('active'), cancelRequestedAt: now.toISOString() });
    expect(requestCancel(record('active', { cancelRequestedAt: 'x' }), now)).toEqual({
      ok: false,
      event: 'requestCancel',
      from: 'active',
      reason: 'already-requested',
    });
  });

  it('progress only while active, and changes nothing but the progress', () => {
    const t = progress(record('active'), { stage: 'upload', percent: 7 });
    expect(t.ok && t.record).toEqual({ ...record('active'), progress: { stage: 'upload', percent: 7 } });
  });
});
