import * as path from 'node:path';
import { z } from 'zod';

/**
 * Tenant storage scope and object-key rules, shared by the api (checked at submit) and the worker (checked again
 * before any read or write, as defence in depth). Pure: no SDK, no I/O.
 *
 * `TENANT_STORAGE` binds each tenant to the bucket/prefix pairs it may read (sources, prefix batches) and write
 * (outputs). A key is inside a scope when its bucket matches and it starts with the scope's prefix; a prefix (a
 * batch's source, an output prefix) is inside when it starts with the scope's prefix. Scope prefixes are `""`
 * (whole bucket) or end with `/`, so `tenant-a/` never matches `tenant-ab/…`.
 */

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/**
 * The longest suffix the worker appends to `<output prefix><name>`: a studio conversion's `.still-preview.jpg`
 * (`.preview.MOV`, `.pvt.zip`, `.MP.jpg`, `.HEIC`, `.JPG`, `.MOV` are shorter).
 */
export const MAX_OUTPUT_SUFFIX = '.still-preview.jpg';
/** The longest conversion id the worker puts into a temporary output key (`cnv_` + 26 characters). */
export const MAX_CONVERSION_ID_LENGTH = 30;
/** Folder under the output prefix where a conversion's outputs wait until all of them are uploaded (output-names.ts). */
export const OUTPUT_TEMP_FOLDER = '.vid2live-tmp/';

export type StorageAccess = 'read' | 'write';
export interface BucketPrefix {
  bucket: string;
  prefix: string;
}
export interface TenantStorageScope {
  read: BucketPrefix[];
  write: BucketPrefix[];
}
export type TenantStorage = ReadonlyMap<string, TenantStorageScope>;

export type StorageScopeErrorCode = 'INVALID_KEY' | 'STORAGE_SCOPE_DENIED';

/** Bad input: always final (the worker turns it into an UnrecoverableError, the api into 400 / 403). */
export class StorageScopeError extends Error {
  override readonly name = 'StorageScopeError';
  readonly retryable = false;
  constructor(
    readonly code: StorageScopeErrorCode,
    message: string,
    /** the request field at fault, e.g. `source.key`, `output.prefix`, `source.items.3.key` */
    readonly path: string,
  ) {
    super(message);
  }

  toJSON(): { code: StorageScopeErrorCode; message: string; path: string } {
    return { code: this.code, message: this.message, path: this.path };
  }
}

