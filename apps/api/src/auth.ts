import { CanActivate, ExecutionContext, Inject, Injectable, createParamDecorator } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../../libs/config/src';
import { ApiError } from './errors';
import { APP_CONFIG } from './tokens';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Resolves `Authorization: Bearer <key>` to a tenant. Keys are compared as SHA-256 digests with
 * timingSafeEqual against every configured key (no early exit), so neither the key length nor the position
 * of the first differing byte leaks through timing.
 */
@Injectable()
export class ApiKeyAuth {
  private readonly keys: Array<{ digest: Buffer; tenant: string }>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.keys = [...(config.API_KEYS ?? new Map<string, string>()).entries()].map(([key, tenant]) => ({
      digest: digest(key),
      tenant,
    }));
  }

  tenantFor(authorization: string | string[] | undefined, opts: { allowBasic?: boolean } = {}): string | undefined {
    const key = presentedKey(authorization, opts.allowBasic ?? false);
    if (key === undefined) return undefined;
    const candidate = digest(key);
    let tenant: string | undefined;
    for (const k of this.keys) {
      if (timingSafeEqual(k.digest, candidate)) tenant = k.tenant;
    }
    return tenant;
  }

  /**
   * For the queue dashboard, outside Nest's router: a Fastify onRequest hook. Besides the Bearer header it takes
   * the same key as the password of HTTP Basic auth, the only way a browser can send it (the 401 makes it ask).
   */
  dashboardHook() {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      if (!this.tenantFor(req.headers.authorization, { allowBasic: true })) {
        const err = unauthorized();
        await reply.status(err.status).header('www-authenticate', 'Basic realm="vid2live queues", charset="UTF-8"').send(err.body());
      }
    };
  }
}

/** The API key in `Bearer <key>` (or, when allowed, the password of `Basic base64(user:key)`). */
function presentedKey(authorization: string | string[] | undefined, allowBasic: boolean): string | undefined {
  if (typeof authorization !== 'string') return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return bearer[1];
  const basic = allowBasic ? /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(authorization) : null;
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'UNAUTHORIZED', 'a valid "Authorization: Bearer <api key>" header is required');
}

type AuthedRequest = FastifyRequest & { tenant?: string };

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly auth: ApiKeyAuth) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const tenant = this.auth.tenantFor(req.headers.authorization);
    if (!tenant) throw unauthorized();
    req.tenant = tenant;
    return true;
  }
}

/** The tenant the guard resolved for this request. */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
  if (!tenant) throw unauthorized();
  return tenant;
});
