import { Injectable } from '@nestjs/common';

export type AbortReason = 'cancel' | 'shutdown';

/** The conversions this process is running, so a cancel message or a shutdown can abort exactly those. */
@Injectable()
export class RunningConversions {
  private readonly running = new Map<string, { controller: AbortController; reason?: AbortReason }>();

  start(conversionId: string): { signal: AbortSignal; reason: () => AbortReason | undefined } {
    const entry: { controller: AbortController; reason?: AbortReason } = { controller: new AbortController() };
    this.running.set(conversionId, entry);
    return { signal: entry.controller.signal, reason: () => entry.reason };
  }

  end(conversionId: string): void {
    this.running.delete(conversionId);
  }

  abort(conversionId: string, reason: AbortReason): boolean {
    const entry = this.running.get(conversionId);
    if (!entry) return false;
    // The first reason wins: a job canceled during shutdown is reported as canceled.
    entry.reason ??= reason;
    entry.controller.abort(reason);
    return true;
  }

  abortAll(reason: AbortReason): number {
    for (const id of this.running.keys()) this.abort(id, reason);
    return this.running.size;
  }

  get size(): number {
    return this.running.size;
  }
}
