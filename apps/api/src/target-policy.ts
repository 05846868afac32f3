import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@vid2live/config';
import { TargetForbiddenError, TargetResolveError, assertPublicTarget } from '@vid2live/webhooks/target-guard';
import { ApiError } from './errors';
import { APP_CONFIG } from './tokens';

/**
 * Refuses, at submit time, URL sources and webhook targets in private/loopback/link-local ranges (SSRF), unless
 * SOURCE_ALLOW_PRIVATE_TARGETS (sources) / WEBHOOK_ALLOW_PRIVATE_TARGETS (webhooks) — two switches, so opening one
 * never opens the other. The worker checks again when it connects (DNS may have changed since).
 */
@Injectable()
export class TargetPolicy {
  private readonly allowPrivateSources: boolean;
  private readonly allowPrivateWebhooks: boolean;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.allowPrivateSources = config.SOURCE_ALLOW_PRIVATE_TARGETS;
    this.allowPrivateWebhooks = config.WEBHOOK_ALLOW_PRIVATE_TARGETS;
  }

  /** `target` is a source or a webhook; only a `url` in it is checked. */
  async check(target: object, path: string): Promise<void> {
    if (!('url' in target) || typeof target.url !== 'string') return;
    try {
      const webhook = path.startsWith('webhook');
      await assertPublicTarget(target.url, {
        allowPrivate: webhook ? this.allowPrivateWebhooks : this.allowPrivateSources,
        kind: webhook ? 'webhook' : 'source',
      });
    } catch (e) {
      if (e instanceof TargetForbiddenError) {
        throw ApiError.invalid(`${path} is not an allowed target: ${e.message}`, [{ path, code: e.code, message: e.message }]);
      }
      if (e instanceof TargetResolveError) {
        throw new ApiError(503, 'SERVICE_UNAVAILABLE', `${path} could not be checked right now: ${e.message}`, [{ path, code: e.code }]);
      }
      throw e;
    }
  }
}
