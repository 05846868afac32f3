/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';

/** What both studio backends' Chromium tests do with the finished Live Photo on the page. */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const STUDIO_ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts', 'studio');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

/** LivePhotosKit is ready; returns the key photo time it read from the (metadata) MOV. */
export async function livePhotoReady(page: Page): Promise<number | undefined> {
  await page.waitForFunction(() => /Ready/.test(document.querySelector('.lp-status')?.textContent ?? ''), undefined, { timeout: 30_000 });
  return page.evaluate(() => (document.querySelector('[data-testid="livephoto"]') as unknown as { photoTime?: number }).photoTime);
}

/** Press and hold the Live Photo until its video has played 0.2 s; a screenshot while it plays. */
export async function pressAndHold(page: Page, screenshot: string): Promise<void> {
  await page.getByRole('button', { name: 'Play Live Photo' }).hover();
  await page.mouse.down();
  await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid="livephoto"] video') as HTMLVideoElement | null;
      return !!v && v.currentTime > 0.2;
    },
    undefined,
    { timeout: 20_000 },
  );
  await page.screenshot({ path: path.join(STUDIO_ARTIFACTS, screenshot), fullPage: true });
  await page.mouse.up();
}

/** Clicks the link named `linkName`, saves the download into `dir` and unzips it there; returns the zip's path. */
export async function downloadAndUnzip(page: Page, linkName: string, dir: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: linkName }).click()]);
  const zip = path.join(dir, download.suggestedFilename());
  fs.mkdirSync(dir, { recursive: true });
  await download.saveAs(zip);
  execFileSync('unzip', ['-q', zip], { cwd: dir });
  return zip;
}
