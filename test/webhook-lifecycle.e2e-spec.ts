import { loadConfig } from '@vid2live/config';
import { QUEUES, redisKeys, webhookEventId } from '@vid2live/jobs';
import type { StoredDelivery } from '@vid2live/jobs/webhook-deliveries';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { WebhookEvents } from '../apps/worker/src/webhook-events';
import { apiClient, type ApiClient } from './support/http';
import { startApi, stopAll } from './support/processes';
import { E2E_MEDIA, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';
import { startWorker, type RunningWorker } from './worker-support';

/**
 * The terminal webhook is never lost and replays never clobber retries: the built api as a process, the worker in
 * this process (so a test can make its emitter fail), Redis, S3 and a verifying receiver.
 */
describe('webhook lifecycle', () => {
  let stack: Stack;
  let receiver: WebhookReceiver;
  let worker: RunningWorker;
  let events: WebhookEvents;
  let a: ApiClient;
  const original: Partial<Record<'emit' | 'emitConversion' | 'ensureTerminal', unknown>> = {};

  beforeAll(async () => {
    stack = await startStack('webhook-life');
    receiver = await WebhookReceiver.start(stack.webhookSecret);
    const api = await startApi(stack);
    a = apiClient(api.url, stack.tenants.a);
    worker = await startWorker(loadConfig('worker', stack.env({ WEBHOOK_BACKOFF_MS: '300', WEBHOOK_BACKOFF_MAX_MS: '600', LOG_LEVEL: 'warn' })));
    events = worker.app.get(WebhookEvents);
    for (const k of ['emit', 'emitConversion', 'ensureTerminal'] as const) original[k] = events[k];
    await stack.storage.putObjectFromFile(stack.buckets.input, 'hooks/clip.mp4', makeCachedVideo(E2E_MEDIA, { seconds: 2, size: '320x180' }));
  });

  afterEach(() => {
    Object.assign(events, original);
  });

  afterAll(async () => {
    await worker?.stop();
    await stopAll();
    await receiver?.close();
    await stack?.stop();
  });

  /** An emitter failure the processor cannot retry: the job fails for good right after the record completed. */
  const finalEmitFailure = () => Object.assign(new Error('emitting the event failed (test)'), { code: 'TEST_EMIT_FAILED', retryable: false });

  const submit = async (prefix: string): Promise<string> => {
    const res = await a.post('/v1/conversions', {
      source: { bucket: stack.buckets.input, key: 'hooks/clip.mp4' },
      output: { bucket: stack.buckets.output, prefix },
      options: { duration: 1 },
      webhook: { url: receiver.url() },
    });
    expect(res.status).toBe(202);
    return res.body.id;
  };
  const eventsOf = (id: string) => receiver.accepted().filter((r) => r.body?.data.id === id);
  const delivery = async (eventId: string): Promise<StoredDelivery | undefined> => {
    const raw = await stack.redis.get(redisKeys.webhookDelivery(stack.prefix, eventId));
    return raw ? (JSON.parse(raw) as StoredDelivery) : undefined;
  };

  it("emits the terminal webhook from the worker's failed handler when emitting failed on the job's last attempt", async () => {
    let calls = 0;
    events.emit = async function (this: WebhookEvents, ...args: Parameters<WebhookEvents['emit']>) {
      if (calls++ === 0) throw finalEmitFailure();
      return (original.emit as WebhookEvents['emit']).apply(this, args);
    };
    const id = await submit('lost-last/');
    await receiver.waitForAccepted('conversion.completed', (r) => r.body?.data.id === id, 60_000);
    const record = (await a.get(`/v1/conversions/${id}`)).body;
    expect(record.status).toBe('completed');
    expect(calls).toBe(1); // the processor's emit failed; the handler emitted through the idempotent path
    await new Promise((r) => setTimeout(r, 1_000));
    const got = eventsOf(id);
    expect(got.map((r) => r.body!.type)).toEqual(['conversion.completed']);
    expect(got[0].id).toBe(webhookEventId(id, 'conversion.completed'));
  });

  it('the api emits the terminal webhook when it reads a terminal record that has none', async () => {
    // The worker cannot emit at all (as if Redis refused every write of the event).
    events.emit = async () => {
      throw finalEmitFailure();
    };
    events.ensureTerminal = async () => {
      throw finalEmitFailure();
    };
    const id = await submit('lost-all/');
    const eventId = webhookEventId(id, 'conversion.completed');
    // Ended, with no delivery record: the record as the worker left it.
    await waitFor('the record to complete', async () => {
      const raw = await stack.redis.get(redisKeys.conversion(stack.prefix, id));
      return raw && JSON.parse(raw).status === 'completed';
    }, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 500)); // the failed handler has run (and failed) by now
    expect(await delivery(eventId)).toBeUndefined();
    expect(eventsOf(id)).toEqual([]);

    // A GET notices it and emits the event; the worker (its delivery processor untouched) sends it once.
    expect((await a.get(`/v1/conversions/${id}`)).body.status).toBe('completed');
    await receiver.waitForAccepted('conversion.completed', (r) => r.id === eventId, 30_000);
    await a.get(`/v1/conversions/${id}`); // reading again emits nothing more
    await new Promise((r) => setTimeout(r, 1_000));
    expect(eventsOf(id).map((r) => r.id)).toEqual([eventId]);
    expect((await delivery(eventId))!.state).toBe('delivered');
  });

  it('the api emits a lost batch.completed once when it reads a completed batch without one, even under concurrent reads', async () => {
    // The worker can emit conversion events, but never batch.completed: neither the parent job nor its failed
    // handler (which runs the completion once more) gets it out.
    let batchEmits = 0;
    events.emit = async function (this: WebhookEvents, ...args: Parameters<WebhookEvents['emit']>) {
      if (args[0].type === 'batch.completed') {
        batchEmits++;
        throw finalEmitFailure();
      }
      return (original.emit as WebhookEvents['emit']).apply(this, args);
    };
    const created = await a.post('/v1/batches', {
      source: { items: [{ bucket: stack.buckets.input, key: 'hooks/clip.mp4' }] },
      output: { bucket: stack.buckets.output, prefix: 'lost-batch/' },
      options: { duration: 1 },
      webhook: { url: receiver.url() },
    });
    expect(created.status).toBe(202);
    const id: string = created.body.id;
    const eventId = webhookEventId(id, 'batch.completed');
    // Completed as the worker left it (read from Redis, not through the api, whose GET would make up the event).
    await waitFor('the batch record to complete', async () => {
      const raw = await stack.redis.get(redisKeys.batch(stack.prefix, id));
      return raw && JSON.parse(raw).status === 'completed';
    }, { timeoutMs: 60_000 });
    // The processor's emit and the failed handler's second try both failed.
    await waitFor('both worker emits of batch.completed to fail', () => batchEmits >= 2, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(await delivery(eventId)).toBeUndefined();
    expect(eventsOf(id)).toEqual([]);

    // Five GETs at once: each sees a completed batch without its event; the event goes out once.
    const views = await Promise.all(Array.from({ length: 5 }, () => a.get(`/v1/batches/${id}`)));
    for (const v of views) expect(v.body).toMatchObject({ id, status: 'completed', total: 1 });
    const got = await receiver.waitForAccepted('batch.completed', (r) => r.id === eventId, 30_000);
    expect(got.body).toMatchObject({
      type: 'batch.completed',
      data: { id, status: 'completed', total: 1, counts: views[0].body.counts, createdAt: views[0].body.createdAt, finishedAt: views[0].body.finishedAt },
    });
    await a.get(`/v1/batches/${id}`); // reading again emits nothing more
    await new Promise((r) => setTimeout(r, 1_000));
    expect(eventsOf(id).map((r) => r.id)).toEqual([eventId]);
    expect((await delivery(eventId))!).toMatchObject({ state: 'delivered', attempts: 1, type: 'batch.completed' });
  });

  it('a replay during a pending retry is its own attempt on the same event: no attempt lost, delivered by both', async () => {
    receiver.failNext(3, 500);
    const id = await submit('replay/');
    const eventId = webhookEventId(id, 'conversion.completed');
    await waitFor('the first failed delivery', () => receiver.received.some((r) => r.id === eventId && r.status === 500), { timeoutMs: 60_000 });
    const replay = await a.post(`/v1/webhooks/deliveries/${eventId}/replay`);
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual({ id: eventId, status: 'queued' });

    const settled = await waitFor(
      'both delivery jobs to deliver',
      async () => {
        const d = await delivery(eventId);
        const jobs = Object.values(d?.jobs ?? {});
        return jobs.length === 2 && jobs.every((s) => s === 'delivered') ? d : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const sent = receiver.received.filter((r) => r.id === eventId);
    // Every attempt of either job is in the record, none overwritten by the other.
    expect(settled!.attempts).toBe(sent.length);
    expect(sent.filter((r) => r.status === 500)).toHaveLength(3);
    expect(settled).toMatchObject({ state: 'delivered', lastStatus: 204 });
    expect(new Set(sent.map((r) => r.id))).toEqual(new Set([eventId]));

    // Every key this file's run wrote outside BullMQ's own queue keys expires (noeviction never fills up).
    const queues = Object.values(QUEUES).map((q) => `${stack.prefix}:${q}:`);
    let cursor = '0';
    const checked: string[] = [];
    do {
      const [next, keys] = await stack.redis.scan(cursor, 'MATCH', `${stack.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys.filter((k) => !queues.some((q) => k.startsWith(q)))) {
        checked.push(k);
        // [key, ttl] so a failure names the key; -1 is "no TTL"
        expect([k, (await stack.redis.ttl(k)) > 0]).toEqual([k, true]);
      }
    } while (cursor !== '0');
    expect(checked).toEqual(expect.arrayContaining([redisKeys.webhookDelivery(stack.prefix, eventId), redisKeys.webhookDeliveriesByTenant(stack.prefix, stack.tenants.a.tenant)]));
  });
});
