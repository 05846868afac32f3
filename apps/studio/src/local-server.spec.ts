import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { inspectLivePhoto } from '@vid2live/livephoto/inspect';
import { inspectPvtPackage } from '@vid2live/livephoto/pvt';
import { makeSource, makeTempDir, removeDir } from '@vid2live/media/test-media';
import { startStudioServer, type RunningStudio } from './local-server';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: any;
}

/** A raw request (fetch would not let us send a foreign Host header). */
function request(studio: RunningStudio, method: string, pathname: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: studio.port, method, path: pathname, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const postJson = (studio: RunningStudio, p: string, body: unknown) =>
  request(studio, 'POST', p, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function waitForConversion(studio: RunningStudio, id: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const r = await request(studio, 'GET', `/api/conversions/${id}`);
    if (r.json.status === 'completed' || r.json.status === 'failed') return r.json;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`conversion ${id} did not end in 60 s`);
}

describe('studio, local backend (HTTP surface of docs/studio.md)', () => {
  let tmp: string;
  let folder: string;
  let studio: RunningStudio;
  let clipId: string;
  let brokenId: string;

  beforeAll(async () => {
    tmp = makeTempDir('studio-');
    folder = path.join(tmp, 'videos');
    const clip = makeSource('no-audio', folder);
    fs.renameSync(clip, path.join(folder, 'Beach day.mov'));
    fs.writeFileSync(path.join(folder, 'notes.mp4'), 'these are my notes, not a video\n');
    studio = await startStudioServer({ folder, maxUploadBytes: 4 * 1024 * 1024 });
    const list = await request(studio, 'GET', '/api/videos');
    clipId = list.json.videos.find((v: { name: string }) => v.name === 'Beach day.mov').id;
    brokenId = list.json.videos.find((v: { name: string }) => v.name === 'notes.mp4').id;
  });
  afterAll(async () => {
    await studio.close();
    removeDir(tmp);
  });

  it('serves the page, LivePhotosKit and its own info on 127.0.0.1', async () => {
    expect(studio.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await request(studio, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body.toString()).toContain('Make Live Photo');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'.*script-src 'self';.*frame-ancestors 'none'/);
    const kit = await request(studio, 'GET', '/vendor/livephotoskit.js');
    expect(kit.status).toBe(200);
    expect(kit.body.toString()).toContain('LivePhotosKit');
    expect((await request(studio, 'GET', '/api/info')).json).toEqual({ mode: 'local', folder, maxUploadBytes: 4 * 1024 * 1024 });
    expect((await request(studio, 'GET', '/../package.json')).status).toBe(404);
  });

  it('lists the folder and analyses a video; a text file named .mp4 is a typed error naming the file, not a path', async () => {
    const a = await request(studio, 'GET', `/api/videos/${clipId}/analysis`);
    expect(a.status).toBe(200);
    expect(a.json.video).toEqual({ id: clipId, name: 'Beach day.mov' });
    expect(a.json.curves.motion.length).toBeGreaterThan(100);
    expect(a.json.thumbnails).toMatchObject({ count: 12, tileHeight: 90 });
    const strip = await request(studio, 'GET', `/api/videos/${clipId}/thumbnails.jpg`);
    expect(strip.headers['content-type']).toBe('image/jpeg');
    expect(strip.body.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));

    const bad = await request(studio, 'GET', `/api/videos/${brokenId}/analysis`);
    expect(bad.status).toBe(422);
    expect(bad.json.error.code).toBe('INPUT_NOT_MEDIA');
    expect(bad.json.error.message).toContain('notes.mp4');
    expect(bad.json.error.message).not.toContain(tmp);
    expect((await request(studio, 'GET', '/api/videos/nosuchvideo00/analysis')).json.error.code).toBe('NOT_FOUND');
  });

  it('gives the frame at t as a JPEG, and the playback proxy by ranges', async () => {
    const f = await request(studio, 'GET', `/api/videos/${clipId}/frame.jpg?t=1.5&w=320`);
    expect(f.status).toBe(200);
    expect(f.body.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const out = (await request(studio, 'GET', `/api/videos/${clipId}/frame.jpg?t=99&w=320`)).json;
    expect(out.error.code).toBe('INVALID_OPTIONS');
    const part = await request(studio, 'GET', `/api/videos/${clipId}/preview.mp4`, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.body.length).toBe(100);
    expect(part.headers['content-range']).toMatch(/^bytes 0-99\/\d+$/);
  });

  it('makes the pair the user chose: window, key photo, HEVC + H.264 preview, Motion Photo, a zip that unpacks to a valid pair', async () => {
    const start = await postJson(studio, `/api/videos/${clipId}/conversions`, {
      start: 0.5,
      duration: 2,
      keyFrame: 1.9,
      still: 'jpeg',
      codec: 'hevc',
      motionPhoto: true,
    });
    expect(start.status).toBe(202);
    const done = await waitForConversion(studio, start.json.id);
    expect(done).toMatchObject({ status: 'completed', progress: { stage: 'done', percent: 100 } });
    expect(done.result.clip).toEqual({ start: 0.5, duration: 2 });
    expect(done.result.stillTime).toBeCloseTo(1.4, 5);
    expect(done.result.files).toEqual({
      still: 'Beach_day.JPG',
      video: 'Beach_day.MOV',
      preview: 'Beach_day.preview.MOV',
      motionPhoto: 'Beach_day.MP.jpg',
      zip: 'Beach_day.zip',
      pvt: 'Beach_day.pvt.zip',
    });
    const zip = await request(studio, 'GET', `/api/conversions/${start.json.id}/files/Beach_day.zip`);
    expect(zip.headers['content-disposition']).toBe('attachment; filename="Beach_day.zip"');
    const unpacked = path.join(tmp, 'unzipped');
    fs.mkdirSync(unpacked);
    fs.writeFileSync(path.join(unpacked, 'pair.zip'), zip.body);
    execFileSync('unzip', ['-q', 'pair.zip'], { cwd: unpacked });
    expect(fs.readdirSync(unpacked).sort()).toEqual(['Beach_day.JPG', 'Beach_day.MOV', 'pair.zip']);
    const report = await inspectLivePhoto(path.join(unpacked, 'Beach_day.JPG'), path.join(unpacked, 'Beach_day.MOV'));
    expect(report.valid).toBe(true);
    expect(report.stillTime).toBeCloseTo(1.4, 2);

    const preview = await request(studio, 'GET', `/api/conversions/${start.json.id}/files/Beach_day.preview.MOV`);
    expect(preview.headers['content-type']).toBe('video/quicktime');
    const traversal = await request(studio, 'GET', `/api/conversions/${start.json.id}/files/..%2F..%2Fvideos%2FBeach%20day.mov`);
    expect(traversal.status).toBe(404);
  });

  it('profile "wallpaper" makes a 1080×1920 HEIC pair ready for inspect --wallpaper; files.pvt unzips to NAME.pvt/ with its three files', async () => {
    const start = await postJson(studio, `/api/videos/${clipId}/conversions`, { start: 0.5, duration: 1, still: 'heic', codec: 'h264', profile: 'wallpaper' });
    expect(start.status).toBe(202);
    const done = await waitForConversion(studio, start.json.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    expect([done.result.width, done.result.height]).toEqual([1080, 1920]);
    expect(done.result.files).toEqual({
      still: 'Beach_day.HEIC',
      video: 'Beach_day.MOV',
      preview: 'Beach_day.MOV',
      stillPreview: 'Beach_day.still-preview.jpg',
      zip: 'Beach_day.zip',
      pvt: 'Beach_day.pvt.zip',
    });
    // the page's stand-in for the HEIC (browsers cannot draw it): the MOV's 1080×1920 frame, as a JPEG
    const stand = await request(studio, 'GET', `/api/conversions/${start.json.id}/files/Beach_day.still-preview.jpg`);
    expect(stand.headers['content-type']).toBe('image/jpeg');
    expect(stand.body.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const dims = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', '-'], { input: stand.body, encoding: 'utf8' });
    expect(dims.trim()).toBe('1080,1920');

    const zip = await request(studio, 'GET', `/api/conversions/${start.json.id}/files/Beach_day.pvt.zip`);
    expect(zip.status).toBe(200);
    expect(zip.headers['content-disposition']).toBe('attachment; filename="Beach_day.pvt.zip"');
    const unpacked = path.join(tmp, 'pvt-unzipped');
    fs.mkdirSync(unpacked);
    fs.writeFileSync(path.join(unpacked, 'pvt.zip'), zip.body);
    execFileSync('unzip', ['-q', 'pvt.zip'], { cwd: unpacked });
    expect(fs.readdirSync(unpacked).sort()).toEqual(['Beach_day.pvt', 'pvt.zip']);
    const pkg = path.join(unpacked, 'Beach_day.pvt');
    expect(fs.readdirSync(pkg).sort()).toEqual(['Beach_day.HEIC', 'Beach_day.MOV', 'metadata.plist']);
    const plist = execFileSync('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', path.join(pkg, 'metadata.plist')], { encoding: 'utf8' });
    expect(JSON.parse(plist)).toEqual({ PFVideoComplementMetadataVersionKey: '1' });
    // the package's files are the pair's own bytes
    const still = await request(studio, 'GET', `/api/conversions/${start.json.id}/files/Beach_day.HEIC`);
    expect(fs.readFileSync(path.join(pkg, 'Beach_day.HEIC')).equals(still.body)).toBe(true);

    const report = await inspectPvtPackage(pkg, { wallpaper: true });
    expect(report.errors).toEqual([]);
    expect(report.valid).toBe(true);
    expect(report.contentIdentifier).toBe(done.result.contentIdentifier);
    expect(report.wallpaper!.requirements.filter((r) => r.status !== 'met').map((r) => r.id)).toEqual(['device-verified']);
    expect(report.wallpaper!.ready).toBe(true);

    const jpegWallpaper = await postJson(studio, `/api/videos/${clipId}/conversions`, { still: 'jpeg', profile: 'wallpaper' });
    expect(jpegWallpaper.status).toBe(400);
    expect(jpegWallpaper.json.error.code).toBe('INVALID_OPTIONS');
    expect((await postJson(studio, `/api/videos/${clipId}/conversions`, { profile: 'cinema' })).json.error.code).toBe('INVALID_OPTIONS');
  });

  it('fails a conversion of a broken file with its code, and refuses bad options before starting', async () => {
    const bad = await postJson(studio, `/api/videos/${brokenId}/conversions`, { still: 'jpeg', codec: 'h264' });
    expect(bad.status).toBe(202);
    const done = await waitForConversion(studio, bad.json.id);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'INPUT_NOT_MEDIA' } });
    expect(done.error.message).not.toContain(tmp);

    expect((await postJson(studio, `/api/videos/${clipId}/conversions`, { codec: 'vp9' })).json.error.code).toBe('INVALID_OPTIONS');
    expect((await postJson(studio, `/api/videos/${clipId}/conversions`, { start: 'soon' })).status).toBe(400);
    const plain = await request(studio, 'POST', `/api/videos/${clipId}/conversions`, { headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(plain.status).toBe(415);
  });

  it('takes an upload up to its limit and refuses a larger one without keeping a byte', async () => {
    const small = fs.readFileSync(path.join(folder, 'Beach day.mov'));
    expect(small.length).toBeLessThan(4 * 1024 * 1024);
    const up = await request(studio, 'POST', '/api/videos?name=..%2F..%2Fclip.mov', { headers: { 'content-type': 'application/octet-stream' }, body: small });
    expect(up.status).toBe(201);
    expect(up.json).toMatchObject({ name: 'clip.mov', size: small.length });
    expect((await request(studio, 'GET', `/api/videos/${up.json.id}/analysis`)).status).toBe(200);

    const big = Buffer.alloc(5 * 1024 * 1024, 1);
    const refused = await request(studio, 'POST', '/api/videos?name=big.mov', { headers: { 'content-type': 'application/octet-stream' }, body: big }).catch(
      (e: NodeJS.ErrnoException) => ({ status: -1, error: e.code }),
    );
    // the studio answers 413 as soon as the declared length is over; a client may see the socket close instead
    expect([413, -1]).toContain(refused.status);
    const uploads = fs.readdirSync(path.join(studio.workDir, 'uploads'));
    expect(uploads).toEqual([up.json.id]);
  });

  it('answers only to its own Host, and changes nothing for another origin', async () => {
    const rebound = await request(studio, 'GET', '/api/videos', { headers: { host: `attacker.example:${studio.port}` } });
    expect(rebound.status).toBe(421);
    expect(rebound.json.error.code).toBe('WRONG_HOST');
    const crossSite = await request(studio, 'POST', `/api/videos/${clipId}/conversions`, {
      headers: { 'content-type': 'application/json', origin: 'https://attacker.example' },
      body: '{}',
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.json.error.code).toBe('CROSS_ORIGIN');
    // another site's page making the browser GET the API (an <img>, a no-cors fetch): refused before any work
    const foreignRead = await request(studio, 'GET', '/api/videos', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(foreignRead.status).toBe(403);
    expect((await request(studio, 'GET', '/api/videos', { headers: { 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
    // a broken percent-encoding is a 400, not a crash
    const bad = await request(studio, 'GET', '/api/videos/%zz/analysis');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('BAD_PATH');
  });
  it('stops while converting: close() returns with the work folder (uploads, outputs) removed', async () => {
    const own = await startStudioServer({ folder });
    try {
      const list = await request(own, 'GET', '/api/videos');
      const id = list.json.videos.find((v: { name: string }) => v.name === 'Beach day.mov').id;
      const started = await postJson(own, `/api/videos/${id}/conversions`, { codec: 'hevc', still: 'heic', duration: 5 });
      expect(started.status).toBe(202);
      for (let i = 0; i < 200; i++) {
        const c = (await request(own, 'GET', `/api/conversions/${started.json.id}`)).json;
        if (c.status === 'active' && c.progress.stage === 'render') break;
        if (c.status !== 'queued' && c.status !== 'active') throw new Error(`ended before it could be stopped: ${JSON.stringify(c)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await own.close();
    }
    expect(fs.existsSync(own.workDir)).toBe(false);
  });
});
