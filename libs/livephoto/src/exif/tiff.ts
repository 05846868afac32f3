import { LivePhotoError } from '@vid2live/errors';
import { AppleMakerNote, isAppleMakerNote, parseAppleMakerNote } from './apple-maker-note';
import {
  asciiEntry,
  byteEntry,
  encodeIfd,
  ifdByteLength,
  IfdEntryInput,
  longEntry,
  rationalEntry,
  readIfd,
  shortEntry,
  TiffByteOrder,
  TiffReader,
  TiffValue,
  u16,
  u32,
  undefinedEntry,
} from './tiff-ifd';

export const ExifTag = {
  // IFD0
  Make: 0x010f,
  Model: 0x0110,
  Orientation: 0x0112,
  Software: 0x0131,
  ExifIFDPointer: 0x8769,
  GPSInfoPointer: 0x8825,
  // Exif IFD
  ExifVersion: 0x9000,
  DateTimeOriginal: 0x9003,
  CreateDate: 0x9004,
  OffsetTimeOriginal: 0x9011,
  OffsetTimeDigitized: 0x9012,
  MakerNote: 0x927c,
  ColorSpace: 0xa001,
  PixelXDimension: 0xa002,
  PixelYDimension: 0xa003,
} as const;

export const GpsTag = {
  GPSVersionID: 0x0000,
  GPSLatitudeRef: 0x0001,
  GPSLatitude: 0x0002,
  GPSLongitudeRef: 0x0003,
  GPSLongitude: 0x0004,
  GPSAltitudeRef: 0x0005,
  GPSAltitude: 0x0006,
} as const;

export interface ExifGps {
  /** degrees, negative = south */
  latitude: number;
  /** degrees, negative = west */
  longitude: number;
  /** metres, negative = below sea level */
  altitude?: number;
}

export interface ExifTiffOptions {
  make?: string;
  model?: string;
  software?: string;
  /** 1 = pixels are stored upright; the engine always encodes upright stills */
  orientation?: number;
  /** local capture time 'YYYY:MM:DD HH:MM:SS' (written as DateTimeOriginal and CreateDate) */
  dateTimeOriginal?: string;
  /** UTC offset of dateTimeOriginal, '+09:00' */
  offsetTimeOriginal?: string;
  gps?: ExifGps;
  /**
   * the Apple MakerNote blob (`buildAppleMakerNote`); omitted for a still that must not claim a Live Photo
   * content identifier (the Google Motion Photo)
   */
  makerNote?: Buffer;
  imageWidth?: number;
  imageHeight?: number;
}

const DATE_TIME_PATTERN = /^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}$/;
const OFFSET_PATTERN = /^[+-]\d{2}:\d{2}$/;
const TIFF_HEADER_LENGTH = 8;
/** Sub-second precision of the GPS seconds rational: 1e-6 s of arc ≈ 3 cm. */
const GPS_SECONDS_DENOMINATOR = 1_000_000;
const GPS_ALTITUDE_DENOMINATOR = 1000;

function invalid(field: string, value: unknown, why: string): LivePhotoError {
  return new LivePhotoError('METADATA_WRITE_FAILED', `Exif ${field} ${why}: ${JSON.stringify(value)}`, { field, value });
}

/**
 * Build the big-endian TIFF block of an Exif APP1 / HEIF Exif item: IFD0 → Exif IFD (with the Apple MakerNote, if given)
 * and optionally a GPS IFD (live-photo-format.md §2.3). Layout: header, IFD0, Exif IFD, GPS IFD, each
 * followed by its own values.
 */
