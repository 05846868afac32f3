import * as path from 'node:path';
import { readPacketIndex } from '@vid2live/media/analysis';
import { ffmpegSync, makeTempDir, removeDir } from '@vid2live/media/test-media';
import { readMp4PacketIndex } from './sample-index';

describe('readMp4PacketIndex: the MP4/MOV sample tables say what ffprobe says, without starting it', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir('vid2live-index-');
  });
  afterAll(() => removeDir(dir));

  it.each([
    ['mp4, B-frames (ctts + edit list), 25 fps', 'b.mp4', ['-preset', 'medium', '-r', '25']],
    ['mov, no B-frames, 30 fps, audio first', 'p.mov', ['-preset', 'ultrafast', '-g', '45']],
  ])('%s', async (_name, file, opts) => {
    const src = ffmpegSync([
      '-f', 'lavfi', '-i', 'sine=d=6', '-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=30:d=6',
      '-map', '0:a', '-map', '1:v', '-c:a', 'aac', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', ...opts, path.join(dir, file),
    ]);
    const own = await readMp4PacketIndex(src, 'mov,mp4,m4a,3gp,3g2,mj2', 1, 0, 6);
    const probe = await readPacketIndex(src, { start: 0, duration: 6, streamIndex: 1 });
    expect(own).toBeDefined();
    // ffprobe's read interval ends on decoding order, so it may stop a reordered frame or two early
    expect(own!.length - probe.length).toBeGreaterThanOrEqual(0);
    expect(own!.length - probe.length).toBeLessThanOrEqual(2);
    probe.forEach((p, i) => {
      expect(own![i].time).toBeCloseTo(p.time, 4);
      expect(own![i].size).toBe(p.size);
      expect(own![i].key).toBe(p.key);
    });
    // a span starts at the key frame before it
    const span = (await readMp4PacketIndex(src, 'mov,mp4', 1, 2.5, 1))!;
    expect(span[0].key).toBe(true);
    expect(span[0].time).toBeLessThanOrEqual(2.5);
    expect(span[span.length - 1].time).toBeLessThan(3.5);
  });

  it('declines what it cannot vouch for: other containers, audio streams, unreadable files', async () => {
    const mkv = ffmpegSync(['-f', 'lavfi', '-i', 'testsrc2=s=160x120:r=30:d=1', '-c:v', 'libx264', '-preset', 'ultrafast', path.join(dir, 'a.mkv')]);
    expect(await readMp4PacketIndex(mkv, 'matroska,webm', 0, 0, 1)).toBeUndefined();
    const mp4 = path.join(dir, 'p.mov');
    expect(await readMp4PacketIndex(mp4, 'mov,mp4', 0, 0, 1)).toBeUndefined(); // stream 0 is the audio
    expect(await readMp4PacketIndex(mkv, 'mov,mp4', 0, 0, 1)).toBeUndefined();
    expect(await readMp4PacketIndex('http://127.0.0.1:9/x.mp4', 'mov,mp4', 0, 0, 1)).toBeUndefined();
  });
});
