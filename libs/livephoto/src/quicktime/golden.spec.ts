import { buildQuickTimeMeta, readMetaEntries } from './quicktime-meta';
import { buildStillImageTimeSample, buildStillImageTimeTrack } from './still-image-time-track';
import { parseBoxes } from './boxes';
import { serializeBox } from './writer';

/** Hex dump lines as printed in the spec's Appendix A ("0000: 00 11 … ascii") → bytes. */
function fromDump(dump: string): Buffer {
  const hex = dump
    .trim()
    .split('\n')
    .map((line) => line.slice(6, 6 + 16 * 3).trim())
    .join(' ');
  return Buffer.from(hex.replace(/\s+/g, ''), 'hex');
}

// Spec Appendix A.2: moov/meta for content identifier 8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6.
const A2 = fromDump(`
0000: 00 00 00 ac 6d 65 74 61 00 00 00 22 68 64 6c 72   ....meta..."hdlr
0010: 00 00 00 00 00 00 00 00 6d 64 74 61 00 00 00 00   ........mdta....
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 3e 6b 65   .............>ke
0030: 79 73 00 00 00 00 00 00 00 01 00 00 00 2e 6d 64   ys............md
0040: 74 61 63 6f 6d 2e 61 70 70 6c 65 2e 71 75 69 63   tacom.apple.quic
0050: 6b 74 69 6d 65 2e 63 6f 6e 74 65 6e 74 2e 69 64   ktime.content.id
0060: 65 6e 74 69 66 69 65 72 00 00 00 44 69 6c 73 74   entifier...Dilst
0070: 00 00 00 3c 00 00 00 01 00 00 00 34 64 61 74 61   ...<.......4data
0080: 00 00 00 01 00 00 00 00 38 46 32 41 33 43 34 44   ........8F2A3C4D
0090: 2d 31 42 32 43 2d 34 44 35 45 2d 38 46 39 30 2d   -1B2C-4D5E-8F90-
00a0: 41 31 42 32 43 33 44 34 45 35 46 36               A1B2C3D4E5F6
`);

// Spec Appendix A.3: still-image-time trak, track 3, cdsc → 1, T = 600, S = 900, stco 0x00123456.
const A3 = fromDump(`
0000: 00 00 02 5c 74 72 61 6b 00 00 00 5c 74 6b 68 64   ...\\trak...\\tkhd
0010: 00 00 00 0f 00 00 00 00 00 00 00 00 00 00 00 03   ................
0020: 00 00 00 00 00 00 03 85 00 00 00 00 00 00 00 00   ................
0030: 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00   ................
0040: 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00   ................
0050: 00 00 00 00 00 00 00 00 40 00 00 00 00 00 00 00   ........@.......
0060: 00 00 00 00 00 00 00 30 65 64 74 73 00 00 00 28   .......0edts...(
0070: 65 6c 73 74 00 00 00 00 00 00 00 02 00 00 03 84   elst............
0080: ff ff ff ff 00 01 00 00 00 00 00 01 00 00 00 00   ................
0090: 00 01 00 00 00 00 00 14 74 72 65 66 00 00 00 0c   ........tref....
00a0: 63 64 73 63 00 00 00 01 00 00 01 b4 6d 64 69 61   cdsc........mdia
00b0: 00 00 00 20 6d 64 68 64 00 00 00 00 00 00 00 00   ... mdhd........
00c0: 00 00 00 00 00 00 02 58 00 00 00 01 55 c4 00 00   .......X....U...
00d0: 00 00 00 34 68 64 6c 72 00 00 00 00 6d 68 6c 72   ...4hdlr....mhlr
00e0: 6d 65 74 61 61 70 70 6c 00 00 00 01 00 00 00 00   metaappl........
00f0: 13 43 6f 72 65 20 4d 65 64 69 61 20 4d 65 74 61   .Core Media Meta
0100: 64 61 74 61 00 00 01 58 6d 69 6e 66 00 00 00 20   data...Xminf...
0110: 67 6d 68 64 00 00 00 18 67 6d 69 6e 00 00 00 00   gmhd....gmin....
0120: 00 40 80 00 80 00 80 00 00 00 00 00 00 00 00 38   .@.............8
0130: 68 64 6c 72 00 00 00 00 64 68 6c 72 61 6c 69 73   hdlr....dhlralis
0140: 61 70 70 6c 00 00 00 00 00 00 00 00 17 43 6f 72   appl.........Cor
0150: 65 20 4d 65 64 69 61 20 44 61 74 61 20 48 61 6e   e Media Data Han
0160: 64 6c 65 72 00 00 00 24 64 69 6e 66 00 00 00 1c   dler...$dinf....
0170: 64 72 65 66 00 00 00 00 00 00 00 01 00 00 00 0c   dref............
0180: 61 6c 69 73 00 00 00 01 00 00 00 d4 73 74 62 6c   alis........stbl
0190: 00 00 00 70 73 74 73 64 00 00 00 00 00 00 00 01   ...pstsd........
01a0: 00 00 00 60 6d 65 62 78 00 00 00 00 00 00 00 01   ...\`mebx........
01b0: 00 00 00 50 6b 65 79 73 00 00 00 48 00 00 00 01   ...Pkeys...H....
01c0: 00 00 00 30 6b 65 79 64 6d 64 74 61 63 6f 6d 2e   ...0keydmdtacom.
01d0: 61 70 70 6c 65 2e 71 75 69 63 6b 74 69 6d 65 2e   apple.quicktime.
01e0: 73 74 69 6c 6c 2d 69 6d 61 67 65 2d 74 69 6d 65   still-image-time
01f0: 00 00 00 10 64 74 79 70 00 00 00 00 00 00 00 41   ....dtyp.......A
0200: 00 00 00 18 73 74 74 73 00 00 00 00 00 00 00 01   ....stts........
0210: 00 00 00 01 00 00 00 01 00 00 00 1c 73 74 73 63   ............stsc
0220: 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00 01   ................
0230: 00 00 00 01 00 00 00 14 73 74 73 7a 00 00 00 00   ........stsz....
0240: 00 00 00 09 00 00 00 01 00 00 00 14 73 74 63 6f   ............stco
0250: 00 00 00 00 00 00 00 01 00 12 34 56               ..........4V
`);

