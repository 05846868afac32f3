/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startStudioServer, type RunningStudio } from '../apps/studio/src/local-server';
import { inspectLivePhoto } from '@vid2live/livephoto/inspect';
import { inspectPvtPackage } from '@vid2live/livephoto/pvt';
import { makeSource, makeTempDir, removeDir } from '@vid2live/media/test-media';
import { CHROMIUM, CHROMIUM_ARGS, STUDIO_ARTIFACTS, downloadAndUnzip, livePhotoReady, pressAndHold } from './support/studio-page';

/**
 * The studio in Debian's Chromium (never a downloaded browser), driven by playwright-core, against the local
 * backend: open a video, move the window and the key photo, make the pair, press and hold the preview, download the
 * zip and check the pair; a broken file shows its error and the page stays usable. Screenshots (desktop and phone
 * width) go to test-artifacts/studio/ for a person to look at.
 */
const ARTIFACTS = STUDIO_ARTIFACTS;
const LAUNCH_ARGS = CHROMIUM_ARGS;

describe('studio in Chromium (local backend)', () => {
  let tmp: string;
  let folder: string;
  let studio: RunningStudio;
  let browser: Browser;
  let upload: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run infra/setup-debian.sh --with-redis (it installs Debian's chromium)`);
    tmp = makeTempDir('studio-e2e-');
    folder = path.join(tmp, 'videos');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'notes.mp4'), 'not a video at all\n');
    upload = makeSource('landscape-1080p-audio', path.join(tmp, 'src'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    studio = await startStudioServer({ folder });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await studio?.close();
    if (tmp) removeDir(tmp);
  });

  async function newPage(width: number, height: number): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    await page.goto(studio.url);
    return { page, errors };
  }

  it('opens a video, moves the moment and the key photo, makes the pair, plays it on press-and-hold, downloads a valid zip', async () => {
    const { page, errors } = await newPage(1280, 900);
    await page.getByLabel('Video', { exact: true }).setInputFiles(upload);
    // the engine's analysis drawn: the timeline, the key frame, the reasons
    await page.getByTestId('timeline').waitFor({ state: 'visible' });
    await page.getByTestId('reasons').locator('li').first().waitFor();
    const keyFrame = page.getByRole('img', { name: 'Key photo frame' });
    await keyFrame.waitFor({ state: 'visible' });

    // the window: start 0.5 s, 2 s long; then the key photo one frame at a time from the keyboard
    await page.getByLabel('Start (s)').fill('0.5');
    await page.getByLabel('Start (s)').press('Tab');
    await page.getByLabel('Duration (s)').fill('2');
    await page.getByLabel('Duration (s)').press('Tab');
    const slider = page.getByLabel('Key photo');
    await slider.focus();
    const before = Number(await slider.inputValue());
    for (let i = 0; i < 3; i++) await slider.press('ArrowRight');
    const key = Number(await slider.inputValue());
    expect(key - before).toBeCloseTo(0.1, 3); // three frames of 1/30 s
    expect(key).toBeGreaterThanOrEqual(0.5);
    expect(key).toBeLessThanOrEqual(2.5);
    // the large frame is the one at the key photo's time
    await page.waitForFunction(
      (t) => {
        const img = document.querySelector('img[alt="Key photo frame"]') as HTMLImageElement | null;
        const src = img ? new URL(img.src).searchParams.get('t') : null;
        return src !== null && Math.abs(Number(src) - t) < 0.001 && img!.complete && img!.naturalWidth > 0;
      },
      key,
      { timeout: 30_000 },
    );

    // HEVC: the preview needs the H.264 copy; a Motion Photo too
    await page.getByLabel('Video codec').selectOption('hevc');
    await page.getByLabel('Motion Photo').check();
    await page.screenshot({ path: path.join(ARTIFACTS, 'desktop-adjust.png'), fullPage: true });
    await page.getByRole('button', { name: 'Make Live Photo' }).click();
    await page.getByTestId('result').waitFor({ state: 'visible', timeout: 120_000 });

    // press and hold the Live Photo: LivePhotosKit plays the movie
    const player = page.getByRole('img', { name: 'Live Photo preview' });
    await player.waitFor({ state: 'visible' });
    // LivePhotosKit read the key photo's time from the real (HEVC) MOV, its metadata source
    expect(await livePhotoReady(page)).toBeCloseTo(key - 0.5, 2);
    await pressAndHold(page, 'desktop-playing.png');

    // take it to the phone: the zip holds NAME.JPG + NAME.MOV, a valid pair whose still is the chosen frame
    const zip = await downloadAndUnzip(page, 'Download pair (.zip)', path.join(tmp, 'download'));
    expect(path.basename(zip)).toBe('landscape.zip');
    const report = await inspectLivePhoto(path.join(path.dirname(zip), 'landscape.JPG'), path.join(path.dirname(zip), 'landscape.MOV'));
    expect(report.valid).toBe(true);
    expect(report.stillTime).toBeCloseTo(key - 0.5, 2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'desktop-result.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('shows a broken file’s typed error in words and stays usable; fits a phone screen', async () => {
    const { page, errors } = await newPage(375, 812);
    await page.getByRole('button', { name: /notes\.mp4/ }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor({ state: 'visible', timeout: 30_000 });
    await expect(alert.textContent()).resolves.toMatch(/INPUT_NOT_MEDIA/);
    await expect(alert.textContent()).resolves.toMatch(/notes\.mp4/);
    expect(await alert.textContent()).not.toMatch(/at .*\.js:\d+|Error:/);
    // still usable: another video opens
    await page.getByLabel('Video', { exact: true }).setInputFiles(upload);
    await page.getByTestId('timeline').waitFor({ state: 'visible' });
    await page.getByRole('img', { name: 'Key photo frame' }).waitFor({ state: 'visible' });
    await page.waitForFunction(() => {
      const img = document.querySelector('img[alt="Key photo frame"]') as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth > 0;
    });
    // phone width: one column, nothing wider than the screen
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: true });
    // the one failed request is the broken file's analysis; nothing else went wrong
    expect(errors.filter((e) => !/status of 422/.test(e))).toEqual([]);
    await page.context().close();
  });

  it('the "Wallpaper (lock screen)" checkbox locks the still to HEIC and makes a 1080×1920 pair; the .pvt zip unpacks to NAME.pvt/ that inspect --wallpaper calls ready', async () => {
    const { page, errors } = await newPage(1280, 900);
    await page.getByLabel('Video', { exact: true }).setInputFiles(upload);
    await page.getByRole('img', { name: 'Key photo frame' }).waitFor({ state: 'visible' });
    await page.getByLabel('Start (s)').fill('1');
    await page.getByLabel('Start (s)').press('Tab');
    const still = page.getByLabel('Still format');
    const wallpaper = page.getByRole('checkbox', { name: 'Wallpaper (lock screen)', exact: true });
    await wallpaper.check();
    // the wallpaper recipe: a 1 s clip with the key photo in its middle
    expect(Number(await page.getByLabel('Duration (s)').inputValue())).toBeCloseTo(1, 3);
    expect(await still.inputValue()).toBe('heic');
    expect(await still.isDisabled()).toBe(true);
    // off again: the still select is back to what it was, and usable
    await wallpaper.uncheck();
    expect(await still.inputValue()).toBe('jpeg');
    expect(await still.isDisabled()).toBe(false);
    await wallpaper.check();

    const sent = page.waitForRequest((r) => r.method() === 'POST' && /\/conversions$/.test(r.url()));
    await page.getByRole('button', { name: 'Make Live Photo' }).click();
    const body = (await sent).postDataJSON();
    expect(body).toMatchObject({ profile: 'wallpaper', still: 'heic', duration: 1 });
    expect(body.keyFrame - body.start).toBeCloseTo(0.5, 3);
    await page.getByTestId('result').waitFor({ state: 'visible', timeout: 120_000 });
    await page.waitForFunction(() => /Ready/.test(document.querySelector('.lp-status')?.textContent ?? ''), undefined, { timeout: 30_000 });
    await expect(page.getByTestId('result-notes').textContent()).resolves.toContain('1080×1920');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download .pvt (.zip)' }).click()]);
    const dir = path.join(tmp, 'pvt-download');
    const zip = path.join(dir, download.suggestedFilename());
    fs.mkdirSync(dir, { recursive: true });
    await download.saveAs(zip);
    expect(path.basename(zip)).toBe('landscape.pvt.zip');
    execFileSync('unzip', ['-q', zip], { cwd: dir });
    expect(fs.readdirSync(dir).sort()).toEqual(['landscape.pvt', 'landscape.pvt.zip']);
    const pkg = path.join(dir, 'landscape.pvt');
    expect(fs.readdirSync(pkg).sort()).toEqual(['landscape.HEIC', 'landscape.MOV', 'metadata.plist']);
    const report = await inspectPvtPackage(pkg, { wallpaper: true });
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);
    expect(report.wallpaper!.requirements.filter((r) => r.status !== 'met').map((r) => r.id)).toEqual(['device-verified']);
    expect(report.wallpaper!.ready).toBe(true);
    expect(report.stillTime).toBeCloseTo(0.5, 2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'desktop-wallpaper.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('can be driven from the keyboard alone: every control is reachable and named', async () => {
    const { page } = await newPage(1280, 900);
    await page.getByLabel('Video', { exact: true }).setInputFiles(upload);
    await page.getByRole('button', { name: 'Make Live Photo' }).waitFor({ state: 'visible', timeout: 60_000 });
    const names = new Set<string>();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const name = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el === document.body) return '';
        const labelled = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : '';
        return (el.getAttribute('aria-label') || labelled || el.textContent || '').trim();
      });
      if (name) names.add(name);
    }
    for (const control of ['Start (s)', 'Duration (s)', 'Key photo', 'Still format', 'Video codec', 'Motion Photo', 'Make Live Photo']) {
      expect([...names].some((n) => n.includes(control))).toBe(true);
    }
    // Enter on the focused button makes the pair
    await page.getByRole('button', { name: 'Make Live Photo' }).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('result').waitFor({ state: 'visible', timeout: 120_000 });
    await page.context().close();
  });
});
