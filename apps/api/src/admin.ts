import { createBullBoard } from '@bull-board/api';
import type { IServerAdapter } from '@bull-board/api/dist/types';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiKeyAuth } from './auth';
import { Queues } from './infra.module';

export const ADMIN_BASE_PATH = '/admin/queues';

/**
 * bull-board is a Fastify plugin outside Nest's router, so Nest guards do not see it: it gets the key check as an
 * onRequest hook inside its own encapsulated plugin scope (the hook then applies to its routes only). It shows
 * every tenant's jobs (their data, results, errors), so only an admin key (ADMIN_API_KEYS) opens it — a tenant
 * key gets 403 — and it is read-only.
 */
export async function mountQueueDashboard(app: NestFastifyApplication): Promise<void> {
  const queues = app.get(Queues);
  const auth = app.get(ApiKeyAuth);
  const serverAdapter = new BullBoardFastifyAdapter();
  serverAdapter.setBasePath(ADMIN_BASE_PATH);
  // @bull-board/fastify 9.10.1 pins its own copy of @bull-board/api (9.10.1), whose adapter type differs
  // nominally from the top-level 9.10.2 one; at run time the interface is the same.
  createBullBoard({
    queues: queues.all().map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter: serverAdapter as unknown as IServerAdapter,
  });
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.register(
    async (scope) => {
      scope.addHook('onRequest', auth.dashboardHook());
      await scope.register(serverAdapter.registerPlugin() as never);
    },
    { prefix: ADMIN_BASE_PATH },
  );
}
