import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';

/** One entry of a stored (uncompressed) ZIP: the file at `path`, named `name` inside the archive. */
export interface ZipEntry {
  name: string;
  path: string;
}

const ZIP32_MAX = 0xffffffff;

async function crc32OfFile(file: string): Promise<number> {
  let crc = 0;
  for await (const chunk of createReadStream(file)) crc = zlib.crc32(chunk as Buffer, crc);
  return crc >>> 0;
}

/** MS-DOS time and date of `d` (local time, 2 s resolution), as ZIP headers store them. */
function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

/**
 * Writes a ZIP of `entries` without compression (JPEG/HEIC/MOV do not shrink): what Finder, Windows Explorer, iOS
 * Files and `unzip` all open. Plain ZIP32: every file and the archive stay under 4 GiB (a Live Photo pair is a few MB).
 */
export async function writeStoredZip(outPath: string, entries: ZipEntry[], mtime = new Date()): Promise<void> {
  const { time, date } = dosDateTime(mtime);
  const central: Buffer[] = [];
  const out = createWriteStream(outPath);
  let offset = 0;
  const write = async (b: Buffer) => {
    offset += b.length;
    if (!out.write(b)) await once(out, 'drain');
  };
  try {
    for (const e of entries) {
      const { size } = await fs.stat(e.path);
      const crc = await crc32OfFile(e.path);
      const name = Buffer.from(e.name, 'utf8');
      if (size > ZIP32_MAX || offset + size > ZIP32_MAX) throw new Error(`${e.name} is too large for a ZIP32 archive`);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4); // version needed: 2.0
      local.writeUInt16LE(0x0800, 6); // UTF-8 names
      local.writeUInt16LE(0, 8); // stored
      local.writeUInt16LE(time, 10);
      local.writeUInt16LE(date, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(size, 18);
      local.writeUInt32LE(size, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);
      const headerOffset = offset;
      await write(local);
      await write(name);
      await pipeline(createReadStream(e.path), out, { end: false });
      offset += size;

      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
      c.writeUInt16LE(20, 6);
      c.writeUInt16LE(0x0800, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt16LE(time, 12);
      c.writeUInt16LE(date, 14);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(size, 20);
      c.writeUInt32LE(size, 24);
      c.writeUInt16LE(name.length, 28);
      c.writeUInt32LE(((0o100644 << 16) >>> 0) as number, 38); // -rw-r--r--
      c.writeUInt32LE(headerOffset, 42);
      central.push(c, name);
    }
    const centralStart = offset;
    for (const b of central) await write(b);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(offset - centralStart, 12);
    end.writeUInt32LE(centralStart, 16);
    await write(end);
    out.end();
    await once(out, 'finish');
  } catch (e) {
    out.destroy();
    await fs.rm(outPath, { force: true });
    throw e;
  }
}
