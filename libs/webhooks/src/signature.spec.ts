import { signWebhook, verifyWebhook, WebhookVerificationError } from './signature';

// Test vector from the Standard Webhooks reference libraries.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';
const EXPECTED = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

describe('Standard Webhooks signatures', () => {
  it('matches the reference test vector', () => {
    expect(signWebhook(SECRET, ID, TS, BODY)).toBe(EXPECTED);
  });

  const headers = (sig: string, ts = String(TS)) => ({ 'webhook-id': ID, 'webhook-timestamp': ts, 'webhook-signature': sig });

  it('verifies, accepting any of several space-separated signatures', () => {
    expect(verifyWebhook(SECRET, headers(EXPECTED), BODY, 300, TS)).toEqual({ test: 2432232314 });
    expect(verifyWebhook(SECRET, headers(`v1,AAAA v2,zzz ${EXPECTED}`), BODY, 300, TS)).toEqual({ test: 2432232314 });
  });

  it('rejects a tampered body, a wrong secret and a missing header', () => {
    expect(() => verifyWebhook(SECRET, headers(EXPECTED), BODY.replace('2', '3'), 300, TS)).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook('whsec_' + Buffer.from('another-secret-16b').toString('base64'), headers(EXPECTED), BODY, 300, TS)).toThrow(
      /no matching signature/,
    );
    expect(() => verifyWebhook(SECRET, { 'webhook-id': ID }, BODY, 300, TS)).toThrow(/missing/);
  });

  it('enforces the timestamp tolerance both ways', () => {
    const old = verifyCode(() => verifyWebhook(SECRET, headers(EXPECTED), BODY, 300, TS + 301));
    expect(old).toBe('WEBHOOK_TIMESTAMP_TOO_OLD');
    const future = verifyCode(() => verifyWebhook(SECRET, headers(EXPECTED), BODY, 300, TS - 301));
    expect(future).toBe('WEBHOOK_TIMESTAMP_TOO_NEW');
    expect(verifyWebhook(SECRET, headers(EXPECTED), BODY, 300, TS + 299)).toBeTruthy();
  });
});

function verifyCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as WebhookVerificationError).code;
  }
}
