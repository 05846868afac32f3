import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSource } from '@vid2live/media/test-media';
import { S3Storage } from '@vid2live/storage';
import { startS3rver, type RunningS3rver } from '@vid2live/storage/testing/s3rver';
import {
  Producer,
  REDIS_URL,
  TEST_TENANT_STORAGE,
  WEBHOOK_SECRET,
  objectKeys,
  processesMentioning,
  startSlowFileServer,
  startWorker,
  uniquePrefix,
  workerConfig,
  type RunningWorker,
} from './worker-support';

const WORKER_MAIN = path.join(__dirname, '..', 'dist', 'apps', 'worker', 'src', 'main.js');

/** The built worker as `npm run start:worker` runs it, as a real process we can SIGKILL or SIGTERM. */
function spawnWorker(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let out = '';
  const child = spawn(process.execPath, [WORKER_MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

describe('worker processes: SIGKILL recovery and SIGTERM drain', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-worker-rec-'));
  let s3: RunningS3rver;
  let storage: S3Storage;
  let producer: Producer;
  let prefix: string;
  let video: string;
  let env: Record<string, string>;
  let inProcess: RunningWorker | undefined;

  beforeAll(async () => {
    s3 = await startS3rver(['in', 'out']);
    storage = new S3Storage(s3.config);
    prefix = uniquePrefix();
    producer = new Producer(prefix);
    video = makeSource('no-audio', path.join(tmp, 'src'));
    env = {
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      WEBHOOK_SECRET,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      SOURCE_ALLOW_PRIVATE_TARGETS: 'true',
      // A short lock so a killed worker's job is declared stalled within seconds.
      WORKER_LOCK_DURATION_MS: '3000',
      WORKER_STALLED_INTERVAL_MS: '2000',
      WORKER_SHUTDOWN_TIMEOUT_MS: '1000',
      // URL sources through the loopback range proxy, not downloaded first: ffmpeg itself reads the slow source
      SOURCE_DOWNLOAD_MAX_BYTES: '0',
      LOG_LEVEL: 'info',
      TENANT_STORAGE: TEST_TENANT_STORAGE,
      ...s3.env,
    };
  });

  afterAll(async () => {
    await inProcess?.stop();
    await producer?.cleanup();
    await storage?.close();
    await s3?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('finishes a job whose worker was SIGKILLed mid-render on a second worker, with one output pair', async () => {
    const src = await startSlowFileServer(video, 4 * 1024);
    const needle = new URL(src.url).pathname;
    const a = spawnWorker(env);
    try {
      await producer.waitFor('worker A up', async () => a.output().includes('processing conversions'), 30_000);
      const id = await producer.submit({ source: { url: src.url }, output: { bucket: 'out', prefix: 'k/' } });
      await producer.waitFor('ffmpeg under worker A', async () => processesMentioning(needle).some((l) => /ffmpeg/.test(l.split(' ')[1] ?? '')), 60_000);
      expect((await producer.record(id)).status).toBe('active');

      a.child.kill('SIGKILL');
      await a.exited;
      // A real host (or pod) dies with its children; here the orphaned ffmpeg is ended by hand.
      for (const line of processesMentioning(needle)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');

      src.setSpeed(1024 * 1024);
      const cfg = workerConfig(prefix, s3, { WORKER_LOCK_DURATION_MS: '3000', SOURCE_DOWNLOAD_MAX_BYTES: '0' });
      inProcess = await startWorker(cfg, { stalledIntervalMs: 1000 });
      const done = await producer.waitForStatus(id, ['completed', 'failed'], 120_000);
      expect(done.status).toBe('completed');
      // The record completes inside the job's run; BullMQ moves the job to `completed` when the run returns (after
      // the webhook emit), so its state follows shortly after the record's.
      await producer.waitFor('the job to be completed in BullMQ', async () => (await (await producer.conversions.getJob(id))!.getState()) === 'completed', 10_000);
      const job = (await producer.conversions.getJob(id))!;
      expect(job.stalledCounter).toBeGreaterThanOrEqual(1);
      const name = path.posix.basename(needle, '.mp4');
      expect(await objectKeys(storage, 'out', 'k/')).toEqual([`k/${name}.JPG`, `k/${name}.MOV`]);
    } finally {
      a.child.kill('SIGKILL');
      await src.close();
    }
  });

  it('drains on SIGTERM within the deadline, exits 0, and leaves the job for another worker', async () => {
    await inProcess?.stop();
    inProcess = undefined;
    const src = await startSlowFileServer(video, 4 * 1024);
    const needle = new URL(src.url).pathname;
    const a = spawnWorker(env);
    try {
      await producer.waitFor('worker A up', async () => a.output().includes('processing conversions'), 30_000);
      expect(a.output()).toMatch(/ffmpeg: \S+/); // the binary in use is logged at start
      // Secrets are redacted in the logged config.
      expect(a.output()).not.toContain(WEBHOOK_SECRET.slice('whsec_'.length));
      expect(a.output()).toMatch(/S3_SECRET_ACCESS_KEY\\?":\\?"\*\*\*/);
      const id = await producer.submit({ source: { url: src.url }, output: { bucket: 'out', prefix: 'm/' } });
      await producer.waitFor('ffmpeg under worker A', async () => processesMentioning(needle).some((l) => /ffmpeg/.test(l.split(' ')[1] ?? '')), 60_000);
      const t0 = Date.now();
      a.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(processesMentioning(needle)).toEqual([]); // ffmpeg did not outlive the worker
      expect(await objectKeys(storage, 'out', 'm/')).toEqual([]);
      const job = (await producer.conversions.getJob(id))!;
      expect(await job.getState()).toBe('delayed');
      expect((await producer.record(id)).status).toBe('queued');
    } finally {
      a.child.kill('SIGKILL');
      await src.close();
    }
  });
});
