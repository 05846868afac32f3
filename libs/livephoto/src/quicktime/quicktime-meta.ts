import { LivePhotoError } from '@vid2live/errors';
import { fourCC } from '../bmff/header';
import { Box, child, childrenOf } from './boxes';
import { containerBox, fullBox, leafBox, u32s, u32Type } from './writer';

/** `mdta` key names Apple uses in `moov/meta` (spec §3.2). */
export const APPLE_KEYS = {
  contentIdentifier: 'com.apple.quicktime.content.identifier',
  creationDate: 'com.apple.quicktime.creationdate',
  locationISO6709: 'com.apple.quicktime.location.ISO6709',
  make: 'com.apple.quicktime.make',
  model: 'com.apple.quicktime.model',
  software: 'com.apple.quicktime.software',
  livePhotoAuto: 'com.apple.quicktime.live-photo.auto',
  stillImageTime: 'com.apple.quicktime.still-image-time',
  /** the still track's optional 3×3 homography (dtyp 83); the wallpaper recipes write identity */
  stillImageTransform: 'com.apple.quicktime.live-photo-still-image-transform',
  /** per-frame timed metadata of the lock-screen Live Wallpaper recipes (spec §3.4) */
  livePhotoInfo: 'com.apple.quicktime.live-photo-info',
} as const;

/**
 * vid2live's own `mdta` keys, beside Apple's in `moov/meta`. Reverse-DNS names outside `com.apple.*`: readers
 * (Photos, ffprobe, ExifTool) list or ignore keys they do not know.
 */
export const VID2LIVE_KEYS = {
  /** what the pair was made from: see libs/livephoto/src/fingerprint.ts (the CLI resumes only on a match) */
  fingerprint: 'com.vid2live.fingerprint',
} as const;

/** QuickTime well-known data types (`data` type indicator, `dtyp` type) used here. */
export const QT_DATA_TYPE = {
  utf8: 1,
  signedIntBE: 21,
  unsignedIntBE: 22,
  float32BE: 23,
  float64BE: 24,
  int8: 65,
} as const;

export type MetaValue = string | { type: number; data: Buffer };

export interface MetaItem {
  key: string;
  value: MetaValue;
}

/** The `mdta` handler Apple writes: 34 bytes, empty name as two zero bytes (spec §3.2). */
function mdtaHandler(): Box {
  const body = Buffer.alloc(22);
  body.write('mdta', 4, 'latin1'); // pre_defined u32 = 0, then handler_type
  return fullBox('hdlr', 0, 0, body);
}

/**
 * QuickTime-style `moov/meta` (no version/flags): `hdlr mdta`, `keys`, `ilst` with one item per key whose
 * type is the 1-based key index. Strings become `data` type 1 (UTF-8, no NUL), locale 0.
 */
export function buildQuickTimeMeta(items: MetaItem[]): Box {
  const seen = new Set<string>();
  for (const { key } of items) {
    if (seen.has(key)) throw new LivePhotoError('METADATA_WRITE_FAILED', `duplicate metadata key ${key}`);
    seen.add(key);
  }
  const keyEntries = items.map(({ key }) => {
    const name = Buffer.from(key, 'utf8');
    return Buffer.concat([u32s(name.length + 8), Buffer.from('mdta', 'latin1'), name]);
  });
  const keys = fullBox('keys', 0, 0, Buffer.concat([u32s(items.length), ...keyEntries]));
  const ilstItems = items.map(({ value }, i) => {
    const { type, data } = typeof value === 'string' ? { type: QT_DATA_TYPE.utf8, data: Buffer.from(value, 'utf8') } : value;
    const dataBox = leafBox('data', Buffer.concat([u32s(type, 0), data]));
    return containerBox(u32Type(i + 1), [dataBox]);
  });
  return containerBox('meta', [mdtaHandler(), keys, containerBox('ilst', ilstItems)]);
}

export type DecodedMetaValue = string | number | Buffer;

export interface DecodedMetaEntry {
  key: string;
  namespace: string;
  type: number;
  value: DecodedMetaValue;
}

