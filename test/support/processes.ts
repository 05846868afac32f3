import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { QUEUES } from '@vid2live/jobs';
import { E2E_TMP, freePort, type Stack } from './stack';
import { waitFor } from './wait';

const ROOT = path.join(__dirname, '..', '..');
const ENTRY = {
  api: path.join(ROOT, 'dist', 'apps', 'api', 'src', 'main.js'),
  worker: path.join(ROOT, 'dist', 'apps', 'worker', 'src', 'main.js'),
};

let counter = 0;

/**
 * A built app running as a real child process, exactly as `npm run start:api|start:worker` runs it. Output goes
 * to .tmp/e2e/<name>.log (and is kept in memory) so a failing test can show what the process said.
 */
export class AppProcess {
  private readonly chunks: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly logFile: string;

  constructor(
    readonly role: 'api' | 'worker',
    readonly child: ChildProcess,
    name: string,
  ) {
    this.logFile = path.join(E2E_TMP, `${name}.log`);
    const file = fs.createWriteStream(this.logFile);
    const onData = (b: Buffer) => {
      this.chunks.push(b.toString('utf8'));
      file.write(b);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        file.end();
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  logs(): string {
    return this.chunks.join('');
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM (graceful drain), then SIGKILL if the process outlives the deadline. */
  async stop(deadlineMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), deadlineMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export class ApiProcess extends AppProcess {
  constructor(
    child: ChildProcess,
    name: string,
    readonly url: string,
  ) {
    super('api', child, name);
  }
}

const running = new Set<AppProcess>();

function passThrough(): Record<string, string> {
  const names = ['PATH', 'HOME', 'TMPDIR', 'FFMPEG_PATH', 'FFPROBE_PATH'];
  return Object.fromEntries(names.filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]!]));
}

function spawnApp(role: 'api' | 'worker', env: Record<string, string>, label: string): { child: ChildProcess; name: string } {
  const name = `${env.QUEUE_PREFIX ?? 'app'}-${role}-${label}-${++counter}`;
  const child = spawn(process.execPath, [ENTRY[role]], {
    cwd: ROOT,
    // Only what the app needs plus where ffmpeg is: no accidental configuration leaking in from the shell.
    env: { ...passThrough(), NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, name };
}

/** Starts the api and waits until /health/live answers (or the process dies, with its output in the error). */
export async function startApi(stack: Stack, extra: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort();
  const { child, name } = spawnApp('api', stack.env({ PORT: String(port), ...extra }), 'api');
  const app = new ApiProcess(child, name, `http://127.0.0.1:${port}`);
  running.add(app);
  await waitFor(
    `the api on :${port}`,
    async () => {
      if (!app.running) throw new Error(`the api exited:\n${app.logs()}`);
      const res = await fetch(`${app.url}/health/live`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 30_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- api output ---\n${app.logs()}`);
  });
  return app;
}

/** Starts a worker and waits until it has a BullMQ connection on the conversions queue. */
export async function startWorker(stack: Stack, extra: Record<string, string> = {}): Promise<AppProcess> {
  const queue = new Queue(QUEUES.conversions, { connection: { url: stack.redisUrl }, prefix: stack.prefix });
  try {
    const before = new Set((await queue.getWorkers()).map((w) => w.id));
    const { child, name } = spawnApp('worker', stack.env(extra), 'worker');
    const worker = new AppProcess('worker', child, name);
    running.add(worker);
    await waitFor(
      'the worker to connect to the conversions queue',
      async () => {
        if (!worker.running) throw new Error(`the worker exited:\n${worker.logs()}`);
        return (await queue.getWorkers()).some((w) => !before.has(w.id));
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- worker output ---\n${worker.logs()}`);
    });
    return worker;
  } finally {
    await queue.close();
  }
}

/** Runs an app to completion (for start-up refusal tests). */
export async function runToExit(
  role: 'api' | 'worker',
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; output: string }> {
  const { child, name } = spawnApp(role, env, 'once');
  const app = new AppProcess(role, child, name);
  const timer = setTimeout(() => app.kill('SIGKILL'), timeoutMs);
  const { code } = await app.exited;
  clearTimeout(timer);
  return { code, output: app.logs() };
}

/** For afterAll: every app this test file started, stopped. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
  running.clear();
}