export function buildExifTiff(options: ExifTiffOptions): Buffer {
  const { make = 'Apple', model, software, orientation = 1, dateTimeOriginal, offsetTimeOriginal, gps, makerNote } = options;
  if (!Number.isInteger(orientation) || orientation < 1 || orientation > 8) throw invalid('orientation', orientation, 'must be 1..8');
  if (dateTimeOriginal !== undefined && !DATE_TIME_PATTERN.test(dateTimeOriginal)) {
    throw invalid('dateTimeOriginal', dateTimeOriginal, "must look like 'YYYY:MM:DD HH:MM:SS'");
  }
  if (offsetTimeOriginal !== undefined && !OFFSET_PATTERN.test(offsetTimeOriginal)) {
    throw invalid('offsetTimeOriginal', offsetTimeOriginal, "must look like '+09:00'");
  }
  for (const [field, v] of [['imageWidth', options.imageWidth], ['imageHeight', options.imageHeight]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v <= 0 || v > 0xffffffff)) throw invalid(field, v, 'must be a positive integer');
  }

  const ifd0: IfdEntryInput[] = [asciiEntry(ExifTag.Make, make), shortEntry(ExifTag.Orientation, orientation)];
  if (model !== undefined) ifd0.push(asciiEntry(ExifTag.Model, model));
  if (software !== undefined) ifd0.push(asciiEntry(ExifTag.Software, software));

  const exif: IfdEntryInput[] = [
    undefinedEntry(ExifTag.ExifVersion, Buffer.from('0232', 'latin1')),
    shortEntry(ExifTag.ColorSpace, 1), // sRGB
  ];
  if (makerNote !== undefined) exif.push(undefinedEntry(ExifTag.MakerNote, makerNote));
  if (dateTimeOriginal !== undefined) {
    exif.push(asciiEntry(ExifTag.DateTimeOriginal, dateTimeOriginal), asciiEntry(ExifTag.CreateDate, dateTimeOriginal));
  }
  if (offsetTimeOriginal !== undefined) {
    exif.push(asciiEntry(ExifTag.OffsetTimeOriginal, offsetTimeOriginal), asciiEntry(ExifTag.OffsetTimeDigitized, offsetTimeOriginal));
  }
  if (options.imageWidth !== undefined) exif.push(longEntry(ExifTag.PixelXDimension, options.imageWidth));
  if (options.imageHeight !== undefined) exif.push(longEntry(ExifTag.PixelYDimension, options.imageHeight));

  const gpsEntries = gps ? buildGpsEntries(gps) : undefined;

  // IFD sizes do not depend on the pointer values, so lay out with placeholders first, then fill them in.
  const pointerCount = gpsEntries ? 2 : 1;
  const ifd0Length = ifdByteLength([...ifd0, ...Array.from({ length: pointerCount }, () => longEntry(0, 0))]);
  const exifOffset = even(TIFF_HEADER_LENGTH + ifd0Length);
  const gpsOffset = even(exifOffset + ifdByteLength(exif));
  ifd0.push(longEntry(ExifTag.ExifIFDPointer, exifOffset));
  if (gpsEntries) ifd0.push(longEntry(ExifTag.GPSInfoPointer, gpsOffset));

  const header = Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, TIFF_HEADER_LENGTH]);
  const parts = [header, encodeIfd(ifd0, TIFF_HEADER_LENGTH)];
  appendAt(parts, exifOffset, encodeIfd(exif, exifOffset));
  if (gpsEntries) appendAt(parts, gpsOffset, encodeIfd(gpsEntries, gpsOffset));
  return Buffer.concat(parts);
}

const even = (n: number): number => n + (n & 1);

function appendAt(parts: Buffer[], offset: number, block: Buffer): void {
  const length = parts.reduce((n, p) => n + p.length, 0);
  if (offset > length) parts.push(Buffer.alloc(offset - length));
  parts.push(block);
}

function buildGpsEntries(gps: ExifGps): IfdEntryInput[] {
  const { latitude, longitude, altitude } = gps;
  if (!Number.isFinite(latitude) || Math.abs(latitude) > 90) throw invalid('gps.latitude', latitude, 'must be within ±90');
  if (!Number.isFinite(longitude) || Math.abs(longitude) > 180) throw invalid('gps.longitude', longitude, 'must be within ±180');
  const entries = [
    byteEntry(GpsTag.GPSVersionID, [2, 3, 0, 0]),
    asciiEntry(GpsTag.GPSLatitudeRef, latitude < 0 ? 'S' : 'N'),
    rationalEntry(GpsTag.GPSLatitude, degreesMinutesSeconds(latitude)),
    asciiEntry(GpsTag.GPSLongitudeRef, longitude < 0 ? 'W' : 'E'),
    rationalEntry(GpsTag.GPSLongitude, degreesMinutesSeconds(longitude)),
  ];
  if (altitude !== undefined) {
    const scaled = Math.round(Math.abs(altitude) * GPS_ALTITUDE_DENOMINATOR);
    if (!Number.isFinite(altitude) || scaled > 0xffffffff) throw invalid('gps.altitude', altitude, 'is out of range');
    entries.push(
      byteEntry(GpsTag.GPSAltitudeRef, [altitude < 0 ? 1 : 0]),
      rationalEntry(GpsTag.GPSAltitude, [[scaled, GPS_ALTITUDE_DENOMINATOR]]),
    );
  }
  return entries;
}

