import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeExifTool, exiftool, readAllTags } from '@vid2live/media/exiftool';
import { LivePhotoError } from '@vid2live/errors';
import { buildAppleMakerNote } from '../exif/apple-maker-note';
import { appSegment, findJpegEnd, isExifApp1, isXmpApp1, JpegMarker, listJpegSegments, writeJpegExif, XMP_APP1_IDENTIFIER } from '../exif/jpeg';
import { buildExifTiff } from '../exif/tiff';
import { motionPhotoFileName, readMotionPhoto, writeMotionPhoto } from './motion-photo';
import { buildMotionPhotoXmp, parseMotionPhotoXmp } from './motion-photo-xmp';

const ID = '5B1E7A90-3C2D-4E8F-A1B2-C3D4E5F60718';
let dir: string;
let still: Buffer;
let mp4Path: string;
let movPath: string;

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-mp-'));
  const jpegFile = path.join(dir, 'still.jpg');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-frames:v', '1', '-q:v', '2', jpegFile]);
  still = writeJpegExif(fs.readFileSync(jpegFile), buildExifTiff({ makerNote: buildAppleMakerNote(ID) }));
  mp4Path = path.join(dir, 'clip.mp4');
  const video = ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p'];
  ffmpeg([...video, '-f', 'mp4', '-brand', 'isom', mp4Path]);
  movPath = path.join(dir, 'clip.mov');
  ffmpeg([...video, '-f', 'mov', movPath]);
});

