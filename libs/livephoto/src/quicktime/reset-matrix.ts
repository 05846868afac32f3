import { promises as fs } from 'node:fs';
import { readTopLevelBoxes } from './top-level';
import { identityMatrixBytes, trackMatrixOffsets } from './movie';

/**
 * Sets every track's display matrix to identity, in place (same size, so no offset moves). The render applies
 * the source's rotation/mirroring to the pixels itself with autorotate off, and ffmpeg 5.1 then copies the
 * source's matrix to the output track: players would rotate the upright pixels a second time.
 */
export async function resetDisplayMatrices(file: string): Promise<number> {
  const { boxes } = await readTopLevelBoxes(file);
  const moov = boxes.find((b) => b.type === 'moov');
  if (!moov) return 0;
  const offsets = trackMatrixOffsets(moov);
  const identity = identityMatrixBytes();
  const handle = await fs.open(file, 'r+');
  try {
    for (const at of offsets) await handle.write(identity, 0, identity.length, at);
  } finally {
    await handle.close();
  }
  return offsets.length;
}
