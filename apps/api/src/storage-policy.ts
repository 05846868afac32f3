import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@vid2live/config';
import type { ConversionSource, OutputTarget } from '@vid2live/jobs';
import {
  StorageScopeError,
  StorageScopePolicy,
  assertOutputName,
  defaultOutputName,
} from '@vid2live/storage/scope';
import { batchItemOutputNames } from '@vid2live/storage/output-names';
import { ApiError } from './errors';
import { APP_CONFIG } from './tokens';

/**
 * Checks at submit that a request's keys are valid and inside the tenant's TENANT_STORAGE scope: sources (and a
 * batch's prefix) readable, the output prefix writable, every derived output key ≤ 1 024 bytes. All problems of a
 * request are reported at once: any invalid key → 400 INVALID_KEY, otherwise any key outside the scope → 403
 * STORAGE_SCOPE_DENIED; `details` lists `{ path, code, message }`. The worker checks again before it reads or writes.
 */
@Injectable()
export class StoragePolicy {
  private readonly policy: StorageScopePolicy;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.policy = new StorageScopePolicy(config.TENANT_STORAGE ?? new Map());
  }

  checkConversion(tenant: string, body: { source: ConversionSource; output: OutputTarget }): void {
    const problems = this.collect(() => this.output(tenant, body.output));
    this.report(problems.concat(this.source(tenant, body.source, body.output, 'source', problems.length > 0)));
  }

  checkBatch(
    tenant: string,
    body: { source: { bucket: string; prefix: string } | { items: ConversionSource[] }; output: OutputTarget },
  ): void {
    const problems = this.collect(() => this.output(tenant, body.output));
    const outputBad = problems.length > 0;
    if ('items' in body.source) {
      // The names the items will really be written under (clashing names get a sub-path or a suffix).
      const names = batchItemOutputNames(body.source.items);
      for (const [i, item] of body.source.items.entries()) {
        problems.push(...this.source(tenant, item, body.output, `source.items.${i}`, outputBad, names[i]));
      }
    } else {
      const { bucket, prefix } = body.source;
      // Listed keys are checked one by one by the worker (a key with a `..` segment fails alone, as INVALID_KEY).
      problems.push(...this.collect(() => this.policy.assertAccess(tenant, 'read', { bucket, prefix }, 'source.prefix')));
    }
    this.report(problems);
  }

  private output(tenant: string, output: OutputTarget): void {
    this.policy.assertAccess(tenant, 'write', { bucket: output.bucket, prefix: output.prefix }, 'output.prefix');
  }

  /** The source's own problems; the derived output keys are checked only when source and output are valid. */
  private source(
    tenant: string,
    source: ConversionSource,
    output: OutputTarget,
    path: string,
    outputBad: boolean,
    name = defaultOutputName(source),
  ): StorageScopeError[] {
    const problems: StorageScopeError[] = [];
    if ('key' in source) {
      problems.push(...this.collect(() => this.policy.assertAccess(tenant, 'read', source, `${path}.key`)));
    }
    if (outputBad || problems.some((p) => p.code === 'INVALID_KEY')) return problems;
    const at = 'key' in source ? `${path}.key` : `${path}.url`;
    problems.push(...this.collect(() => assertOutputName(output.prefix, name, at)));
    return problems;
  }

  private collect(check: () => void): StorageScopeError[] {
    try {
      check();
      return [];
    } catch (e) {
      if (e instanceof StorageScopeError) return [e];
      throw e;
    }
  }

  private report(problems: StorageScopeError[]): void {
    if (!problems.length) return;
    const invalid = problems.filter((p) => p.code === 'INVALID_KEY');
    const shown = invalid.length ? invalid : problems;
    const details = shown.slice(0, 100).map((p) => ({ path: p.path, code: p.code, message: p.message }));
    if (invalid.length) throw new ApiError(400, 'INVALID_KEY', `invalid object key: ${shown[0].message}`, details);
    throw new ApiError(403, 'STORAGE_SCOPE_DENIED', shown[0].message, details);
  }
}
