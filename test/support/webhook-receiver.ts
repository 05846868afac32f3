import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '@vid2live/webhooks/signature';
import { waitFor } from './wait';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  /** null when the signature did not verify (answered 401) */
  body: { type: string; timestamp: string | number; data: Record<string, unknown> } | null;
  verifyError?: string;
  /** what the receiver answered */
  status: number;
  at: number;
}

/**
 * A webhook endpoint on loopback, as a customer would write it: verifies the Standard Webhooks signature with
 * the shared secret, answers 401 to a bad one, and can be told to answer 500 to the next N deliveries.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private failures: number[] = [];

  private constructor(
    private readonly server: http.Server,
    private readonly secret: string,
  ) {}

  static async start(secret: string): Promise<WebhookReceiver> {
    let receiver!: WebhookReceiver;
    const server = http.createServer((req, res) => receiver.handle(req, res));
    receiver = new WebhookReceiver(server, secret);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  url(path = '/hooks'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The next `n` deliveries are answered with `status` (after their signature was checked). */
  failNext(n: number, status = 500): void {
    this.failures.push(...Array<number>(n).fill(status));
  }

  /** Deliveries that verified and were accepted (2xx). */
  accepted(): ReceivedWebhook[] {
    return this.received.filter((r) => r.body && r.status < 300);
  }

  waitForAccepted(what: string, pred: (r: ReceivedWebhook) => boolean, timeoutMs = 60_000): Promise<ReceivedWebhook> {
    return waitFor(`webhook ${what}`, () => this.accepted().find(pred), { timeoutMs });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const header = (n: string) => String(req.headers[n] ?? '');
      const entry: ReceivedWebhook = {
        id: header('webhook-id'),
        timestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        body: null,
        status: 0,
        at: Date.now(),
      };
      try {
        entry.body = verifyWebhook(this.secret, req.headers, raw);
        entry.status = this.failures.shift() ?? 204;
      } catch (e) {
        entry.verifyError = (e as Error).message;
        entry.status = 401;
      }
      this.received.push(entry);
      res.statusCode = entry.status;
      res.end();
    });
  }
}
