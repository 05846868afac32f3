import { CanActivate, ExecutionContext, Inject, Injectable, createParamDecorator } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '@vid2live/config';
import { ApiError } from './errors';
import { APP_CONFIG } from './tokens';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Who a presented key belongs to: a tenant (the /v1 API) or an operator (the cross-tenant views). */
export type Principal = { kind: 'tenant'; tenant: string } | { kind: 'admin' };

/**
 * Resolves `Authorization: Bearer <key>` to a tenant (`API_KEYS`) or an admin (`ADMIN_API_KEYS`). Keys are compared
 * as SHA-256 digests with timingSafeEqual against every configured key (no early exit), so neither the key length
 * nor the position of the first differing byte leaks through timing.
 */
@Injectable()
export class ApiKeyAuth {
  private readonly keys: Array<{ digest: Buffer; principal: Principal }>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.keys = [
      ...[...(config.API_KEYS ?? new Map<string, string>()).entries()].map(([key, tenant]) => ({
        digest: digest(key),
        principal: { kind: 'tenant', tenant } as Principal,
      })),
      ...[...(config.ADMIN_API_KEYS ?? [])].map((key) => ({ digest: digest(key), principal: { kind: 'admin' } as Principal })),
    ];
  }

  principalFor(authorization: string | string[] | undefined, opts: { allowBasic?: boolean } = {}): Principal | undefined {
    const key = presentedKey(authorization, opts.allowBasic ?? false);
    if (key === undefined) return undefined;
    const candidate = digest(key);
    let found: Principal | undefined;
    for (const k of this.keys) {
      if (timingSafeEqual(k.digest, candidate)) found = k.principal;
    }
    return found;
  }

  tenantFor(authorization: string | string[] | undefined, opts: { allowBasic?: boolean } = {}): string | undefined {
    const p = this.principalFor(authorization, opts);
    return p?.kind === 'tenant' ? p.tenant : undefined;
  }

  /**
   * For the queue dashboard, outside Nest's router: a Fastify onRequest hook. It shows every tenant's jobs, so only
   * an admin key opens it: no or an unknown key → 401 (with a Basic challenge, so a browser asks), a tenant key →
   * 403. Besides the Bearer header it takes the key as the password of HTTP Basic auth, the only way a browser
   * can send it.
   */
  dashboardHook() {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const principal = this.principalFor(req.headers.authorization, { allowBasic: true });
      if (principal?.kind === 'admin') return;
      const err = principal ? forbidden('the queue dashboard needs an admin key (ADMIN_API_KEYS)') : unauthorized();
      if (!principal) reply.header('www-authenticate', 'Basic realm="vid2live queues", charset="UTF-8"');
      await reply.status(err.status).header('content-type', 'application/json; charset=utf-8').send(err.body());
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

export function forbidden(message: string): ApiError {
  return new ApiError(403, 'FORBIDDEN', message);
}

type AuthedRequest = FastifyRequest & { tenant?: string };

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly auth: ApiKeyAuth) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const principal = this.auth.principalFor(req.headers.authorization);
    if (!principal) throw unauthorized();
    // An operator key has no tenant: it opens the cross-tenant views, not a tenant's conversions.
    if (principal.kind !== 'tenant') throw forbidden('an admin key has no tenant; use a tenant key from API_KEYS');
    req.tenant = principal.tenant;
    return true;
  }
}

/** Cross-tenant views (`/metrics`): an admin key only; a tenant key is 403, no or an unknown key 401. */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  constructor(private readonly auth: ApiKeyAuth) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const principal = this.auth.principalFor(req.headers.authorization);
    if (!principal) throw unauthorized();
    if (principal.kind !== 'admin') throw forbidden('this view spans every tenant and needs an admin key (ADMIN_API_KEYS)');
    return true;
  }
}

/** The tenant the guard resolved for this request. */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
  if (!tenant) throw unauthorized();
  return tenant;
});