/** Decode a `data` payload by its well-known type; unknown types stay raw bytes. */
export function decodeMetaValue(type: number, bytes: Buffer): DecodedMetaValue {
  switch (type) {
    case QT_DATA_TYPE.utf8:
      return bytes.toString('utf8');
    case QT_DATA_TYPE.signedIntBE:
    case QT_DATA_TYPE.unsignedIntBE: {
      const signed = type === QT_DATA_TYPE.signedIntBE;
      if (bytes.length >= 1 && bytes.length <= 6) return signed ? bytes.readIntBE(0, bytes.length) : bytes.readUIntBE(0, bytes.length);
      if (bytes.length === 8) return Number(signed ? bytes.readBigInt64BE(0) : bytes.readBigUInt64BE(0));
      return Buffer.from(bytes);
    }
    case QT_DATA_TYPE.float32BE:
      return bytes.length === 4 ? bytes.readFloatBE(0) : Buffer.from(bytes);
    case QT_DATA_TYPE.float64BE:
      return bytes.length === 8 ? bytes.readDoubleBE(0) : Buffer.from(bytes);
    default:
      return Buffer.from(bytes);
  }
}

/** Key names of a `meta/keys` FullBox, in index order (index 1 first). */
export function parseKeyNames(keys: Box): Array<{ namespace: string; key: string }> {
  const d = keys.data;
  if (!d || d.length < 8) throw new LivePhotoError('INVALID_CONTAINER', "'keys' box is too short");
  const count = d.readUInt32BE(4);
  const out: Array<{ namespace: string; key: string }> = [];
  let at = 8;
  for (let i = 0; i < count; i++) {
    if (at + 8 > d.length) throw new LivePhotoError('INVALID_CONTAINER', "'keys' entry runs past the box");
    const size = d.readUInt32BE(at);
    if (size < 8 || at + size > d.length) throw new LivePhotoError('INVALID_CONTAINER', "'keys' entry has a bad size");
    out.push({ namespace: fourCC(d, at + 4), key: d.toString('utf8', at + 8, at + size) });
    at += size;
  }
  return out;
}

/** Handler subtype of a `meta` box (`mdta` for QuickTime keys, `mdir` for iTunes-style). */
export function metaHandlerType(meta: Box): string | null {
  const hdlr = child(meta, 'hdlr');
  return hdlr?.data && hdlr.data.length >= 12 ? fourCC(hdlr.data, 8) : null;
}

/** The key/value pairs of an `mdta` `meta` box (QuickTime-style or FullBox). Empty for other handlers. */
export function readMetaEntries(meta: Box): DecodedMetaEntry[] {
  const keysBox = child(meta, 'keys');
  const ilst = child(meta, 'ilst');
  if (!keysBox || !ilst || metaHandlerType(meta) !== 'mdta') return [];
  const names = parseKeyNames(keysBox);
  const entries: DecodedMetaEntry[] = [];
  for (const item of ilst.children ?? []) {
    const index = Buffer.from(item.type, 'latin1').readUInt32BE(0);
    const name = names[index - 1];
    const data = childrenOf(item, 'data')[0];
    if (!name || !data?.data || data.data.length < 8) continue;
    const type = data.data.readUInt32BE(0) & 0xffffff; // byte 0 is the type-set
    entries.push({ key: name.key, namespace: name.namespace, type, value: decodeMetaValue(type, data.data.subarray(8)) });
  }
  return entries;
}

/**
 * Copy of an `mdta` `meta` box without the keys `drop` selects; items are renumbered to the surviving key
 * indexes. Returns null when no key survives (the caller then drops the box).
 */
export function withoutMetaKeys(meta: Box, drop: (key: string) => boolean): Box | null {
  const keysBox = child(meta, 'keys');
  const ilst = child(meta, 'ilst');
  if (!keysBox || !ilst || metaHandlerType(meta) !== 'mdta') return meta;
  const names = parseKeyNames(keysBox);
  const newIndex = new Map<number, number>();
  const kept: Buffer[] = [];
  names.forEach((n, i) => {
    if (drop(n.key)) return;
    const name = Buffer.from(n.key, 'utf8');
    kept.push(Buffer.concat([u32s(name.length + 8), Buffer.from(n.namespace, 'latin1'), name]));
    newIndex.set(i + 1, kept.length);
  });
  if (kept.length === names.length) return meta;
  if (kept.length === 0) return null;
  const version = keysBox.data!.subarray(0, 4);
  const newKeys = leafBox('keys', Buffer.concat([version, u32s(kept.length), ...kept]));
  const newItems: Box[] = [];
  for (const item of ilst.children ?? []) {
    const mapped = newIndex.get(Buffer.from(item.type, 'latin1').readUInt32BE(0));
    if (mapped !== undefined) newItems.push({ ...item, type: u32Type(mapped) });
  }
  const children = (meta.children ?? []).map((c) =>
    c === keysBox ? newKeys : c === ilst ? containerBox('ilst', newItems, ilst.prefix) : c,
  );
  return { ...meta, children };
}