afterAll(async () => {
  await closeExifTool();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('writeMotionPhoto', () => {
  it('writes a Motion Photo that ExifTool and our reader recognise, with the MP4 appended byte for byte', async () => {
    const outputPath = path.join(dir, motionPhotoFileName('PXL_0001'));
    const layout = await writeMotionPhoto({ jpeg: still, mp4Path, outputPath, presentationTimestampUs: 1_500_000 });
    const mp4 = fs.readFileSync(mp4Path);
    const file = fs.readFileSync(outputPath);
    expect(layout).toEqual({ videoOffset: file.length - mp4.length, videoLength: mp4.length, fileSize: file.length });

    const tags = await readAllTags(outputPath);
    expect(tags['XMP-GCamera:MotionPhoto']).toBe(1);
    expect(tags['XMP-GCamera:MotionPhotoVersion']).toBe(1);
    expect(tags['XMP-GCamera:MotionPhotoPresentationTimestampUs']).toBe(1_500_000);
    expect(tags['XMP-GContainer:ContainerDirectory']).toEqual([
      { Item: { Length: 0, Mime: 'image/jpeg', Padding: 0, Semantic: 'Primary' } },
      { Item: { Length: mp4.length, Mime: 'video/mp4', Padding: 0, Semantic: 'MotionPhoto' } },
    ]);
    expect(tags['Apple:ContentIdentifier']).toBe(ID);

    const info = await readMotionPhoto(outputPath);
    expect(info).toEqual({
      isMotionPhoto: true,
      version: 1,
      presentationTimestampUs: 1_500_000,
      videoOffset: layout.videoOffset,
      videoLength: mp4.length,
      videoMime: 'video/mp4',
      videoBrand: 'isom',
      problems: [],
    });
    expect(file.subarray(info.videoOffset!).equals(mp4)).toBe(true);
    // The still ends exactly where the video starts (Primary Padding 0).
    expect(findJpegEnd(file)).toBe(info.videoOffset);

    // ExifTool finds the same trailer on its own.
    const extracted = path.join(dir, 'extracted.mp4');
    await exiftool().extractBinaryTag('MotionPhotoVideo', outputPath, extracted);
    expect(fs.readFileSync(extracted).equals(mp4)).toBe(true);
  });

  it('puts the XMP APP1 right after the Exif APP1 and keeps only one XMP packet', async () => {
    const oldXmp = appSegment(JpegMarker.APP1, Buffer.concat([XMP_APP1_IDENTIFIER, Buffer.from('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')]));
    const withOldXmp = Buffer.concat([still.subarray(0, 2), oldXmp, still.subarray(2)]);
    const outputPath = path.join(dir, 'ordered.MP.jpg');
    await writeMotionPhoto({ jpeg: withOldXmp, mp4Path, outputPath, presentationTimestampUs: -1 });
    const file = fs.readFileSync(outputPath);
    const segments = listJpegSegments(file);
    const exifIndex = segments.findIndex((s) => isExifApp1(file, s));
    expect(exifIndex).toBeGreaterThan(0);
    expect(isXmpApp1(file, segments[exifIndex + 1])).toBe(true);
    expect(segments.filter((s) => isXmpApp1(file, s))).toHaveLength(1);
    const info = await readMotionPhoto(outputPath);
    expect(info.presentationTimestampUs).toBe(-1);
    expect(info.problems).toEqual([]);
  });

  it('replaces an older trailer instead of stacking a second video behind it', async () => {
    const first = path.join(dir, 'first.MP.jpg');
    await writeMotionPhoto({ jpeg: still, mp4Path, outputPath: first, presentationTimestampUs: 0 });
    const again = path.join(dir, 'again.MP.jpg');
    const layout = await writeMotionPhoto({ jpeg: fs.readFileSync(first), mp4Path, outputPath: again, presentationTimestampUs: 0 });
    expect(layout.fileSize).toBe(fs.statSync(first).size);
    expect((await readMotionPhoto(again)).problems).toEqual([]);
  });

  it('refuses a QuickTime video (it would be labelled video/mp4, pitfall P10) and leaves no output', async () => {
    const outputPath = path.join(dir, 'mov.MP.jpg');
    await expect(writeMotionPhoto({ jpeg: still, mp4Path: movPath, outputPath, presentationTimestampUs: 0 })).rejects.toMatchObject({
      code: 'INVALID_CONTAINER',
    });
    expect(fs.existsSync(outputPath)).toBe(false);
  });

  it('stops with CANCELED on an aborted signal and leaves no temporary file', async () => {
    const controller = new AbortController();
    controller.abort();
    const outputPath = path.join(dir, 'canceled.MP.jpg');
    const before = fs.readdirSync(dir).length;
    await expect(writeMotionPhoto({ jpeg: still, mp4Path, outputPath, presentationTimestampUs: 0, signal: controller.signal })).rejects.toMatchObject({
      code: 'CANCELED',
    });
    expect(fs.readdirSync(dir).length).toBe(before);
  });
});

describe('readMotionPhoto', () => {
  /** the 88fafa/VideoToLivePhoto shape: every field as an element, which media3 does not read */
  function elementFormXmp(videoLength: number): string {
    return `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/"
 xmlns:Container="http://ns.google.com/photos/1.0/container/" xmlns:Item="http://ns.google.com/photos/1.0/container/item/">
<GCamera:MotionPhoto>1</GCamera:MotionPhoto><GCamera:MotionPhotoVersion>1</GCamera:MotionPhotoVersion>
<GCamera:MotionPhotoPresentationTimestampUs>0</GCamera:MotionPhotoPresentationTimestampUs>
<Container:Directory><rdf:Seq>
<rdf:li rdf:parseType="Resource"><Container:Item><Item:Mime>image/jpeg</Item:Mime><Item:Semantic>Primary</Item:Semantic></Container:Item></rdf:li>
<rdf:li rdf:parseType="Resource"><Container:Item><Item:Mime>video/mp4</Item:Mime><Item:Semantic>MotionPhoto</Item:Semantic><Item:Length>${videoLength}</Item:Length></Container:Item></rdf:li>
</rdf:Seq></Container:Directory></rdf:Description></rdf:RDF></x:xmpmeta>`;
  }

  it('flags element-form XMP as not a Motion Photo', async () => {
    const mp4 = fs.readFileSync(mp4Path);
    const xmp = appSegment(JpegMarker.APP1, Buffer.concat([XMP_APP1_IDENTIFIER, Buffer.from(elementFormXmp(mp4.length))]));
    const file = path.join(dir, 'element-form.MP.jpg');
    fs.writeFileSync(file, Buffer.concat([still.subarray(0, 2), xmp, still.subarray(2), mp4]));
    const info = await readMotionPhoto(file);
    expect(info.isMotionPhoto).toBe(false);
    expect(info.problems.join('\n')).toMatch(/GCamera:MotionPhoto is written as an element/);
    expect(info.problems.join('\n')).toMatch(/Container:Item fields are written as elements/);
  });

  it('flags a QuickTime trailer labelled video/mp4 and a Length that misses the ftyp', async () => {
    const mov = fs.readFileSync(movPath);
    const make = (length: number, name: string) => {
      const xmp = appSegment(JpegMarker.APP1, Buffer.concat([XMP_APP1_IDENTIFIER, Buffer.from(buildMotionPhotoXmp({ videoLength: length, presentationTimestampUs: 0 }))]));
      const file = path.join(dir, name);
      fs.writeFileSync(file, Buffer.concat([still.subarray(0, 2), xmp, still.subarray(2), mov]));
      return file;
    };
    const labelled = await readMotionPhoto(make(mov.length, 'mov-trailer.MP.jpg'));
    expect(labelled.videoBrand).toBe('qt  ');
    expect(labelled.problems.join('\n')).toMatch(/brand is "qt  "/);
    const off = await readMotionPhoto(make(mov.length - 4, 'bad-length.MP.jpg'));
    expect(off.isMotionPhoto).toBe(false);
    expect(off.problems.join('\n')).toMatch(/no ftyp box/);
  });

  it('reports a plain JPEG as no Motion Photo', async () => {
    const file = path.join(dir, 'plain.jpg');
    fs.writeFileSync(file, still);
    const info = await readMotionPhoto(file);
    expect(info.isMotionPhoto).toBe(false);
    expect(info.problems).toEqual(['no XMP APP1 segment']);
  });
});

describe('parseMotionPhotoXmp', () => {
  it('reads our own packet back and notices a wrong namespace binding', () => {
    const xmp = buildMotionPhotoXmp({ videoLength: 1234, presentationTimestampUs: 700_000 });
    expect(parseMotionPhotoXmp(xmp)).toEqual({
      motionPhotoFlag: true,
      version: 1,
      presentationTimestampUs: 700_000,
      items: [
        { mime: 'image/jpeg', semantic: 'Primary', length: 0, padding: 0 },
        { mime: 'video/mp4', semantic: 'MotionPhoto', length: 1234, padding: 0 },
      ],
      problems: [],
    });
    const wrongNs = xmp.replace('http://ns.google.com/photos/1.0/camera/', 'http://ns.google.com/photos/1.0/kamera/');
    expect(parseMotionPhotoXmp(wrongNs).problems).toEqual([expect.stringMatching(/prefix GCamera is bound to/)]);
  });
});

describe('motionPhotoFileName', () => {
  it('follows the …MP.jpg pattern', () => {
    expect(motionPhotoFileName('IMG_0001')).toBe('IMG_0001.MP.jpg');
    expect(motionPhotoFileName('IMG_0001.JPG')).toBe('IMG_0001.MP.jpg');
    expect(motionPhotoFileName('IMG_0001.MP.jpg'.replace('.MP.jpg', ''))).toMatch(/^[^\s/\\][^/\\]*MP\.(JPG|jpg|JPEG|jpeg)$/);
    expect(() => motionPhotoFileName('a/b')).toThrow(LivePhotoError);
    expect(() => motionPhotoFileName(' x')).toThrow(LivePhotoError);
  });
});