// C0 controls (NUL, newline, …), DEL and C1 controls: they break logs, signatures and file-backed stores.
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why `value` may not be used as an object key (or, with `kind: 'prefix'`, a key prefix); undefined when fine.
 * `.` and `..` segments are refused (split on `/` and `\`): HTTP clients and file-backed stores normalise them,
 * so `tenant-a/../tenant-b/x` would reach another tenant's prefix or leave a server's data directory.
 */
export function keyProblem(value: string, kind: 'key' | 'prefix' = 'key'): string | undefined {
  if (kind === 'key' && value.length === 0) return 'must not be empty';
  if (CONTROL_RE.test(value)) return 'must not contain control characters (NUL, newline, …)';
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_KEY_BYTES) return `must be at most ${MAX_KEY_BYTES} bytes of UTF-8 (is ${bytes})`;
  if (value.split(/[/\\]/).some((s) => s === '.' || s === '..')) return 'must not contain "." or ".." path segments';
  return undefined;
}

export function assertKey(value: string, path: string, kind: 'key' | 'prefix' = 'key'): void {
  const problem = keyProblem(value, kind);
  if (problem) throw new StorageScopeError('INVALID_KEY', `${path} ${problem}`, path);
}

/**
 * The output keys are `<prefix><name><suffix>`: each must be a valid key of ≤ 1 024 bytes. `name` is the source's
 * base name (a prefix batch keeps sub-folders in it). The temporary keys the outputs are uploaded under before
 * they are published (`<prefix>.vid2live-tmp/<conversion id><suffix>`) must fit as well.
 */
export function assertOutputName(prefix: string, name: string, path: string): void {
  const longest = `${prefix}${name}${MAX_OUTPUT_SUFFIX}`;
  const temporary = `${prefix}${OUTPUT_TEMP_FOLDER}${'x'.repeat(MAX_CONVERSION_ID_LENGTH)}${MAX_OUTPUT_SUFFIX}`;
  const problem = keyProblem(longest, 'key') ?? keyProblem(temporary, 'key');
  if (problem) {
    throw new StorageScopeError('INVALID_KEY', `the output key derived from it (${path}) ${problem}`, path);
  }
}

/**
 * The output name (without extension, relative to the output prefix) of a single source: its base name without
 * the extension, `livephoto` when that is empty. The worker's `outputBaseName` uses the same rule (a prefix batch
 * passes its own, sub-folders included).
 */
export function defaultOutputName(source: { key: string } | { url: string }): string {
  let name: string;
  if ('key' in source) {
    name = path.posix.basename(source.key);
  } else {
    try {
      name = path.posix.basename(new URL(source.url).pathname);
    } catch {
      name = '';
    }
  }
  return stemOfName(name) || 'livephoto';
}

// Looser than S3's 3–63 rule (the api enforces that on requests): s3rver and some stores take shorter names.
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{0,62}$/;
const TENANT_RE = /^[A-Za-z0-9_.-]+$/;

const scopePrefix = z
  .string()
  .superRefine((p, ctx) => {
    const problem = keyProblem(p, 'prefix');
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    else if (p !== '' && !p.endsWith('/')) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be "" or end with "/"' });
  });
const bucketPrefix = z.object({ bucket: z.string().regex(BUCKET_RE, 'must be an S3 bucket name'), prefix: scopePrefix }).strict();
const tenantScope = z
  .object({ read: z.array(bucketPrefix).default([]), write: z.array(bucketPrefix).default([]) })
  .strict();
const tenantStorageSchema = z.record(z.string().regex(TENANT_RE, 'tenant names are [A-Za-z0-9_.-]'), tenantScope);

/**
 * Parses `TENANT_STORAGE`:
 * `{ "<tenant>": { "read": [{ "bucket", "prefix" }], "write": [{ "bucket", "prefix" }] }, … }`.
 * Problems name the JSON path and the rule, never a value.
 */
export function parseTenantStorage(raw: string): { ok: true; value: TenantStorage } | { ok: false; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, problems: ['must be JSON: { "<tenant>": { "read": [{ "bucket", "prefix" }], "write": [...] } }'] };
  }
  const parsed = tenantStorageSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
    };
  }
  return { ok: true, value: new Map(Object.entries(parsed.data)) };
}

/** Who may read and write where. `assert*` throw StorageScopeError (final); `allows` answers yes/no. */
export class StorageScopePolicy {
  constructor(private readonly scopes: TenantStorage) {}

  /** `keyOrPrefix` is an object key or a prefix: both must start with one of the tenant's scope prefixes. */
  allows(tenant: string, access: StorageAccess, bucket: string, keyOrPrefix: string): boolean {
    const scope = this.scopes.get(tenant);
    if (!scope) return false;
    return scope[access].some((s) => s.bucket === bucket && keyOrPrefix.startsWith(s.prefix));
  }

  /** Validates the key (INVALID_KEY), then the tenant's right to it (STORAGE_SCOPE_DENIED). */
  assertAccess(
    tenant: string,
    access: StorageAccess,
    target: { bucket: string; key?: string; prefix?: string },
    path: string,
  ): void {
    const isKey = target.key !== undefined;
    const value = isKey ? target.key! : (target.prefix ?? '');
    assertKey(value, path, isKey ? 'key' : 'prefix');
    if (!this.allows(tenant, access, target.bucket, value)) {
      const what = access === 'read' ? 'read from' : 'write to';
      throw new StorageScopeError(
        'STORAGE_SCOPE_DENIED',
        `tenant ${tenant} may not ${what} s3://${target.bucket}/${isKey ? '' : value}${isKey ? value : '…'}`,
        path,
      );
    }
  }
}

/**
 * A file name without its extension; a Motion Photo's `NAME.MP.jpg|heic` (the spec's file-name pattern) also
 * loses the `.MP`, so its Live Photo is `NAME.JPG|HEIC` + `NAME.MOV` (as the CLI names it).
 */
export function stemOfName(name: string): string {
  const ext = path.posix.extname(name);
  const stem = ext ? name.slice(0, -ext.length) : name;
  return /^\.(jpe?g|heic|heif)$/i.test(ext) && /[^/]\.MP$/i.test(stem) ? stem.slice(0, -3) : stem;
}
