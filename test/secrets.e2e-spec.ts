import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { redisKeys } from '@vid2live/jobs';
import type { ConversionRecord } from '@vid2live/jobs/records';
import { makeBadInput, makeCachedVideo } from '@vid2live/media/test-media';
import { apiClient, type ApiClient } from './support/http';
import { runToExit, startApi, startWorker, stopAll, type ApiProcess, type AppProcess } from './support/processes';
import { E2E_MEDIA, freePort, startStack, type Stack } from './support/stack';
import { waitFor } from './support/wait';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * Issue 9, item 5: after a run with a retried conversion, a final failure, a retried webhook and processes started
 * with a wrong Redis password, no Redis value (every key, every type) and no log line of the api or the worker
 * contains an API key, the admin key, the webhook secret, the S3 secret, the Redis password or a presigned
 * signature. The stack's Redis is a private redis-server with `requirepass`.
 */
let stack: Stack;
let api: ApiProcess;
let worker: AppProcess;
let a: ApiClient;
let receiver: WebhookReceiver;
let proxy: FlakyS3;
const wrongRuns: string[] = [];

/** In front of the S3 server: answers 503 SlowDown to GETs of `*flaky*` objects while `failing` is on. */
interface FlakyS3 {
  endpoint: string;
  failing: boolean;
  refused: number;
  close(): Promise<void>;
}

