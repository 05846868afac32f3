import type { Job } from 'bullmq';
import { progress as progressTo } from '@vid2live/jobs/lifecycle';
import { stageDuration } from '@vid2live/jobs/metrics';
import type { StageProgress } from '@vid2live/livephoto/types';
import type { RecordStore } from './record-store';

/** How often progress goes to Redis at most (the engine reports many times a second). */
const PROGRESS_WRITE_INTERVAL_MS = 500;

/**
 * Progress to the record (the lifecycle's `progress` move: only while active) and to `job.updateProgress`, at most
 * every PROGRESS_WRITE_INTERVAL_MS and on every stage change; also times stages for the duration histogram. Writes
 * are chained, never concurrent, never awaited by the engine.
 */
export class ProgressWriter {
  private chain: Promise<unknown> = Promise.resolve();
  private lastWrite = 0;
  private stage?: string;
  private stageStart = 0;

  constructor(
    private readonly job: Job,
    private readonly records: RecordStore,
    private readonly id: string,
  ) {}

  report(p: StageProgress | { stage: string; percent: number }): void {
    const now = Date.now();
    const stageChanged = p.stage !== this.stage;
    if (stageChanged) {
      this.endStage(now);
      this.stage = p.stage;
      this.stageStart = now;
    }
    if (!stageChanged && now - this.lastWrite < PROGRESS_WRITE_INTERVAL_MS) return;
    this.lastWrite = now;
    const progress = { stage: p.stage, percent: Math.round(Math.max(0, Math.min(100, p.percent))) };
    this.chain = this.chain
      .then(() => Promise.all([this.job.updateProgress(progress), this.records.transition(this.id, (r) => progressTo(r, progress))]))
      // Progress is best effort: a failed write must not fail the conversion.
      .catch(() => undefined);
  }

  endStage(now = Date.now()): void {
    if (this.stage) stageDuration.observe({ stage: this.stage }, (now - this.stageStart) / 1000);
    this.stage = undefined;
  }

  flush(): Promise<unknown> {
    return this.chain;
  }
}
