import { SingleBar, Presets } from 'cli-progress';

export interface SubmitOptions {
  api: string;
  apiKey: string;
  bucket: string;
  prefix: string;
  outBucket: string;
  outPrefix: string;
  /** the prefix holds Live Photo pairs: each becomes a Google Motion Photo (docs/api.md) */
  livePhotoPairs?: boolean;
  wait: boolean;
  json: boolean;
  tty: boolean;
  pollMs?: number;
}

interface BatchView {
  id: string;
  status: string;
  total?: number | null;
  counts: Record<'queued' | 'active' | 'completed' | 'failed' | 'canceled', number>;
  failures?: Array<{ id: string; source?: unknown; error?: { code: string; message: string } }>;
}

async function call<T>(o: SubmitOptions, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, o.api), {
    method,
    headers: { authorization: `Bearer ${o.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const err = parsed?.error;
    throw new Error(`${method} ${path} → HTTP ${res.status}${err ? ` ${err.code}: ${err.message}` : ''}`);
  }
  return parsed as T;
}

/** Creates a batch over an S3 prefix; with `wait`, follows it to the end. Resolves true when nothing failed. */
export async function runSubmit(o: SubmitOptions): Promise<boolean> {
  const log = (line: string) => process.stderr.write(line + '\n');
  const created = await call<{ id: string; total?: number }>(o, 'POST', '/v1/batches', {
    source: { bucket: o.bucket, prefix: o.prefix, ...(o.livePhotoPairs ? { livePhotoPairs: true } : {}) },
    output: { bucket: o.outBucket, prefix: o.outPrefix },
  });
  log(`batch ${created.id} submitted for s3://${o.bucket}/${o.prefix}`);
  if (!o.wait) {
    if (o.json) process.stdout.write(JSON.stringify(created) + '\n');
    return true;
  }
  const bar = o.tty
    ? new SingleBar({ format: ' {bar} {value}/{total} ended | {completed} ok, {failed} failed, {active} running' }, Presets.shades_classic)
    : undefined;
  let started = false;
  let view: BatchView;
  let lastLine = '';
  for (;;) {
    view = await call<BatchView>(o, 'GET', `/v1/batches/${created.id}`);
    const c = view.counts;
    const ended = c.completed + c.failed + c.canceled;
    const total = view.total ?? Math.max(ended + c.queued + c.active, 1);
    if (bar) {
      if (!started) bar.start(total, ended, { ...c });
      started = true;
      bar.setTotal(total);
      bar.update(ended, { ...c });
    } else {
      const line = `${ended}/${view.total ?? '?'} ended: ${c.completed} completed, ${c.failed} failed, ${c.canceled} canceled, ${c.active} active`;
      if (line !== lastLine) log(line);
      lastLine = line;
    }
    if (view.status !== 'queued' && view.status !== 'active') break;
    await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
  }
  bar?.stop();
  const c = view.counts;
  if (o.json) {
    process.stdout.write(JSON.stringify(view, null, 2) + '\n');
  } else {
    process.stdout.write(
      `batch ${view.id} ${view.status}: ${c.completed} completed, ${c.failed} failed, ${c.canceled} canceled\n`,
    );
    for (const f of view.failures ?? []) {
      process.stdout.write(`  failed: ${f.id} ${JSON.stringify(f.source ?? '')} — ${f.error?.code}: ${f.error?.message}\n`);
    }
  }
  return c.failed === 0 && c.canceled === 0;
}
