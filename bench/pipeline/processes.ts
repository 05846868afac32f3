import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/**
 * The built api and worker as real child processes, the way `npm run start:api|start:worker` runs them (same
 * pattern as test/support/processes.ts, which is not part of the build). Output goes to a log file per process.
 */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
const ENTRY = {
  api: path.join(ROOT, 'dist', 'apps', 'api', 'src', 'main.js'),
  worker: path.join(ROOT, 'dist', 'apps', 'worker', 'src', 'main.js'),
};

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export class AppProcess {
  private out = '';
  readonly exited: Promise<void>;

  constructor(
    readonly role: 'api' | 'worker',
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    const file = fs.createWriteStream(logFile);
    const onData = (b: Buffer) => {
      // keep the tail only: enough to explain a failure
      this.out = (this.out + b.toString('utf8')).slice(-20_000);
      file.write(b);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        file.end();
        resolve();
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.out;
  }

  /** SIGTERM (the apps drain gracefully), SIGKILL after the deadline. */
  async stop(deadlineMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, deadlineMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export function spawnApp(role: 'api' | 'worker', env: Record<string, string>, logFile: string): AppProcess {
  if (!fs.existsSync(ENTRY[role])) throw new Error(`${ENTRY[role]} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, [ENTRY[role]], {
    cwd: ROOT,
    // Only what the app needs plus PATH (ffmpeg): no configuration leaking in from the shell.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.on('error', () => undefined);
  return new AppProcess(role, child, logFile);
}

export async function startApi(env: Record<string, string>, logFile: string): Promise<{ app: AppProcess; url: string }> {
  const port = await freePort();
  const app = spawnApp('api', { ...env, PORT: String(port) }, logFile);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `the api on :${port}`,
    async () => {
      if (!app.running) throw new Error(`the api exited:\n${app.output()}`);
      const res = await fetch(`${url}/health/live`).catch(() => undefined);
      return res?.status === 200;
    },
    30_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- api output ---\n${app.output()}`);
  });
  return { app, url };
}

/** Starts a worker and waits for its "processing conversions, …" line (its BullMQ workers are running). */
export async function startWorker(env: Record<string, string>, logFile: string): Promise<AppProcess> {
  const app = spawnApp('worker', env, logFile);
  await waitFor(
    'a worker to start processing',
    () => {
      if (!app.running) throw new Error(`a worker exited:\n${app.output()}`);
      return /processing [a-z, ]*conversions/.test(app.output());
    },
    30_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- worker output ---\n${app.output()}`);
  });
  return app;
}
