import { z } from 'zod/v4';
import { MAX_CLIP_SECONDS, MIN_CLIP_SECONDS } from '@vid2live/livephoto/types';
import { ApiError } from './errors';

/**
 * Request bodies, exactly as the contract in issue 3 states them. Objects are strict: an unknown or misspelt
 * field (`keyframe`) is a 400, not a silently ignored option. zod/v4 (shipped inside zod 3.25) is used here
 * because it can emit JSON Schema for the OpenAPI document, so the docs cannot drift from the validation.
 */
const bucket = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3–63 of a-z 0-9 . -)');

const httpUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

export const s3SourceSchema = z.strictObject({ bucket, key: z.string().min(1).max(1024) });
export const urlSourceSchema = z.strictObject({ url: httpUrl });
export const sourceSchema = z.union([s3SourceSchema, urlSourceSchema]);

export const outputSchema = z.strictObject({ bucket, prefix: z.string().max(900) });

export const optionsSchema = z.strictObject({
  start: z.number().min(0).optional(),
  duration: z.number().min(MIN_CLIP_SECONDS).max(MAX_CLIP_SECONDS).optional(),
  keyFrame: z.union([z.number().min(0), z.literal('auto')]).optional(),
  still: z.enum(['jpeg', 'heic']).optional(),
  motionPhoto: z.boolean().optional(),
  /** the MOV's video codec: 'h264' (default) or 'hevc' (smaller; what iPhones record) */
  codec: z.enum(['h264', 'hevc']).optional(),
  /** also write `<name>.pvt.zip`: the pair as a NAME.pvt/ package (still + MOV + metadata.plist), zipped */
  pvt: z.boolean().optional(),
  /** 'wallpaper': the lock-screen Live Wallpaper profile (1080×1920, 60 fps, HEIC; docs/wallpaper.md; not verified on a device) */
  profile: z.enum(['standard', 'wallpaper']).optional(),
});

export const webhookSchema = z.strictObject({ url: httpUrl });

export const createConversionSchema = z.strictObject({
  source: sourceSchema,
  output: outputSchema,
  options: optionsSchema.optional(),
  webhook: webhookSchema.optional(),
});

/** Items batches become one BullMQ flow; beyond this, a prefix batch (listed page by page) is the tool. */
export const MAX_BATCH_ITEMS = 1000;

export const createBatchSchema = z
  .strictObject({
    source: z.union([
      z.strictObject({
        bucket,
        prefix: z.string().max(900),
        /**
         * the prefix holds Live Photo pairs (NAME.HEIC|JPG + NAME.MOV side by side): each pair becomes one Google
         * Motion Photo NAME.MP.HEIC|.MP.jpg (iPhone → Android); takes no `options`
         */
        livePhotoPairs: z.boolean().optional(),
      }),
      z.strictObject({ items: z.array(sourceSchema).min(1).max(MAX_BATCH_ITEMS) }),
    ]),
    output: outputSchema,
    options: optionsSchema.optional(),
    webhook: webhookSchema.optional(),
  })
  .refine((b) => !('livePhotoPairs' in b.source && b.source.livePhotoPairs) || !b.options || Object.keys(b.options).length === 0, {
    path: ['options'],
    message: 'a livePhotoPairs batch re-packs each pair as it is (the still and the video are not re-encoded): it takes no options',
  });

export type CreateConversionBody = z.output<typeof createConversionSchema>;
export type CreateBatchBody = z.output<typeof createBatchSchema>;

/** Idempotency keys: printable ASCII, bounded so they are safe inside a Redis key. */
const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1–255 printable ASCII characters');

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw ApiError.invalid('the request body is invalid', flattenIssues(parsed.error.issues));
  }
  return parsed.data;
}

type Issue = z.core.$ZodIssue;

/**
 * `{ path, message }` per problem. A union ("source is { bucket, key } or { url }") reports the problems of the
 * alternative that came closest, instead of zod's bare "Invalid input".
 */
function flattenIssues(issues: readonly Issue[], base: PropertyKey[] = []): Array<{ path: string; message: string }> {
  return issues.flatMap((i) => {
    const path = [...base, ...i.path];
    if (i.code === 'invalid_union' && i.errors.length) {
      const closest = [...i.errors].sort((a, b) => a.length - b.length)[0];
      return flattenIssues(closest, path);
    }
    return [{ path: path.map(String).join('.'), message: i.message }];
  });
}

export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const parsed = idempotencyKeySchema.safeParse(Array.isArray(header) ? header.join(',') : header);
  if (!parsed.success) {
    throw ApiError.invalid('the Idempotency-Key header is invalid', [
      { path: 'headers.idempotency-key', message: parsed.error.issues[0]?.message },
    ]);
  }
  return parsed.data;
}

/** JSON Schema of a request body for the OpenAPI document. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  return rest;
}
