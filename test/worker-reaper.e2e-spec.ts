import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSource } from '@vid2live/media/test-media';
import { startS3rver, type RunningS3rver } from '@vid2live/storage/testing/s3rver';
import {
  Producer,
  REDIS_URL,
  TEST_TENANT_STORAGE,
  WEBHOOK_SECRET,
  processesMentioning,
  startSlowFileServer,
  uniquePrefix,
} from './worker-support';

const WORKER_MAIN = path.join(__dirname, '..', 'dist', 'apps', 'worker', 'src', 'main.js');

function spawnWorker(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<unknown> } {
  let out = '';
  const child = spawn(process.execPath, [WORKER_MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  return { child, output: () => out, exited: new Promise((r) => child.once('exit', r)) };
}

function deadOrZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return /^Z/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

/**
 * A worker SIGKILLed on a bare host leaves its temp dir and its ffmpeg (re-parented, still running). The next
 * worker started on the host reaps both before it takes jobs.
 */
describe('worker start reaps what a SIGKILLed predecessor left', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-reaper-e2e-'));
  const workerTmp = path.join(tmp, 'worker-tmp');
  let s3: RunningS3rver;
  let producer: Producer;
  let env: Record<string, string>;

  beforeAll(async () => {
    fs.mkdirSync(workerTmp);
    s3 = await startS3rver(['in', 'out']);
    const prefix = uniquePrefix();
    producer = new Producer(prefix);
    env = {
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      WEBHOOK_SECRET,
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      SOURCE_ALLOW_PRIVATE_TARGETS: 'true',
      SOURCE_DOWNLOAD_MAX_BYTES: '0',
      LOG_LEVEL: 'info',
      TENANT_STORAGE: TEST_TENANT_STORAGE,
      // this worker's $TMPDIR: only its dirs are looked at here
      TMPDIR: workerTmp,
      ...s3.env,
    };
  });

  afterAll(async () => {
    await producer?.cleanup();
    await s3?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('removes the dead worker\'s temp dir and kills its orphaned ffmpeg', async () => {
    const video = makeSource('no-audio', path.join(tmp, 'src'));
    const src = await startSlowFileServer(video, 2 * 1024);
    const a = spawnWorker(env);
    let b: ReturnType<typeof spawnWorker> | undefined;
    try {
      await producer.waitFor('worker A up', async () => a.output().includes('processing conversions'), 30_000);
      const id = await producer.submit({ source: { url: src.url }, output: { bucket: 'out', prefix: 'r/' } });
      const dirOf = () => fs.readdirSync(workerTmp).find((n) => n.startsWith(`vid2live-${id}.p${a.child.pid}-`));
      const dir = await producer.waitFor('worker A\'s temp dir', async () => dirOf(), 60_000);
      const full = path.join(workerTmp, dir);
      const inDir = () => processesMentioning(full).filter((l) => /ff(mpeg|probe)/.test(l.split(' ')[1] ?? ''));
      await producer.waitFor('ffmpeg writing into it', async () => inDir().length > 0, 60_000);

      a.child.kill('SIGKILL');
      await a.exited;
      // still there after the worker died
      expect(fs.existsSync(full)).toBe(true);
      // Its ffmpeg is re-parented and usually still running; it may also notice the dead proxy's socket and quit on
      // its own (a race this test cannot pin: temp-dirs.spec.ts kills a planted orphan deterministically).
      const orphans = inDir().map((l) => Number(l.split(' ')[0]));

      b = spawnWorker(env);
      await producer.waitFor('worker B up', async () => b!.output().includes('processing conversions'), 30_000);
      expect(fs.existsSync(full)).toBe(false);
      expect(inDir()).toEqual([]);
      // dead: gone, or a zombie until whatever adopted it (init, a container's pid 1) collects it
      for (const pid of orphans) expect(deadOrZombie(pid)).toBe(true);
      expect(b.output()).toMatch(/reaped 1 temp dir\(s\) and \d+ orphaned ffmpeg\/ffprobe process/);
    } finally {
      a.child.kill('SIGKILL');
      b?.child.kill('SIGKILL');
      await b?.exited;
      await src.close();
    }
  });
});
