/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PutBucketCorsCommand } from '@aws-sdk/client-s3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { inspectLivePhoto } from '@vid2live/livephoto/inspect';
import { makeCachedVideo } from '@vid2live/media/test-media';
import { apiClient } from './support/http';
import { startApi, startWorker, stopAll, type ApiProcess, type AppProcess } from './support/processes';
import { E2E_MEDIA, E2E_TMP, startStack, type Stack } from './support/stack';
import { objectKeys } from './worker-support';
import { studioSession, uploadStudioVideo } from './support/studio-api';
import { CHROMIUM, CHROMIUM_ARGS, STUDIO_ARTIFACTS, downloadAndUnzip, livePhotoReady, pressAndHold } from './support/studio-page';

/**
 * The same studio page served by the API at /studio/ for a tenant (the service backend): sign in with the API key,
 * upload by presigned PUT straight into object storage, analysis and frames made by a worker (queue `studio`),
 * the Live Photo made by an ordinary conversion job, played on press-and-hold, the zip downloaded and checked.
 * Then the surface itself over HTTP: sessions, tenants apart, browsers' cross-site requests refused.
 */
const ARTIFACTS = STUDIO_ARTIFACTS;
const LAUNCH_ARGS = CHROMIUM_ARGS;

/** the studio's upload limit in this test (small, so going over it is cheap) */
const LIMIT = 20 * 1024 * 1024;
let stack: Stack;
let api: ApiProcess;
let worker: AppProcess;
let browser: Browser;
const tmp = path.join(E2E_TMP, `studio-service-${process.pid}`);
let video: string;
let notVideo: string;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run infra/setup-debian.sh --with-redis (it installs Debian's chromium)`);
  fs.mkdirSync(tmp, { recursive: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  video = makeCachedVideo(E2E_MEDIA);
  notVideo = path.join(tmp, 'notes.mp4');
  fs.writeFileSync(notVideo, 'not a video at all\n');
  stack = await startStack('studio-svc');
  const limit = { STUDIO_MAX_UPLOAD_BYTES: String(LIMIT) };
  [api, worker] = await Promise.all([startApi(stack, limit), startWorker(stack, { WORKER_CONCURRENCY: '1', ...limit })]);
  // Browsers PUT uploads straight into the bucket: it needs a CORS rule for the API's origin (MinIO allows any
  // origin unless told otherwise; S3 and s3rver need the rule, as infra/README.md says).
  if (stack.s3.kind === 's3rver') {
    for (const bucket of [stack.buckets.input, stack.buckets.output]) {
      await stack.storage.client.send(
        new PutBucketCorsCommand({
          Bucket: bucket,
          CORSConfiguration: { CORSRules: [{ AllowedOrigins: [api.url], AllowedMethods: ['PUT', 'GET'], AllowedHeaders: ['*'] }] },
        }),
      );
    }
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await stopAll();
  await stack?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function signedInPage(width: number, height: number, key = stack.tenants.a.key): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.goto(`${api.url}/studio/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Video', { exact: true }).waitFor({ state: 'visible' });
  return { page, errors };
}

it('serves the page; a wrong key is refused in words; the right one opens the studio', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${api.url}/studio`); // redirected to /studio/ (the page's api/ URLs are relative)
  expect(new URL(page.url()).pathname).toBe('/studio/');
  await expect(page.getByTestId('mode').textContent()).resolves.toMatch(/not signed in/);
  expect(await page.getByLabel('Video', { exact: true }).isVisible()).toBe(false);
  await page.getByLabel('API key').fill('not-a-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor({ state: 'visible' });
  await expect(alert.textContent()).resolves.toMatch(/UNAUTHORIZED/);
  await page.getByLabel('API key').fill(stack.tenants.a.key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Video', { exact: true }).waitFor({ state: 'visible' });
  // the key is not kept by the page, and the session cookie is not readable by scripts
  expect(await page.getByLabel('API key').inputValue()).toBe('');
  expect(await page.evaluate(() => document.cookie)).toBe('');
  const cookie = (await context.cookies()).find((c) => c.name === 'vid2live_studio');
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/studio/' });
  await context.close();
});

it('uploads by presigned PUT, moves the moment and the key photo, makes the pair on a worker, plays it on press-and-hold, downloads a valid zip', async () => {
  const { page, errors } = await signedInPage(1280, 900);
  const put = page.waitForRequest((r) => r.method() === 'PUT');
  await page.getByLabel('Video', { exact: true }).setInputFiles(video);
  // the bytes went to object storage, not through the API
  expect(new URL((await put).url()).origin).toBe(new URL(stack.s3.endpoint).origin);
  await page.getByTestId('timeline').waitFor({ state: 'visible', timeout: 60_000 });
  await page.getByTestId('reasons').locator('li').first().waitFor();
  await page.getByRole('img', { name: 'Key photo frame' }).waitFor({ state: 'visible' });

  await page.getByLabel('Start (s)').fill('0.5');
  await page.getByLabel('Start (s)').press('Tab');
  await page.getByLabel('Duration (s)').fill('2');
  await page.getByLabel('Duration (s)').press('Tab');
  const slider = page.getByLabel('Key photo');
  await slider.focus();
  const before = Number(await slider.inputValue());
  for (let i = 0; i < 2; i++) await slider.press('ArrowRight');
  const key = Number(await slider.inputValue());
  expect(key - before).toBeCloseTo(2 / 30, 3);
  // the large frame is the worker's frame at the key photo's time
  await page.waitForFunction(
    (t) => {
      const img = document.querySelector('img[alt="Key photo frame"]') as HTMLImageElement | null;
      const src = img ? new URL(img.src).searchParams.get('t') : null;
      return src !== null && Math.abs(Number(src) - t) < 0.001 && img!.complete && img!.naturalWidth > 0;
    },
    key,
    { timeout: 60_000 },
  );

  await page.getByLabel('Video codec').selectOption('hevc');
  await page.screenshot({ path: path.join(ARTIFACTS, 'service-adjust.png'), fullPage: true });
  const sent = page.waitForResponse((r) => r.request().method() === 'POST' && /\/conversions$/.test(r.url()));
  await page.getByRole('button', { name: 'Make Live Photo' }).click();
  const conversionId: string = (await (await sent).json()).id;
  await page.getByTestId('result').waitFor({ state: 'visible', timeout: 180_000 });

  // an ordinary conversion: the tenant's /v1 API shows it, completed, with the pair in its studio area
  const v1 = await apiClient(api.url, stack.tenants.a).get(`/v1/conversions/${conversionId}`);
  expect(v1.status).toBe(200);
  expect(v1.body.status).toBe('completed');
  expect(v1.body.result.video.key).toMatch(/vid2live-studio\/.+\.MOV$/);

  expect(await livePhotoReady(page)).toBeCloseTo(key - 0.5, 2);
  await pressAndHold(page, 'service-playing.png');

  const dir = path.join(tmp, 'download');
  const zip = await downloadAndUnzip(page, 'Download pair (.zip)', dir);
  const stem = path.basename(zip, '.zip');
  const report = await inspectLivePhoto(path.join(dir, `${stem}.JPG`), path.join(dir, `${stem}.MOV`));
  expect(report.errors).toEqual([]);
  expect(report.valid).toBe(true);
  expect(report.stillTime).toBeCloseTo(key - 0.5, 2);
  await page.screenshot({ path: path.join(ARTIFACTS, 'service-result.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.context().close();
});

it('a file that is no video shows its typed error from the worker; the page stays usable at phone width', async () => {
  const { page, errors } = await signedInPage(375, 812);
  await page.getByLabel('Video', { exact: true }).setInputFiles(notVideo);
  const alert = page.getByRole('alert');
  await alert.waitFor({ state: 'visible', timeout: 60_000 });
  await expect(alert.textContent()).resolves.toMatch(/INPUT_NOT_MEDIA/);
  await expect(alert.textContent()).resolves.toMatch(/notes\.mp4/);
  expect(await alert.textContent()).not.toMatch(/vid2live-studio-cache|\/tmp\//);
  // usable: the earlier upload opens from the list
  await page.getByRole('button', { name: /\.mp4$/ }).first().click();
  await page.getByTestId('timeline').waitFor({ state: 'visible', timeout: 60_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: path.join(ARTIFACTS, 'service-phone.png'), fullPage: true });
  expect(errors.filter((e) => !/status of 422/.test(e))).toEqual([]);
  await page.context().close();
});

describe('the /studio HTTP surface', () => {
  const session = (key: string) => studioSession(api.url, key);

  it('needs a session or a tenant key; an admin key is no tenant; sign-out ends the session', async () => {
    expect((await fetch(`${api.url}/studio/api/videos`)).status).toBe(401);
    expect((await fetch(`${api.url}/studio/api/session`, { method: 'POST', headers: { authorization: `Bearer ${stack.admin.key}` } })).status).toBe(401);
    const cookie = await session(stack.tenants.a.key);
    expect((await fetch(`${api.url}/studio/api/videos`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${api.url}/studio/api/videos`, { headers: { authorization: `Bearer ${stack.tenants.a.key}` } })).status).toBe(200);
    expect((await fetch(`${api.url}/studio/api/session`, { method: 'DELETE', headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${api.url}/studio/api/videos`, { headers: { cookie } })).status).toBe(401);
    // a made-up token is no session
    expect((await fetch(`${api.url}/studio/api/videos`, { headers: { cookie: 'vid2live_studio=' + 'A'.repeat(43) } })).status).toBe(401);
  });

  it("keeps tenants apart: B sees none of A's videos, frames, conversions or files", async () => {
    const a = await session(stack.tenants.a.key);
    const b = await session(stack.tenants.b.key);
    const list = await (await fetch(`${api.url}/studio/api/videos`, { headers: { cookie: a } })).json();
    expect(list.videos.length).toBeGreaterThan(0);
    const id = list.videos[0].id;
    for (const what of ['analysis', 'thumbnails.jpg', 'preview.mp4', 'frame.jpg?t=0.5&w=320']) {
      const res = await fetch(`${api.url}/studio/api/videos/${id}/${what}`, { headers: { cookie: b } });
      expect([what, res.status]).toEqual([what, 404]);
    }
    expect((await (await fetch(`${api.url}/studio/api/videos`, { headers: { cookie: b } })).json()).videos).toEqual([]);
    const conv = await fetch(`${api.url}/studio/api/videos/${id}/conversions`, {
      method: 'POST',
      headers: { cookie: b, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(conv.status).toBe(404);
  });

  it('keeps frame previews on the 30 fps grid in 160-px steps: near-equal requests share one object', async () => {
    const a = await session(stack.tenants.a.key);
    const list = await (await fetch(`${api.url}/studio/api/videos`, { headers: { cookie: a } })).json();
    const id = list.videos.find((v: { name: string }) => v.name.endsWith('.mp4') && v.name !== 'notes.mp4').id;
    for (const q of ['t=0.5&w=300', 't=0.5004&w=320', 't=0.51&w=161']) {
      const res = await fetch(`${api.url}/studio/api/videos/${id}/frame.jpg?${q}`, { headers: { cookie: a } });
      expect([q, res.status, res.headers.get('content-type')]).toEqual([q, 200, 'image/jpeg']);
    }
    const keys: string[] = [];
    for (const bucket of [stack.buckets.input, stack.buckets.output]) keys.push(...(await objectKeys(stack.storage, bucket, 'vid2live-studio/')));
    const frames = keys.filter((k) => k.includes(`/videos/${id}/frames/`)).map((k) => k.split('/').pop()!);
    expect(frames.filter((f) => f === '0.5000-320.jpg')).toHaveLength(1);
    expect(frames.filter((f) => /^0\.50(04|00)-(300|161)\.jpg$|^0\.5004|^0\.5100/.test(f))).toEqual([]);
  });

  it('refuses what a browser says comes from another site, and changes from another origin', async () => {
    const a = await session(stack.tenants.a.key);
    expect((await fetch(`${api.url}/studio/api/videos`, { headers: { cookie: a, 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    const post = await fetch(`${api.url}/studio/api/videos`, {
      method: 'POST',
      headers: { cookie: a, origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x.mp4', size: 10 }),
    });
    expect(post.status).toBe(403);
    expect((await post.json()).error.code).toBe('CROSS_ORIGIN');
  });

  it('bounds uploads: too large or empty is refused before any URL is signed; an upload that never arrived is not a video', async () => {
    const a = await session(stack.tenants.a.key);
    const create = (body: unknown) =>
      fetch(`${api.url}/studio/api/videos`, { method: 'POST', headers: { cookie: a, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const big = await create({ name: 'huge.mov', size: 3 * 1024 ** 3 });
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe('UPLOAD_TOO_LARGE');
    expect((await create({ name: 'empty.mov', size: 0 })).status).toBe(400);
    const ok = await create({ name: '../../etc/passwd.mov', size: 100 });
    expect(ok.status).toBe(201);
    const made = await ok.json();
    expect(made.name).toBe('passwd.mov');
    expect(made.upload.url).toMatch(/X-Amz-Signature=/);
    // nothing was PUT: completing it fails, and it is not listed
    const done = await fetch(`${api.url}/studio/api/videos/${made.id}/uploaded`, { method: 'POST', headers: { cookie: a } });
    expect(done.status).toBe(409);
    const list = await (await fetch(`${api.url}/studio/api/videos`, { headers: { cookie: a } })).json();
    expect(list.videos.map((v: { id: string }) => v.id)).not.toContain(made.id);
    // and the signed URL was never written to a log
    expect(api.logs()).not.toContain('X-Amz-Signature');
    expect(worker.logs()).not.toContain('X-Amz-Signature');
  });

  it('an upload replaced by a larger object after its check is refused by the worker too (SOURCE_TOO_LARGE), never downloaded whole', async () => {
    const a = await session(stack.tenants.a.key);
    const created = await uploadStudioVideo(api.url, a, video, 'swap.mp4');
    // the signed URL is still valid: the object is swapped for one over the limit
    const big = path.join(tmp, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(LIMIT + 1024 * 1024, 7));
    const swapped = await fetch(created.upload.url, { method: 'PUT', headers: created.upload.headers, body: fs.readFileSync(big) });
    expect(swapped.status).toBe(200);
    const res = await fetch(`${api.url}/studio/api/videos/${created.id}/analysis`, { headers: { cookie: a } });
    expect(res.status).toBe(422);
    expect((await res.json()).error).toMatchObject({ code: 'SOURCE_TOO_LARGE', message: expect.stringContaining('swap.mp4') });
  });
});
