import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FfprobeResult } from '@vid2live/media/ffprobe-data';
import type { FrameAnalysis, FrameAnalysisRequest, PacketIndexRequest, PacketInfo } from '@vid2live/media/measures';

/**
 * What the media tools answered for one source in a real run (ffprobe's JSON, the plan stage's frame analyses and
 * packet indexes), recorded by record-fixtures.ts into fixtures/<name>.json. The fast tests replay it through the
 * MediaTools port (replay-media-tools.ts): the engine then decides exactly as it did on the real file, with no
 * process started.
 */
export interface MediaRecording {
  /** the source's file name (real-media fixture, the iPhone clip, or a generated clip) */
  name: string;
  /** where it came from: `shared/fixtures/real-media`, `shared/fixtures`, or the ffmpeg arguments that made it */
  origin: string;
  sizeBytes: number;
  /** the source's first bytes (up to 64, base64): what the probe stage reads before ffprobe */
  head: string;
  /** ffprobe's answer; `format.filename` and paths in stderr are replaced by RECORDED_DIR/<name> */
  probe: FfprobeResult;
  /** every frame analysis the automatic plan asked for, in order */
  analyses: Array<{ request: AnalysisKey; result: FrameAnalysis }>;
  /** every packet index the plan's compressed pass used (what the MP4 sample tables or ffprobe said) */
  packets: Array<{ request: PacketKey; result: PacketInfo[] }>;
}

/** The directory recorded sources pretend to live in (it does not exist: nothing may read a file there). */
export const RECORDED_DIR = '/recorded-media';

export const recordedPath = (name: string): string => `${RECORDED_DIR}/${name}`;

export interface AnalysisKey {
  start: string;
  duration: string;
  displayWidth: number;
  displayHeight: number;
  streamIndex: number | null;
}

export interface PacketKey {
  start: string;
  duration: string;
  streamIndex: number | null;
}

/** Requests are matched at the precision ffmpeg is given them (`-ss`/`-t` with 3 decimals). */
export function analysisKey(r: FrameAnalysisRequest): AnalysisKey {
  return {
    start: r.start.toFixed(3),
    duration: r.duration.toFixed(3),
    displayWidth: r.displayWidth,
    displayHeight: r.displayHeight,
    streamIndex: r.streamIndex ?? null,
  };
}

export function packetKey(r: PacketIndexRequest): PacketKey {
  return { start: r.start.toFixed(3), duration: r.duration.toFixed(3), streamIndex: r.streamIndex ?? null };
}

export const FIXTURE_DIR = path.join(__dirname, 'fixtures');

export function loadRecording(name: string): MediaRecording {
  return JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, `${name}.json`), 'utf8')) as MediaRecording;
}

/** Every recording in fixtures/ (one per source), by name. */
export function loadAllRecordings(): Map<string, MediaRecording> {
  const out = new Map<string, MediaRecording>();
  for (const file of fs.readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const r = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, file), 'utf8')) as MediaRecording;
    out.set(r.name, r);
  }
  return out;
}

/** Boxes a healthy file may start with that say nothing about its media (kept when they fit in the recorded head). */
const LEADING_BOXES = new Set(['ftyp', 'wide', 'free', 'skip']);

/**
 * A local file named like the recorded source, holding what the probe stage reads before ffprobe: for a box file
 * its leading ftyp/wide/free boxes (so the HEIF brand check sees the real brands and the integrity check has no
 * media to judge), otherwise the recorded first bytes. ffprobe's answer then comes from the recording.
 */
export function writeRecordedSource(rec: MediaRecording, dir: string): string {
  const head = Buffer.from(rec.head, 'base64');
  let bytes = head;
  if (head.length >= 8 && [...LEADING_BOXES, 'mdat', 'moov', 'pnot', 'uuid'].includes(head.toString('latin1', 4, 8))) {
    let end = 0;
    while (end + 8 <= head.length) {
      const size = head.readUInt32BE(end);
      if (!LEADING_BOXES.has(head.toString('latin1', end + 4, end + 8)) || size < 8 || end + size > head.length) break;
      end += size;
    }
    bytes = head.subarray(0, end);
  }
  const file = path.join(dir, rec.name);
  fs.writeFileSync(file, bytes);
  return file;
}