const A4 = fromDump(`
0000: 00 00 00 09 00 00 00 01 ff                        .........
`);

const GOLDEN_ID = '8F2A3C4D-1B2C-4D5E-8F90-A1B2C3D4E5F6';

describe('Apple metadata builders match the spec golden bytes', () => {
  it('decodes the golden dumps to their documented sizes', () => {
    expect([A2.length, A3.length, A4.length]).toEqual([172, 604, 9]);
  });

  it('buildQuickTimeMeta with only the content identifier equals Appendix A.2', () => {
    const meta = serializeBox(buildQuickTimeMeta([{ key: 'com.apple.quicktime.content.identifier', value: GOLDEN_ID }]));
    expect(meta.toString('hex')).toBe(A2.toString('hex'));
  });

  it('buildStillImageTimeTrack(track 3, video 1, S=900, T=600, offset 0x123456) equals Appendix A.3', () => {
    const trak = buildStillImageTimeTrack({ trackId: 3, videoTrackId: 1, stillTimeUnits: 900, timescale: 600, sampleOffset: 0x123456 });
    expect(serializeBox(trak).toString('hex')).toBe(A3.toString('hex'));
  });

  it('buildStillImageTimeSample equals Appendix A.4', () => {
    expect(buildStillImageTimeSample().toString('hex')).toBe(A4.toString('hex'));
  });

  it('parses the golden meta and track and serialises them back byte for byte', () => {
    for (const golden of [A2, A3]) {
      const [box] = parseBoxes(golden);
      expect(serializeBox(box).equals(golden)).toBe(true);
    }
    const [meta] = parseBoxes(A2);
    expect(readMetaEntries(meta)).toEqual([
      { key: 'com.apple.quicktime.content.identifier', namespace: 'mdta', type: 1, value: GOLDEN_ID },
    ]);
  });

  it('uses co64 when the sample offset does not fit 32 bits', () => {
    const trak = buildStillImageTimeTrack({ trackId: 2, videoTrackId: 1, stillTimeUnits: 900, timescale: 600, sampleOffset: 2 ** 33 });
    const bytes = serializeBox(trak);
    const at = bytes.indexOf('co64', 0, 'latin1');
    expect(at).toBeGreaterThan(0);
    expect(bytes.readBigUInt64BE(at + 12)).toBe(BigInt(2 ** 33));
    expect(bytes.indexOf('stco', 0, 'latin1')).toBe(-1);
  });
});
