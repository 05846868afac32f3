import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { Counter, Registry } from 'prom-client';
import { QUEUES, redisKeys } from '@vid2live/jobs';
import { startMetricsRelay } from '@vid2live/jobs/metrics-relay';
import { apiClient, type ApiClient } from './support/http';
import { runToExit, startApi, stopAll, type ApiProcess } from './support/processes';
import { startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';

/**
 * The API alone (no worker): auth, validation, idempotency, tenant isolation, cancel of a queued conversion,
 * batches as flows, health, metrics, OpenAPI, start-up refusal. Jobs stay in the queue, so what the API
 * enqueued can be inspected exactly.
 */
let stack: Stack;
let api: ApiProcess;
let a: ApiClient;
let b: ApiClient;
let anon: ApiClient;
let admin: ApiClient;
let conversions: Queue;
let batches: Queue;
let connection: Redis;

const validBody = () => ({
  source: { bucket: stack.buckets.input, key: 'videos/clip.mp4' },
  output: { bucket: stack.buckets.output, prefix: 'live/' },
});

beforeAll(async () => {
  stack = await startStack('api');
  api = await startApi(stack);
  a = apiClient(api.url, stack.tenants.a);
  b = apiClient(api.url, stack.tenants.b);
  anon = apiClient(api.url);
  admin = apiClient(api.url, stack.admin);
  connection = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  conversions = new Queue(QUEUES.conversions, { connection, prefix: stack.prefix });
  batches = new Queue(QUEUES.batches, { connection, prefix: stack.prefix });
});

afterAll(async () => {
  await conversions?.close();
  await batches?.close();
  connection?.disconnect(); // shared by both queues, which leave it open
  await stopAll();
  await stack?.stop();
});

describe('authentication', () => {
  const routes: Array<[string, string, unknown?]> = [
    ['POST', '/v1/conversions', {}],
    ['GET', '/v1/conversions/cnv_x', undefined],
    ['DELETE', '/v1/conversions/cnv_x', undefined],
    ['POST', '/v1/batches', {}],
    ['GET', '/v1/batches/bat_x', undefined],
    ['POST', '/v1/webhooks/deliveries/msg_x/replay', {}],
    ['GET', '/admin/queues', undefined],
  ];
  const basic = (key: string) => `Basic ${Buffer.from(`ops:${key}`).toString('base64')}`;

  it.each(routes)('%s %s answers 401 without a key, with an unknown key and with a non-Bearer scheme', async (method, path, body) => {
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${stack.tenants.a.key}x` },
      { authorization: `Bearer ${stack.tenants.a.key.slice(0, -1)}` },
      { authorization: stack.tenants.a.key },
      { authorization: basic(`${stack.tenants.a.key}x`) },
      // Basic carries the key only for the dashboard (browsers cannot send a Bearer header).
      ...(path.startsWith('/v1') ? [{ authorization: basic(stack.tenants.a.key) }] : []),
    ];
    for (const headers of attempts) {
      const res = await fetch(new URL(path, api.url), {
        method,
        headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    }
  });

  it('opens the queue dashboard to an admin key only (Bearer or a browser\'s Basic password): tenant 403, none 401', async () => {
    const res = await admin.get('/admin/queues');
    expect(res.status).toBe(200);
    expect(String(res.body)).toContain('<html');
    expect((await anon.get('/admin/queues', { authorization: basic(stack.admin.key) })).status).toBe(200);
    // It lists every tenant's jobs (with their results): a tenant key is authenticated but not allowed.
    for (const who of [a, b]) {
      const forbidden = await who.get('/admin/queues');
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } });
      expect((await who.get('/admin/queues/api/queues')).status).toBe(403);
    }
    expect((await anon.get('/admin/queues', { authorization: basic(stack.tenants.b.key) })).status).toBe(403);
    const denied = await anon.get('/admin/queues');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Basic /);
    // its JSON API is behind the same check
    expect((await anon.get('/admin/queues/api/queues')).status).toBe(401);
    const queues = await admin.get('/admin/queues/api/queues');
    expect(queues.status).toBe(200);
    expect(queues.body.queues.map((q: { name: string }) => q.name).sort()).toEqual(['batches', 'conversions', 'studio', 'webhooks']);
    expect(queues.body.queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);
  });

  it('keeps only the health probes and the OpenAPI document public; /metrics needs an admin key', async () => {
    for (const path of ['/health/live', '/health/ready', '/docs', '/docs-json']) {
      expect([path, (await anon.get(path)).status]).toEqual([path, 200]);
    }
    expect((await anon.get('/metrics')).status).toBe(401);
    expect((await a.get('/metrics')).status).toBe(403);
    expect((await admin.get('/metrics')).status).toBe(200);
    // an admin key has no tenant: it is not a /v1 key
    expect((await admin.get('/v1/conversions/cnv_x')).status).toBe(403);
  });
});

describe('POST /v1/conversions validation', () => {
  const cases: Array<[string, (v: ReturnType<typeof validBody>) => unknown, string]> = [
    ['no output', (v) => ({ source: v.source }), 'output'],
    ['no source', (v) => ({ output: v.output }), 'source'],
    ['a bucket name S3 refuses', (v) => ({ ...v, source: { bucket: 'No_Such', key: 'a.mp4' } }), 'source.bucket'],
    ['an empty key', (v) => ({ ...v, source: { bucket: v.source.bucket, key: '' } }), 'source.key'],
    ['a non-http URL source', (v) => ({ ...v, source: { url: 'ftp://example.com/a.mp4' } }), 'source.url'],
    ['duration above 5', (v) => ({ ...v, options: { duration: 6 } }), 'options.duration'],
    ['duration below 1', (v) => ({ ...v, options: { duration: 0.5 } }), 'options.duration'],
    ['a negative start', (v) => ({ ...v, options: { start: -1 } }), 'options.start'],
    ['keyFrame neither a number nor "auto"', (v) => ({ ...v, options: { keyFrame: 'middle' } }), 'options.keyFrame'],
    ['a still format other than jpeg/heic', (v) => ({ ...v, options: { still: 'png' } }), 'options.still'],
    ['motionPhoto not a boolean', (v) => ({ ...v, options: { motionPhoto: 'yes' } }), 'options.motionPhoto'],
    ['a misspelt option', (v) => ({ ...v, options: { keyframe: 1 } }), 'options'],
    ['an unknown top-level field', (v) => ({ ...v, priority: 1 }), ''],
    ['a webhook that is not a URL', (v) => ({ ...v, webhook: { url: 'not a url' } }), 'webhook.url'],
  ];

  it.each(cases)('refuses %s with 400 INVALID_REQUEST naming the field, and enqueues nothing', async (_, make, path) => {
    const before = await conversions.getWaitingCount();
    const res = await a.post('/v1/conversions', make(validBody()));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', message: expect.any(String) });
    expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    expect(await conversions.getWaitingCount()).toBe(before);
  });

  it('refuses a body that is not JSON, or not an object', async () => {
    for (const body of ['{not json', '[1,2]', '"text"']) {
      const res = await a.post('/v1/conversions', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
    }
  });

  it('accepts every documented option', async () => {
    for (const options of [
      { start: 0, duration: 1, keyFrame: 'auto', still: 'jpeg', motionPhoto: false },
      { start: 0.5, duration: 5, keyFrame: 2.25, still: 'heic', motionPhoto: true },
    ]) {
      const res = await a.post('/v1/conversions', { ...validBody(), options, webhook: { url: 'http://127.0.0.1:9/hook' } });
      expect(res.status).toBe(202);
      const job = await conversions.getJob(res.body.id);
      expect(job?.data.options).toEqual(options);
      expect(job?.data.webhook).toEqual({ url: 'http://127.0.0.1:9/hook' });
    }
  });
});

describe('a queued conversion', () => {
  it('answers 202 { id, status: "queued" }, stores the record and enqueues one job under the same id', async () => {
    const body = { ...validBody(), options: { duration: 2 } };
    const res = await a.post('/v1/conversions', body);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.stringMatching(/^cnv_[a-z2-7]{26}$/), status: 'queued' });
    const id: string = res.body.id;

    const job = await conversions.getJob(id);
    expect(job).toBeDefined();
    expect(await job!.getState()).toBe('waiting');
    expect(job!.data).toEqual({ conversionId: id, tenant: 'tenant-a', source: body.source, output: body.output, options: { duration: 2 } });
    expect(job!.opts.attempts).toBeGreaterThan(1);

    const record = JSON.parse((await stack.redis.get(redisKeys.conversion(stack.prefix, id)))!);
    expect(record).toMatchObject({ id, tenant: 'tenant-a', status: 'queued', progress: { stage: 'queued', percent: 0 }, request: body });

    const got = await a.get(`/v1/conversions/${id}`);
    expect(got.status).toBe(200);
    // Exactly the contract's fields: nothing internal (tenant, request) leaks out.
    expect(got.body).toEqual({
      id,
      status: 'queued',
      progress: { stage: 'queued', percent: 0 },
      createdAt: record.createdAt,
      finishedAt: null,
    });
    expect(Date.parse(got.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('answers 404 for an id that does not exist or is not shaped like one', async () => {
    for (const id of ['cnv_doesnotexist', 'x'.repeat(200), 'a:b']) {
      const res = await a.get(`/v1/conversions/${encodeURIComponent(id)}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
  });
});

describe('Idempotency-Key', () => {
  it('gives the same conversion for the same key and tenant, and enqueues it once', async () => {
    const before = await conversions.getWaitingCount();
    const headers = { 'idempotency-key': 'order-42/photo-7' };
    const first = await a.post('/v1/conversions', validBody(), headers);
    const second = await a.post('/v1/conversions', validBody(), headers);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(await conversions.getWaitingCount()).toBe(before + 1);
  });

  it('holds under concurrent requests: ten at once, one conversion, one job', async () => {
    const before = await conversions.getWaitingCount();
    const headers = { 'idempotency-key': `burst-${Date.now()}` };
    const replies = await Promise.all(Array.from({ length: 10 }, () => a.post('/v1/conversions', validBody(), headers)));
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(202));
    const ids = new Set(replies.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await conversions.getWaitingCount()).toBe(before + 1);
    const [id] = [...ids];
    expect((await a.get(`/v1/conversions/${id}`)).status).toBe(200);
  });

  it('is scoped to the tenant, and absent means a new conversion each time', async () => {
    const headers = { 'idempotency-key': 'shared-key' };
    const ofA = await a.post('/v1/conversions', validBody(), headers);
    const ofB = await b.post('/v1/conversions', validBody(), headers);
    expect(ofB.body.id).not.toBe(ofA.body.id);
    expect((await b.get(`/v1/conversions/${ofB.body.id}`)).status).toBe(200);
    const x = await a.post('/v1/conversions', validBody());
    const y = await a.post('/v1/conversions', validBody());
    expect(x.body.id).not.toBe(y.body.id);
  });

  it('applies to batches too, in a key space of their own', async () => {
    const headers = { 'idempotency-key': 'nightly-2024' };
    const body = { source: { bucket: stack.buckets.input, prefix: 'nightly/' }, output: validBody().output };
    const first = await a.post('/v1/batches', body, headers);
    const again = await a.post('/v1/batches', body, headers);
    expect(first.status).toBe(202);
    expect(again.body).toEqual(first.body);
    const sameKeyConversion = await a.post('/v1/conversions', validBody(), headers);
    expect(sameKeyConversion.body.id).toMatch(/^cnv_/);
    const expands = (await batches.getJobs(['waiting'])).filter((j) => j.data.batchId === first.body.id);
    expect(expands).toHaveLength(1);
  });

  it('keeps records for RECORD_TTL_SECONDS (30 days by default), not forever', async () => {
    const created = await a.post('/v1/conversions', validBody());
    const ttl = await stack.redis.ttl(`${stack.prefix}:conversion:${created.body.id}`);
    expect(ttl).toBeGreaterThan(30 * 24 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(30 * 24 * 3600);
  });

  it('answers 409 when a key is reused with a different body (it would silently get the other job)', async () => {
    const headers = { 'idempotency-key': `changed-${Date.now()}` };
    const first = await a.post('/v1/conversions', validBody(), headers);
    expect(first.status).toBe(202);
    const changed = { ...validBody(), options: { duration: 2 } };
    const reused = await a.post('/v1/conversions', changed, headers);
    expect(reused.status).toBe(409);
    expect(reused.body.error).toMatchObject({ code: 'CONFLICT', details: { existingId: first.body.id } });
    // the original request may still be retried
    expect((await a.post('/v1/conversions', validBody(), headers)).body).toEqual(first.body);
  });

  it('refuses a malformed key', async () => {
    const res = await a.post('/v1/conversions', validBody(), { 'idempotency-key': 'k'.repeat(256) });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_REQUEST');
  });
});

describe('tenant isolation', () => {
  it("hides one tenant's conversion from another (404, same as a missing id) and lets them not cancel it", async () => {
    const { body } = await a.post('/v1/conversions', validBody());
    const missing = await b.get('/v1/conversions/cnv_doesnotexist');
    const foreign = await b.get(`/v1/conversions/${body.id}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual(missing.body);
    expect((await b.del(`/v1/conversions/${body.id}`)).status).toBe(404);
    expect((await a.get(`/v1/conversions/${body.id}`)).body.status).toBe('queued');
  });

  it("hides one tenant's batch from another", async () => {
    const created = await a.post('/v1/batches', { source: { bucket: stack.buckets.input, prefix: 'none/' }, output: validBody().output });
    expect(created.status).toBe(202);
    expect((await b.get(`/v1/batches/${created.body.id}`)).status).toBe(404);
    expect((await a.get(`/v1/batches/${created.body.id}`)).status).toBe(200);
  });

  it('answers 404 to a replay of an unknown delivery', async () => {
    const res = await a.post('/v1/webhooks/deliveries/msg_unknown/replay');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});

describe('DELETE /v1/conversions/:id of a queued conversion', () => {
  it('marks it canceled at once, broadcasts the id to workers, and refuses a second cancel with 409', async () => {
    const { body } = await a.post('/v1/conversions', validBody());
    const sub = new Redis(stack.redisUrl);
    const heard: string[] = [];
    await sub.subscribe(redisKeys.cancelChannel(stack.prefix));
    sub.on('message', (_channel, message: string) => heard.push(message));
    try {
      const res = await a.del(`/v1/conversions/${body.id}`);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ id: body.id, status: 'canceled', error: { code: 'CANCELED' } });
      expect(Date.parse(res.body.finishedAt)).toBeGreaterThan(0);
      expect((await a.get(`/v1/conversions/${body.id}`)).body.status).toBe('canceled');
      await waitFor('the cancel broadcast', () => heard.includes(body.id), { timeoutMs: 5_000 });

      const again = await a.del(`/v1/conversions/${body.id}`);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('CONFLICT');
    } finally {
      sub.disconnect();
    }
  });
});

describe('batches', () => {
  it('turns a list of items into a BullMQ flow: a parent in the batches queue waiting on one child per item', async () => {
    const items = ['a.mp4', 'b.mp4', 'c.mp4'].map((key) => ({ bucket: stack.buckets.input, key }));
    const res = await a.post('/v1/batches', { source: { items }, output: validBody().output, options: { duration: 2 } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.stringMatching(/^bat_/), total: 3 });
    const id: string = res.body.id;

    const view = await a.get(`/v1/batches/${id}`);
    expect(view.body).toEqual({
      id,
      status: 'queued',
      total: 3,
      counts: { queued: 3, active: 0, completed: 0, failed: 0, canceled: 0 },
      createdAt: expect.any(String),
      finishedAt: null,
    });

    const parent = await batches.getJob(id);
    expect(await parent!.getState()).toBe('waiting-children');
    const childKeys = (await parent!.getDependencies()).unprocessed ?? [];
    expect(childKeys).toHaveLength(3);
    const children = await Promise.all(
      childKeys.map((k) => conversions.getJob(k.split(':').pop()!)),
    );
    expect(children.map((c) => c!.data.source.key).sort()).toEqual(['a.mp4', 'b.mp4', 'c.mp4']);
    for (const c of children) {
      expect(c!.data).toMatchObject({ batchId: id, tenant: 'tenant-a', options: { duration: 2 } });
      // each child is a conversion of its own, visible to its tenant
      const own = await a.get(`/v1/conversions/${c!.id}`);
      expect(own.body.status).toBe('queued');
    }
  });

  it('enqueues one expansion job for a prefix; the total is unknown until it is listed', async () => {
    const res = await a.post('/v1/batches', {
      source: { bucket: stack.buckets.input, prefix: 'library/2024/' },
      output: validBody().output,
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.stringMatching(/^bat_/) });
    const view = await a.get(`/v1/batches/${res.body.id}`);
    expect(view.body).toMatchObject({ status: 'queued', total: null, counts: { queued: 0, active: 0, completed: 0, failed: 0, canceled: 0 } });
    const jobs = await batches.getJobs(['waiting']);
    const expand = jobs.find((j) => j.data.batchId === res.body.id);
    expect(expand?.data).toMatchObject({ tenant: 'tenant-a', source: { bucket: stack.buckets.input, prefix: 'library/2024/' } });
  });

  it('validates the batch body', async () => {
    const output = validBody().output;
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ bucket: stack.buckets.input, key: `${i}.mp4` }));
    for (const body of [
      { source: { items: [] }, output },
      { source: { items: tooMany }, output },
      { source: { bucket: stack.buckets.input }, output },
      { source: { bucket: stack.buckets.input, prefix: 'p/' } },
    ]) {
      const res = await a.post('/v1/batches', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
    }
  });
});

describe('private targets', () => {
  let strict: ApiProcess;
  beforeAll(async () => {
    strict = await startApi(stack, { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false', SOURCE_ALLOW_PRIVATE_TARGETS: 'false' });
  });

  it.each([
    ['webhook.url', { webhook: { url: 'http://127.0.0.1:8080/hook' } }, 'WEBHOOK_TARGET_FORBIDDEN'],
    ['webhook.url', { webhook: { url: 'http://[::1]/hook' } }, 'WEBHOOK_TARGET_FORBIDDEN'],
    ['webhook.url', { webhook: { url: 'http://10.1.2.3/hook' } }, 'WEBHOOK_TARGET_FORBIDDEN'],
    ['source.url', { source: { url: 'http://169.254.169.254/latest/meta-data' } }, 'SOURCE_URL_FORBIDDEN'],
    ['source.url', { source: { url: 'http://192.168.1.10/video.mp4' } }, 'SOURCE_URL_FORBIDDEN'],
  ])('refuses a %s in a private range unless SOURCE_/WEBHOOK_ALLOW_PRIVATE_TARGETS', async (path, patch, code) => {
    const body = { ...validBody(), ...patch };
    const res = await apiClient(strict.url, stack.tenants.a).post('/v1/conversions', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', details: [expect.objectContaining({ path, code })] });
    // the permissive api (the tests' default) takes the same body
    expect((await a.post('/v1/conversions', body)).status).toBe(202);
  });

  it('refuses a private webhook on a batch too', async () => {
    const res = await apiClient(strict.url, stack.tenants.a).post('/v1/batches', {
      source: { bucket: stack.buckets.input, prefix: 'p/' },
      output: validBody().output,
      webhook: { url: 'http://127.0.0.1/hook' },
    });
    expect(res.status).toBe(400);
  });
});

describe('health, metrics, OpenAPI', () => {
  it('is ready when Redis, S3 and ffmpeg are, with per-check detail', async () => {
    const res = await anon.get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: 'ok',
      checks: {
        redis: expect.objectContaining({ ok: true }),
        s3: expect.objectContaining({ ok: true }),
        ffmpeg: expect.objectContaining({ ok: true, detail: expect.stringContaining('ffmpeg') }),
      },
    });
    expect((await anon.get('/health/live')).body).toEqual({ status: 'ok' });
  });

  it('answers 503 naming the failed check when S3 is unreachable', async () => {
    const broken = await startApi(stack, { S3_ENDPOINT: 'http://127.0.0.1:1' });
    const res = await apiClient(broken.url).get('/health/ready');
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('unavailable');
    expect(res.body.checks.s3.ok).toBe(false);
    expect(res.body.checks.redis.ok).toBe(true);
    await broken.stop();
  });

  it('exports the queue depth by state, read at scrape time', async () => {
    const waiting = await conversions.getWaitingCount();
    const text = String((await admin.get('/metrics')).body);
    expect(text).toContain(`vid2live_queue_jobs{queue="conversions",state="waiting"} ${waiting}`);
    expect(text).toMatch(/vid2live_queue_jobs\{queue="batches",state="waiting-children"\} [1-9]/);
    expect(text).toContain('vid2live_queue_jobs{queue="conversions",state="prioritized"}');
    // the shared metrics are served from the same registry
    for (const name of ['vid2live_stage_duration_seconds', 'vid2live_conversions_total', 'vid2live_webhook_deliveries_total']) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  it("adds the workers' relayed metrics to its own, summed per label set", async () => {
    const relays = [2, 3].map((n, i) => {
      // What a worker process holds: its own registry with the shared metric names.
      const registry = new Registry();
      const completed = new Counter({ name: 'vid2live_conversions_total', help: 'x', labelNames: ['result', 'code'], registers: [registry] });
      completed.inc({ result: 'completed', code: '' }, n);
      return startMetricsRelay(stack.redis, stack.prefix, `worker-${i}`, { registry, intervalMs: 60_000 });
    });
    try {
      await waitFor('both relays published', async () => (await stack.redis.keys(`${stack.prefix}:metrics:*`)).length === 2);
      const text = String((await admin.get('/metrics')).body);
      expect(text).toContain('vid2live_conversions_total{result="completed",code=""} 5');
      expect(text).toContain('vid2live_queue_jobs{queue="conversions",state="waiting"}');
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
  });

  it('serves an OpenAPI document whose request schemas are the validators', async () => {
    const doc = (await anon.get('/docs-json')).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/conversions', '/v1/conversions/{id}', '/v1/batches', '/v1/batches/{id}', '/v1/webhooks/deliveries/{id}/replay', '/health/ready']),
    );
    const schema = doc.paths['/v1/conversions'].post.requestBody.content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(['source', 'output', 'options', 'webhook']);
    expect(schema.required).toEqual(['source', 'output']);
    expect(String((await anon.get('/docs')).body)).toContain('swagger');
  });

  it('declares the 403 and 503 answers: every /v1 operation, storage scope on submits, Retry-After, readiness', async () => {
    const doc = (await anon.get('/docs-json')).body;
    type Resp = { description: string; headers?: Record<string, unknown>; content?: Record<string, { schema: { properties?: object } }> };
    const v1 = Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, Resp> }>>)
      .filter(([p]) => p.startsWith('/v1/'))
      .flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ op: `${method.toUpperCase()} ${p}`, responses: op.responses })));
    expect(v1.map((o) => o.op).sort()).toEqual([
      'DELETE /v1/conversions/{id}',
      'GET /v1/batches/{id}',
      'GET /v1/conversions/{id}',
      'POST /v1/batches',
      'POST /v1/conversions',
      'POST /v1/webhooks/deliveries/{id}/replay',
    ]);
    for (const { op, responses } of v1) {
      // [op, …] so a failure names the operation
      expect([op, Object.keys(responses)]).toEqual([op, expect.arrayContaining(['401', '403', '503'])]);
      expect([op, responses['403'].description]).toEqual([op, expect.stringContaining('FORBIDDEN')]);
      expect([op, responses['503'].description]).toEqual([op, expect.stringContaining('QUEUE_UNAVAILABLE')]);
      expect([op, Object.keys(responses['503'].headers ?? {})]).toEqual([op, ['Retry-After']]);
      expect([op, Object.keys(responses['503'].content!['application/json'].schema.properties!)]).toEqual([op, ['error']]);
      // Only a submit names storage scopes; the reads and the replay cannot answer STORAGE_SCOPE_DENIED.
      expect([op, responses['403'].description.includes('STORAGE_SCOPE_DENIED')]).toEqual([op, op.startsWith('POST /v1/conversions') || op.startsWith('POST /v1/batches')]);
    }
    expect(Object.keys(doc.paths['/health/ready'].get.responses).sort()).toEqual(['200', '503']);
  });

  it('answers what the OpenAPI document declares: 403 FORBIDDEN for an admin key, 403 STORAGE_SCOPE_DENIED out of scope', async () => {
    const asAdmin = await admin.get('/v1/batches/bat_x');
    expect([asAdmin.status, asAdmin.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const res = await a.post('/v1/batches', {
      source: { bucket: 'not-a-bucket-of-tenant-a', prefix: 'x/' },
      output: { bucket: stack.buckets.output, prefix: 'out/' },
    });
    expect([res.status, res.body.error.code]).toEqual([403, 'STORAGE_SCOPE_DENIED']);
  });
});

describe('start-up and secrets', () => {
  it.each([
    ['API_KEYS', { API_KEYS: 'tooshort:tenant' }],
    ['API_KEYS', { API_KEYS: '' }],
    ['WEBHOOK_SECRET', { WEBHOOK_SECRET: 'not-a-secret-value' }],
    ['PORT', { PORT: 'eighty' }],
    ['REDIS_URL', { REDIS_URL: 'nowhere' }],
  ])('refuses to start on a bad %s, naming it without echoing the value', async (variable, bad) => {
    const env = { ...stack.env(), ...bad };
    const { code, output } = await runToExit('api', env);
    expect(code).not.toBe(0);
    expect(output).toContain(variable);
    for (const v of Object.values(bad)) if (v) expect(output).not.toContain(v);
  });

  it('never logs API keys, the S3 secret or the webhook secret', async () => {
    await a.get('/v1/conversions/cnv_doesnotexist');
    const logs = api.logs();
    expect(logs).toContain('listening');
    for (const secret of [stack.tenants.a.key, stack.tenants.b.key, stack.admin.key, stack.s3.secretAccessKey, stack.webhookSecret]) {
      expect(logs).not.toContain(secret);
    }
  });
});
