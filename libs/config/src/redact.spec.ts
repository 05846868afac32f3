import { REDACTED, errorText, scrubSecrets, urlCredentials } from './redact';

describe('scrubSecrets', () => {
  it('drops the query string of any URL (a presigned URL is a bearer credential)', () => {
    const url =
      'http://127.0.0.1:9000/in/clips/a.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240101&X-Amz-Signature=abcdef0123';
    const out = scrubSecrets(`ffmpeg: ${url}: Server returned 5XX Server Error reply`);
    expect(out).toBe(`ffmpeg: http://127.0.0.1:9000/in/clips/a.mp4?${REDACTED} Server returned 5XX Server Error reply`);
    expect(out).not.toMatch(/X-Amz-Signature|abcdef0123|AK%2F/);
  });

  it('drops the user-info of URLs (redis://:password@host) and keeps plain object references', () => {
    expect(scrubSecrets('connect redis://:hunter2hunter2@redis:6379/0 failed')).toBe('connect redis://***@redis:6379/0 failed');
    expect(scrubSecrets('https://user:pw@example.com/x')).toBe('https://***@example.com/x');
    expect(scrubSecrets('s3://bucket/videos/a b.mp4 does not exist')).toBe('s3://bucket/videos/a b.mp4 does not exist');
  });

  it('redacts signing parameters quoted without their URL', () => {
    const out = scrubSecrets('bad request: X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA/x Signature=zzz token=t0k');
    expect(out).not.toMatch(/deadbeef|AKIA|zzz|t0k/);
    expect(out).toContain(`X-Amz-Signature=${REDACTED}`);
  });

  it('replaces literal secrets wherever they appear, but not values too short to be secrets', () => {
    expect(scrubSecrets('auth failed for s3cr3t-value-123 (s3cr3t-value-123)', ['s3cr3t-value-123'])).toBe(
      `auth failed for ${REDACTED} (${REDACTED})`,
    );
    expect(scrubSecrets('a b c', ['a', '', undefined])).toBe('a b c');
  });

  it('is idempotent', () => {
    const once = scrubSecrets('x https://h/p?sig=1 redis://:pw@h');
    expect(scrubSecrets(once)).toBe(once);
  });
});

describe('urlCredentials / errorText', () => {
  it('extracts a connection URL password, raw and decoded', () => {
    expect(urlCredentials('redis://:p%40ss-word@h:6379')).toEqual(['p%40ss-word', 'p@ss-word']);
    expect(urlCredentials('redis://h:6379')).toEqual([]);
    expect(urlCredentials('not a url')).toEqual([]);
  });

  it('renders an error as one scrubbed line, never the object (ioredis attaches AUTH arguments)', () => {
    const e = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      name: 'ReplyError',
      command: { name: 'auth', args: ['the-password-1234'] },
    });
    expect(errorText(e)).toBe('ReplyError: WRONGPASS invalid username-password pair');
    expect(errorText(new Error('at redis://:the-password-1234@h'), ['the-password-1234'])).not.toContain('the-password-1234');
    expect(errorText('plain')).toBe('plain');
  });
});
