import { scrubbedError } from './errors';
import { withoutResultUrls } from '@vid2live/jobs/webhook-deliveries';
import { withFreshResultUrls } from './webhook-events';

describe('scrubbedError', () => {
  it('keeps the name, code and retryable flag but no presigned URL or secret in message or stack', () => {
    const url = 'http://127.0.0.1:9000/in/a.mp4?X-Amz-Credential=AK%2Fx&X-Amz-Signature=feedface';
    const original = Object.assign(new Error(`ffmpeg could not open ${url} (secret-value-123456)`), { name: 'LivePhotoError', code: 'FFMPEG_FAILED', retryable: true });
    const e = scrubbedError(original, original.message, ['secret-value-123456']);
    expect(e).toMatchObject({ name: 'LivePhotoError', code: 'FFMPEG_FAILED', retryable: true });
    for (const text of [e.message, e.stack ?? '']) {
      expect(text).not.toMatch(/X-Amz-Signature|feedface|AK%2F|secret-value-123456/);
    }
    expect(e.stack).toMatch(/^LivePhotoError: ffmpeg could not open http:\/\/127\.0\.0\.1:9000\/in\/a\.mp4\?\[redacted\]/);
    expect(e.stack).toMatch(/\n\s+at /);
  });
});

describe('webhook result URLs', () => {
  const view = {
    id: 'cnv_1',
    result: { still: { bucket: 'o', key: 'a.JPG', url: 'https://s3/o/a.JPG?X-Amz-Signature=1' }, video: { bucket: 'o', key: 'a.MOV', url: '' } },
  };

  it('are stored as object references and presigned when sent', async () => {
    const stored = withoutResultUrls(view);
    expect(JSON.stringify(stored)).not.toContain('url');
    const sent = (await withFreshResultUrls(stored, async (b, k) => `https://s3/${b}/${k}?fresh`)) as typeof view;
    expect(sent.result.still).toEqual({ bucket: 'o', key: 'a.JPG', url: 'https://s3/o/a.JPG?fresh' });
    expect(sent.result.video.url).toBe('https://s3/o/a.MOV?fresh');
    expect(await withFreshResultUrls({ id: 'x', error: { code: 'C' } }, async () => 'never')).toEqual({ id: 'x', error: { code: 'C' } });
  });
});
