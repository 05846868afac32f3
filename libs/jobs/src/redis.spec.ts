import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { inspect } from 'node:util';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { createRedis, watchRedisErrors } from './redis';

/**
 * A real ioredis client against a password-protected redis-server started here (127.0.0.1, a free port): when the
 * server rejects the password, no log line and no later dump of the error object may contain it.
 */
const password = `pw_${randomBytes(12).toString('hex')}`;
const wrong = `wrong_${randomBytes(12).toString('hex')}`;
let server: ChildProcess;
let port: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  port = await freePort();
  // The password goes in through stdin (a config file read from `-`), not the process list.
  server = spawn('redis-server', ['-', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  server.stdin!.end(`requirepass ${password}\n`);
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error('redis-server did not start');
});

afterAll(async () => {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGKILL');
  await Promise.race([exited, sleep(2_000)]);
});

describe('Redis connections that never print a secret', () => {
  it('logs a rejected password as one scrubbed line, blanks the AUTH arguments and does not flood', async () => {
    const lines: string[] = [];
    const seen: unknown[] = [];
    const url = `redis://:${wrong}@127.0.0.1:${port}`;
    const client = createRedis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 }, (m) => lines.push(m), 'redis', ['some-api-key-0123456789']);
    // a listener added after ours sees the error already redacted (as BullMQ's forwarders and rejected commands do)
    client.on('error', (e) => seen.push(e));
    try {
      const deadline = Date.now() + 10_000;
      while (seen.length < 5 && Date.now() < deadline) await sleep(50);
      expect(seen.length).toBeGreaterThanOrEqual(5);
      await expect(client.get('k')).rejects.toThrow();
    } finally {
      client.disconnect();
    }
    expect(lines.length).toBeGreaterThanOrEqual(1);
    // the same error repeating within the window is one line, not one per reconnect
    expect(lines.length).toBeLessThan(seen.length);
    expect(lines[0]).toMatch(/^redis: ReplyError: WRONGPASS/);
    for (const e of seen) {
      const dump = inspect(e, { depth: 5 });
      expect(dump).not.toContain(wrong);
      expect(dump).toContain('[redacted]');
    }
    expect(lines.join('\n')).not.toContain(wrong);
  });

  it('keeps BullMQ from dumping the error object when its own connection is refused', async () => {
    const printed: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args.map((a) => inspect(a)).join(' ')));
    // A plain ioredis client handed to BullMQ (as the apps do), so the test can disconnect it itself.
    const clients: Redis[] = [];
    const open = (name: string, pass: string) => {
      const connection = new Redis({ host: '127.0.0.1', port, password: pass, maxRetriesPerRequest: null, retryStrategy: () => 100 });
      clients.push(connection);
      return new Queue(name, { connection });
    };
    const exercise = async (queue: Queue) => {
      void queue.getJobCounts().catch(() => undefined);
      await sleep(1_500);
      clients.pop()?.disconnect();
      await Promise.race([queue.close().catch(() => undefined), sleep(1_000)]);
    };
    try {
      // Control: without a listener BullMQ falls back to console.error(err), AUTH arguments and all.
      await exercise(open('bare', wrong));
      expect(printed.join('\n')).toContain(wrong);

      const lines: string[] = [];
      // (another wrong password, so a late line from the control cannot be mistaken for one from this queue)
      const wrong2 = `${wrong}_2`;
      const queue = open('watched', wrong2);
      watchRedisErrors(queue, (m) => lines.push(m), 'queue watched', [wrong2]);
      await exercise(queue);
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect([...lines, ...printed].join('\n')).not.toContain(wrong2);
    } finally {
      spy.mockRestore();
    }
  });

  it('works normally with the right password', async () => {
    const lines: string[] = [];
    const client = createRedis(`redis://:${password}@127.0.0.1:${port}`, { maxRetriesPerRequest: 1 }, (m) => lines.push(m));
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      await client.quit();
    }
    expect(lines).toEqual([]);
  });
});
