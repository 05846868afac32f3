import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runFfprobe } from './ffprobe';

describe('runFfprobe', () => {
  it('an ffprobe killed by a signal is a retryable FFMPEG_FAILED, not an unreadable file', async () => {
    // A loopback server that never answers keeps a real ffprobe waiting; the test kills it from outside.
    const server = http.createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const token = randomBytes(8).toString('hex');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${token}/clip.mp4`;
    try {
      const probing = runFfprobe(url, { timeoutMs: 20_000 }).then(
        () => undefined,
        (e) => e,
      );
      let pid: number | undefined;
      for (let i = 0; i < 100 && pid === undefined; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const line = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
          .split('\n')
          .find((l) => l.includes(token) && l.includes('ffprobe'));
        if (line) pid = Number(line.trim().split(/\s+/)[0]);
      }
      expect(pid).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      const e = await probing;
      expect(e).toMatchObject({ code: 'FFMPEG_FAILED', retryable: true });
      expect(e.message).toMatch(/killed by SIGKILL/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