/** |angle| as three rationals: whole degrees, whole minutes, seconds in millionths. */
function degreesMinutesSeconds(angle: number): Array<[number, number]> {
  const totalMicroSeconds = Math.round(Math.abs(angle) * 3600 * GPS_SECONDS_DENOMINATOR);
  const perDegree = 3600 * GPS_SECONDS_DENOMINATOR;
  const perMinute = 60 * GPS_SECONDS_DENOMINATOR;
  const degrees = Math.floor(totalMicroSeconds / perDegree);
  const minutes = Math.floor((totalMicroSeconds - degrees * perDegree) / perMinute);
  const micro = totalMicroSeconds - degrees * perDegree - minutes * perMinute;
  return [[degrees, 1], [minutes, 1], [micro, GPS_SECONDS_DENOMINATOR]];
}

// ---------------------------------------------------------------------------------------------- reading

export interface ParsedExifTiff {
  byteOrder: TiffByteOrder;
  ifd0: Map<number, TiffValue>;
  exif: Map<number, TiffValue>;
  gps: Map<number, TiffValue>;
  /** present when the Exif IFD's MakerNote is an Apple one */
  makerNote?: AppleMakerNote;
}

/** Parse a TIFF block (either byte order): IFD0, the Exif IFD, the GPS IFD and an Apple MakerNote. */
export function parseExifTiff(buf: Buffer): ParsedExifTiff {
  if (buf.length < TIFF_HEADER_LENGTH) throw new LivePhotoError('INVALID_CONTAINER', 'TIFF block is shorter than its header');
  const order = buf.subarray(0, 2).toString('latin1');
  if (order !== 'MM' && order !== 'II') throw new LivePhotoError('INVALID_CONTAINER', `TIFF block has an unknown byte order "${order}"`);
  const reader: TiffReader = { buf, littleEndian: order === 'II' };
  if (u16(reader, 2) !== 42) throw new LivePhotoError('INVALID_CONTAINER', 'TIFF magic number is not 42');

  const toMap = (offset: number) => new Map(readIfd(reader, offset).entries.map((e) => [e.tag, e.value] as const));
  const ifd0 = toMap(u32(reader, 4));
  const exifPointer = ifd0.get(ExifTag.ExifIFDPointer);
  const gpsPointer = ifd0.get(ExifTag.GPSInfoPointer);
  const exif = typeof exifPointer === 'number' ? toMap(exifPointer) : new Map<number, TiffValue>();
  const gps = typeof gpsPointer === 'number' ? toMap(gpsPointer) : new Map<number, TiffValue>();
  const makerNoteBlob = exif.get(ExifTag.MakerNote);
  const makerNote = Buffer.isBuffer(makerNoteBlob) && isAppleMakerNote(makerNoteBlob) ? parseAppleMakerNote(makerNoteBlob) : undefined;
  return { byteOrder: order, ifd0, exif, gps, ...(makerNote ? { makerNote } : {}) };
}

/** Signed decimal degrees from a parsed GPS IFD (the rationals already folded to numbers), or undefined. */
export function gpsPositionOf(tiff: ParsedExifTiff): ExifGps | undefined {
  const angle = (value: TiffValue | undefined, ref: TiffValue | undefined, negative: string): number | undefined => {
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [d, m, s] = value.map(Number);
    const v = d + m / 60 + s / 3600;
    return ref === negative ? -v : v;
  };
  const latitude = angle(tiff.gps.get(GpsTag.GPSLatitude), tiff.gps.get(GpsTag.GPSLatitudeRef), 'S');
  const longitude = angle(tiff.gps.get(GpsTag.GPSLongitude), tiff.gps.get(GpsTag.GPSLongitudeRef), 'W');
  if (latitude === undefined || longitude === undefined) return undefined;
  const alt = tiff.gps.get(GpsTag.GPSAltitude);
  const altRef = tiff.gps.get(GpsTag.GPSAltitudeRef);
  return { latitude, longitude, ...(typeof alt === 'number' ? { altitude: altRef === 1 ? -alt : alt } : {}) };
}
