import { spawnSync } from 'node:child_process';
import { resolveMediaBinaries } from './binaries';
import {
  AUDIO_DEMUXERS,
  demuxerKind,
  IMAGE_DEMUXERS,
  PROBE_FORMAT_WHITELIST,
  rejectedDemuxer,
  SOURCE_FORMAT_WHITELIST,
  VIDEO_DEMUXERS,
} from './demuxers';

describe('demuxer allow-list', () => {
  it('classifies ffprobe format names, comma lists included', () => {
    expect(demuxerKind('mov,mp4,m4a,3gp,3g2,mj2')).toBe('video');
    expect(demuxerKind('matroska,webm')).toBe('video');
    for (const f of ['avi', 'mpegts', 'mpeg', 'flv', 'asf', 'ogg', 'mxf', 'm4v', 'h264', 'hevc', 'ivf', 'gif']) {
      expect(demuxerKind(f)).toBe('video');
    }
    expect(demuxerKind('wav')).toBe('audio');
    expect(demuxerKind('mp3')).toBe('audio');
    expect(demuxerKind('image2')).toBe('image');
    expect(demuxerKind('jpeg_pipe')).toBe('image');
    expect(demuxerKind('some_future_pipe')).toBe('image');
    for (const f of ['tty', 'srt', 'webvtt', 'hls', 'dash', 'concat', 'lavfi', 'ffmetadata', 'bin', '']) {
      expect(demuxerKind(f)).toBeUndefined();
    }
  });

  it('never lets playlists, text or devices through, and decodes sources with video demuxers only', () => {
    const probeList = PROBE_FORMAT_WHITELIST.split(',');
    for (const f of ['tty', 'hls', 'dash', 'concat', 'lavfi', 'srt', 'bin', 'x11grab', 'video4linux2', 'fbdev']) {
      expect(probeList).not.toContain(f);
    }
    expect(SOURCE_FORMAT_WHITELIST.split(',')).toEqual([...VIDEO_DEMUXERS]);
    for (const f of [...IMAGE_DEMUXERS, ...AUDIO_DEMUXERS]) expect(VIDEO_DEMUXERS).not.toContain(f);
  });

  it('names the demuxer ffprobe detected when it refused a file', () => {
    expect(rejectedDemuxer("[tty @ 0x5612630bb4c0] Format not on whitelist 'mov,mp4'\nfile:x.txt: Invalid argument")).toBe('tty');
    expect(rejectedDemuxer("[matroska,webm @ 0x1] Format not on whitelist 'mov'")).toBe('matroska,webm');
    expect(rejectedDemuxer('file:x.mp4: Invalid data found when processing input')).toBeUndefined();
  });

  it('is accepted by this ffprobe (an unknown option would make every probe fail)', () => {
    const { ffprobe } = resolveMediaBinaries();
    const r = spawnSync(ffprobe.path, ['-v', 'error', '-format_whitelist', PROBE_FORMAT_WHITELIST, '-f', 'lavfi', 'testsrc=d=0.1'], {
      encoding: 'utf8',
    });
    // lavfi is not on the list: refused by the whitelist, not by option parsing
    expect(r.status).not.toBe(0);
    expect(rejectedDemuxer(r.stderr)).toBe('lavfi');
  });
});