async function startFlakyS3(upstream: string): Promise<FlakyS3> {
  const target = new URL(upstream);
  const state = { failing: true, refused: 0 };
  const server = http.createServer((req, res) => {
    if (state.failing && req.method === 'GET' && /flaky/.test(req.url ?? '')) {
      state.refused++;
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      return;
    }
    // The Host header is passed on unchanged: the client signed for this proxy's host.
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as FlakyS3;
}

beforeAll(async () => {
  stack = await startStack('secrets', { redisPassword: true });
  expect(stack.redisPassword).toBeTruthy();
  receiver = await WebhookReceiver.start(stack.webhookSecret);
  proxy = await startFlakyS3(stack.s3.endpoint);
  await stack.storage.putObjectFromFile(stack.buckets.input, 'in/flaky.mp4', makeCachedVideo(E2E_MEDIA, { seconds: 2 }));
  await stack.storage.putObjectFromFile(stack.buckets.input, 'in/notes.mp4', makeBadInput('text', E2E_MEDIA));
  [api, worker] = await Promise.all([
    startApi(stack),
    startWorker(stack, { S3_ENDPOINT: proxy.endpoint, WEBHOOK_BACKOFF_MS: '300', WEBHOOK_BACKOFF_MAX_MS: '1000' }),
  ]);
  a = apiClient(api.url, stack.tenants.a);
});

afterAll(async () => {
  await stopAll();
  await proxy?.close();
  await receiver?.close();
  await stack?.stop();
});

async function record(id: string): Promise<ConversionRecord | undefined> {
  const raw = await stack.redis.get(redisKeys.conversion(stack.prefix, id));
  return raw ? (JSON.parse(raw) as ConversionRecord) : undefined;
}

/** Every value in the (private) Redis as text: strings, hashes, lists, sets, sorted sets, streams. */
async function dumpRedis(): Promise<{ keys: number; text: string }> {
  const parts: string[] = [];
  let cursor = '0';
  let keys = 0;
  let rounds = 0;
  do {
    const [next, batch] = await stack.redis.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const key of batch) {
      keys++;
      const type = await stack.redis.type(key);
      parts.push(key);
      if (type === 'string') parts.push((await stack.redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await stack.redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await stack.redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await stack.redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await stack.redis.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await stack.redis.xrange(key, '-', '+')));
      else parts.push(`<${type}>`);
    }
  } while (cursor !== '0' && ++rounds < 10_000);
  return { keys, text: parts.join('\n') };
}

it('stores and logs no key, secret, password or signature after retries and failures', async () => {
  receiver.failNext(1, 500); // the first webhook is answered 500: a retried delivery
  const webhook = { url: receiver.url() };
  const output = { bucket: stack.buckets.output, prefix: 'live/' };
  const flaky = await a.post('/v1/conversions', { source: { bucket: stack.buckets.input, key: 'in/flaky.mp4' }, output, webhook });
  const bad = await a.post('/v1/conversions', { source: { bucket: stack.buckets.input, key: 'in/notes.mp4' }, output, webhook });
  expect([flaky.status, bad.status]).toEqual([202, 202]);

  // The first attempt fails on S3 503s (retryable); once that is on record, S3 recovers and the retry completes.
  const retried = await waitFor('the first attempt to fail', async () => (await record(flaky.body.id))?.['lastError' as never], {
    timeoutMs: 90_000,
    intervalMs: 200,
  });
  expect(retried).toMatchObject({ code: expect.any(String) });
  proxy.failing = false;
  const done = await waitFor('the retried conversion to complete', async () => {
    const r = await record(flaky.body.id);
    return r?.status === 'completed' || r?.status === 'failed' ? r : undefined;
  }, { timeoutMs: 180_000, intervalMs: 250 });
  expect(done.status).toBe('completed');
  expect(proxy.refused).toBeGreaterThan(0);
  const failed = await waitFor('the bad input to fail', async () => {
    const r = await record(bad.body.id);
    return r?.status === 'failed' ? r : undefined;
  }, { timeoutMs: 120_000, intervalMs: 250 });
  expect(failed.error?.code).toBe('INPUT_NOT_MEDIA');
  await receiver.waitForAccepted('completed', (r) => r.body?.data.id === flaky.body.id, 60_000);
  await receiver.waitForAccepted('failed', (r) => r.body?.data.id === bad.body.id, 60_000);
  expect(receiver.received.some((r) => r.status === 500)).toBe(true);

  // What a client reads does carry presigned URLs (answers are not stored)…
  const view = await a.get(`/v1/conversions/${flaky.body.id}`);
  expect(view.body.result.still.url).toContain('X-Amz-Signature');
  // …and so does the webhook, presigned at send time.
  const hook = receiver.accepted().find((r) => r.body?.data.id === flaky.body.id)!;
  expect((hook.body!.data as { result: { video: { url: string } } }).result.video.url).toContain('X-Amz-Signature');

  // An api and a worker started with a wrong Redis password: ioredis' error dump would print it.
  const wrongUrl = stack.redisUrl.replace(`:${stack.redisPassword}@`, ':wrong-redis-password-0123456789@');
  expect(wrongUrl).not.toBe(stack.redisUrl);
  for (const role of ['api', 'worker'] as const) {
    const { output: out } = await runToExit(role, { ...stack.env(), REDIS_URL: wrongUrl, PORT: String(await freePort()) }, 6_000);
    expect(out).toMatch(/WRONGPASS|NOAUTH/);
    wrongRuns.push(out);
  }

  const needles: Record<string, string> = {
    'tenant a key': stack.tenants.a.key,
    'tenant b key': stack.tenants.b.key,
    'admin key': stack.admin.key,
    'webhook secret': stack.webhookSecret,
    'webhook secret (base64 part)': stack.webhookSecret.slice('whsec_'.length),
    'S3 secret': stack.s3.secretAccessKey,
    'Redis password': stack.redisPassword!,
    'wrong Redis password': 'wrong-redis-password-0123456789',
    'presigned signature': 'X-Amz-Signature',
    'presigned credential': 'X-Amz-Credential',
  };
  const redis = await dumpRedis();
  expect(redis.keys).toBeGreaterThan(10);
  // sanity: the dump does contain this run's data
  expect(redis.text).toContain(flaky.body.id);
  const logs = { api: api.logs(), worker: worker.logs(), 'wrong-password runs': wrongRuns.join('\n') };
  expect(logs.worker).toContain(flaky.body.id);
  const found: string[] = [];
  for (const [what, needle] of Object.entries(needles)) {
    if (redis.text.includes(needle)) found.push(`${what} in Redis`);
    for (const [name, text] of Object.entries(logs)) if (text.includes(needle)) found.push(`${what} in the ${name} log`);
  }
  expect(found).toEqual([]);
});
