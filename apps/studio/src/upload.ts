import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { StudioError } from '@vid2live/studio/http';

/**
 * A raw upload (`POST api/videos?name=NAME`, the local backend) written to `<dir>/<id>/<name>`: refused before
 * reading when its declared length is over `maxBytes`, cut off (and removed) as soon as it goes over, an empty one
 * removed too. `name` is already a safe file name (`safeName`).
 */
export async function receiveUpload(
  req: IncomingMessage,
  name: string,
  dir: string,
  maxBytes: number,
): Promise<{ id: string; name: string; file: string; size: number }> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new StudioError(413, 'UPLOAD_TOO_LARGE', `${name} is ${declared} bytes; the studio takes at most ${maxBytes}`);
  }
  const id = randomBytes(10).toString('hex');
  const folder = path.join(dir, id);
  await fs.mkdir(folder, { recursive: true });
  const file = path.join(folder, name);
  let size = 0;
  try {
    await pipeline(
      req,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > maxBytes) throw new StudioError(413, 'UPLOAD_TOO_LARGE', `${name} is over ${maxBytes} bytes, the studio's limit`);
          yield chunk;
        }
      },
      createWriteStream(file),
    );
  } catch (e) {
    await fs.rm(folder, { recursive: true, force: true });
    throw e;
  }
  if (size === 0) {
    await fs.rm(folder, { recursive: true, force: true });
    throw new StudioError(400, 'UPLOAD_EMPTY', `${name} is empty`);
  }
  return { id, name, file, size };
}
