import type { PlanWarning } from '../../livephoto/src/types';
import type { ConversionOptions, ConversionSource, ConversionStatus, OutputTarget } from './index';

/**
 * The JSON records the API writes at submit and the worker updates as a job moves on
 * (`redisKeys.conversion` / `redisKeys.batch`). The API's GET bodies are views of these records.
 */
export interface ObjectRef {
  bucket: string;
  key: string;
}

export interface ConversionRequest {
  source: ConversionSource;
  output: OutputTarget;
  options?: ConversionOptions;
  webhook?: { url: string };
}

export interface ConversionRecord {
  id: string;
  tenant: string;
  status: ConversionStatus;
  /** `stage` is an engine StageName, or `queued` before a worker has picked the job up */
  progress: { stage: string; percent: number };
  request: ConversionRequest;
  batchId?: string;
  result?: {
    contentIdentifier: string;
    /** seconds from the start of the MOV */
    stillTime: number;
    still: ObjectRef;
    video: ObjectRef;
    motionPhoto?: ObjectRef;
    warnings: PlanWarning[];
  };
  error?: { code: string; message: string };
  /** ISO 8601 */
  createdAt: string;
  startedAt?: string;
  finishedAt?: string | null;
  /** set by DELETE while the job is active; the API also PUBLISHes the id on `redisKeys.cancelChannel` */
  cancelRequestedAt?: string;
}

export type BatchStatus = 'queued' | 'active' | 'completed';

export interface BatchRecord {
  id: string;
  tenant: string;
  /** `items`: a BullMQ flow created at submit; `prefix`: expanded page by page by a BatchExpandJobData job */
  kind: 'items' | 'prefix';
  status: BatchStatus;
  /** null while a prefix is still being listed; the expander sets it when the last page is done */
  total: number | null;
  output: OutputTarget;
  options?: ConversionOptions;
  webhook?: { url: string };
  source: { bucket: string; prefix: string } | { items: number };
  createdAt: string;
  finishedAt?: string | null;
}

/** Counter fields of the `batchKeys.counts` hash; a child moving queued → active does HINCRBY -1 / +1. */
export const BATCH_COUNT_FIELDS = ['queued', 'active', 'completed', 'failed', 'canceled'] as const;
export type BatchCounts = Record<(typeof BATCH_COUNT_FIELDS)[number], number>;

export const batchKeys = {
  /** hash of BATCH_COUNT_FIELDS; written by the API (items: queued = total) and the worker (transitions) */
  counts: (prefix: string, batchId: string) => `${prefix}:batch:${batchId}:counts`,
  /** list of failed conversion ids (LPUSH + LTRIM to the newest 1000) for the batch summary */
  failures: (prefix: string, batchId: string) => `${prefix}:batch:${batchId}:failures`,
};

/** Job names used on the queues (BullMQ routes by queue; the name tells processors of one queue apart). */
export const JOB_NAMES = {
  convert: 'convert',
  /** parent of an items batch flow, in QUEUES.batches */
  batch: 'batch',
  /** a BatchExpandJobData job, in QUEUES.batches */
  expand: 'batch-expand',
  deliver: 'deliver',
} as const;
