import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deliverWebhook, WebhookDeliveryError } from './deliver';
import { verifyWebhook } from './signature';
import { TargetForbiddenError } from './target-guard';

const SECRET = 'whsec_' + Buffer.from('a-test-secret-of-32-bytes-length').toString('base64');

describe('deliverWebhook', () => {
  let server: Server;
  let base: string;
  const received: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];
  let answer = 200;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ url: req.url!, headers: req.headers, body });
        if (req.url === '/redirect') {
          res.writeHead(302, { location: '/ok' }).end();
        } else if (req.url === '/slow') {
          // unref: the client gives up after 300 ms; this late answer must not keep jest alive.
          setTimeout(() => res.writeHead(200).end(), 2000).unref();
        } else res.writeHead(answer).end('thanks');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    received.length = 0;
    answer = 200;
  });

  const event = { id: 'msg_test1', type: 'conversion.completed', timestamp: Math.floor(Date.now() / 1000) - 3600, data: { id: 'c1', status: 'completed' } };

  it('POSTs a signed JSON body that verifyWebhook accepts', async () => {
    const r = await deliverWebhook(`${base}/ok`, event, { secret: SECRET, allowPrivate: true });
    expect(r.status).toBe(200);
    expect(received).toHaveLength(1);
    const got = received[0];
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toBe('msg_test1');
    const parsed = verifyWebhook<{ type: string; timestamp: string; data: unknown }>(SECRET, got.headers, got.body);
    expect(parsed.type).toBe('conversion.completed');
    expect(parsed.data).toEqual({ id: 'c1', status: 'completed' });
    expect(new Date(parsed.timestamp).getTime() / 1000).toBe(event.timestamp);
  });

  it('throws a retryable error on non-2xx and does not follow redirects', async () => {
    answer = 500;
    const e = await deliverWebhook(`${base}/ok`, event, { secret: SECRET, allowPrivate: true }).catch((x) => x);
    expect(e).toBeInstanceOf(WebhookDeliveryError);
    expect(e.status).toBe(500);
    answer = 200;
    const r = await deliverWebhook(`${base}/redirect`, event, { secret: SECRET, allowPrivate: true }).catch((x) => x);
    expect(r.status).toBe(302);
    expect(received.map((x) => x.url)).toEqual(['/ok', '/redirect']);
  });

  it('times out', async () => {
    const e = await deliverWebhook(`${base}/slow`, event, { secret: SECRET, allowPrivate: true, timeoutMs: 300 }).catch((x) => x);
    expect(e).toBeInstanceOf(WebhookDeliveryError);
    expect(e.message).toMatch(/timed out/);
  });

  it('refuses the loopback receiver when private targets are not allowed, without sending', async () => {
    const e = await deliverWebhook(`${base}/ok`, event, { secret: SECRET, allowPrivate: false }).catch((x) => x);
    expect(e).toBeInstanceOf(TargetForbiddenError);
    expect(received).toHaveLength(0);
  });

  it('connects to the address checked at delivery time, not a second DNS answer', async () => {
    // The host name resolves (through our lookup) to 127.0.0.1 only: the request must land on our receiver.
    const port = new URL(base).port;
    const r = await deliverWebhook(`http://hooks.invalid:${port}/pinned`, event, {
      secret: SECRET,
      allowPrivate: true,
      lookup: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect(r.status).toBe(200);
    expect(received[0].url).toBe('/pinned');
    expect(received[0].headers.host).toBe(`hooks.invalid:${port}`);
  });
});
