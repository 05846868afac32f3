import { LivePhotoError } from '@vid2live/errors';
import { StorageError } from '@vid2live/storage';
import { TargetForbiddenError } from '@vid2live/webhooks';
import { childConversionId } from './batch.processor';
import * as os from 'node:os';
import type { AppConfig } from '@vid2live/config';
import type { ObjectStorage } from '@vid2live/storage';
import { contentIdentifierFor, outputBaseName } from './conversion-names';
import { ConversionProcessor } from './conversion.processor';
import { RunningConversions } from './running-conversions';
import { classifyError } from './errors';

const job = (source: object, outputBaseName?: string) =>
  ({ conversionId: 'c', tenant: 't', source, output: { bucket: 'o', prefix: 'p/' }, options: {}, outputBaseName }) as never;

describe('conversion helpers', () => {
  it('names outputs after the source without its extension', () => {
    expect(outputBaseName(job({ bucket: 'b', key: 'videos/2024/IMG_0001.mov' }))).toBe('IMG_0001');
    expect(outputBaseName(job({ url: 'https://cdn.example/x/clip.final.mp4?sig=1' }))).toBe('clip.final');
    expect(outputBaseName(job({ bucket: 'b', key: 'a/b.mp4' }, 'sub/b'))).toBe('sub/b');
  });

  it('gives a retried conversion the same upper-case Content Identifier', () => {
    const a = contentIdentifierFor('cnv_1');
    expect(a).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    expect(contentIdentifierFor('cnv_1')).toBe(a);
    expect(contentIdentifierFor('cnv_2')).not.toBe(a);
  });

  it('derives batch child ids from (batch, key) in the API id shape', () => {
    const id = childConversionId('bat_1', 'in/a.mov');
    expect(id).toMatch(/^cnv_[a-z2-7]{26}$/);
    expect(childConversionId('bat_1', 'in/a.mov')).toBe(id);
    expect(childConversionId('bat_2', 'in/a.mov')).not.toBe(id);
  });

  it('classifies errors as final or retryable by their code', () => {
    expect(classifyError(new LivePhotoError('INPUT_NOT_MEDIA'))).toMatchObject({ code: 'INPUT_NOT_MEDIA', retryable: false });
    expect(classifyError(new LivePhotoError('FFMPEG_FAILED'))).toMatchObject({ code: 'FFMPEG_FAILED', retryable: true });
    expect(classifyError(new StorageError('STORAGE_UNAVAILABLE', 'x', true))).toMatchObject({ retryable: true });
    expect(classifyError(new TargetForbiddenError('SOURCE_URL_FORBIDDEN', 'x'))).toMatchObject({ code: 'SOURCE_URL_FORBIDDEN', retryable: false });
    expect(classifyError(new Error('connection reset'))).toMatchObject({ code: 'INTERNAL', retryable: true });
  });
});

describe('ConversionProcessor when its temp dir cannot be made', () => {
  afterEach(() => jest.restoreAllMocks());

  it('leaves no RunningConversions entry behind and claims nothing (BullMQ retries the job)', async () => {
    const running = new RunningConversions();
    const updates: unknown[] = [];
    const records = {
      getConversion: async () => ({ id: 'cnv_x', tenant: 't', status: 'queued', progress: { stage: 'queued', percent: 0 }, request: {} }),
      updateConversion: async (...args: unknown[]) => updates.push(args),
    };
    const config = { SOURCE_TEST_PUBLIC_HOSTS: new Set<string>() } as unknown as AppConfig;
    const processor = new ConversionProcessor(config, {} as ObjectStorage, records as never, running, {} as never);
    // the module object itself (a TS namespace import is a frozen copy); temp-dirs.ts reads through to it
    jest.spyOn(require('node:os') as typeof os, 'tmpdir').mockReturnValue('/nonexistent/vid2live-spec-tmp');
    const jobData = { conversionId: 'cnv_x', tenant: 't', source: { bucket: 'b', key: 'k.mp4' }, output: { bucket: 'o', prefix: '' }, options: {} };
    const err = await processor.process({ data: jobData, opts: { attempts: 5 }, attemptsMade: 0 } as never).catch((e) => e);
    expect(err).toMatchObject({ code: 'ENOENT' }); // a Node fs error (from another realm: not instanceof Error here)
    expect(running.size).toBe(0);
    expect(updates).toEqual([]);
  });
});
