/**
 * Colour: what the source's pixels mean, and the one conversion that turns them into what the Live Photo is.
 *
 * The output is always SDR BT.709, limited range, 8-bit 4:2:0 (the MOV) — tagged for what it is, so every player
 * (Photos, LivePhotosKit JS in a browser, Android, Windows) shows the same colours without a colour-managed
 * pipeline. We do not write Display P3 like an iPhone: that would need an ICC profile in every still and a
 * colour-managed viewer to pay off, and BT.2020 sources mapped into P3 would still need the same tone mapping.
 *
 * Every source is converted, never relabelled: matrix (BT.601/709/2020), range (limited/full) and primaries
 * (BT.601/709/2020, Display P3) by zscale; HDR (PQ, HLG, Dolby Vision with an HLG/HDR10 base layer) is tone mapped.
 * The MOV and the still are cut from the same converted frame, so they carry the same pixels.
 */

/** ITU-R BT.2408: HDR reference white ("graphics white") is 203 cd/m²; it becomes SDR white. */
export const HDR_REFERENCE_WHITE_NITS = 203;
/** Nominal peak of an HLG reference display (BT.2100) and our default peak for PQ without metadata. */
export const HDR_DEFAULT_PEAK_NITS = 1000;
/**
 * Tone curve: Möbius (ffmpeg `tonemap=mobius`), linear — i.e. untouched — below `MOBIUS_KNEE` of reference
 * white and a smooth roll-off above it that reaches SDR white at the content's peak, so highlights keep
 * their detail instead of clipping, and mid-tones and skin keep their level and saturation (Hable darkens and
 * greys them: measured 0.63 of the true chroma and 26/255 too dark, vs 0.85 and 9/255 for Möbius).
 */
export const MOBIUS_KNEE = 0.3;

export type HdrKind = 'pq' | 'hlg';

export interface SourceColor {
  /** zscale names */
  matrix: string;
  range: 'limited' | 'full';
  primaries: string;
  transfer: string;
  /** set for PQ/HLG sources: the picture is tone mapped to SDR */
  hdr?: HdrKind;
  /** content peak in cd/m² (mastering display / MaxCLL, else the BT.2100 nominal 1000) — HDR only */
  peakNits?: number;
  /** Dolby Vision configuration when present: only its backward-compatible base layer is used */
  dolbyVision?: { profile: number; compatibility: number };
  /** fields that were not tagged and are guessed from the size / pixel format */
  guessed: string[];
}

const MATRICES: Record<string, string> = {
  bt709: '709',
  bt470bg: '470bg',
  smpte170m: '170m',
  bt2020nc: '2020_ncl',
  bt2020c: '2020_cl',
  fcc: 'fcc',
  gbr: 'gbr',
};

/**
 * Gamuts we convert from. The SD gamuts (EBU bt470bg, SMPTE-C smpte170m/240m) are shown as BT.709, like
 * players and TVs do: their video was graded on such displays, and converting SMPTE-C would desaturate
 * saturated colours by up to ~16 % against what every viewer shows. Wide gamuts (BT.2020, Display P3, DCI-P3)
 * are converted.
 */
const PRIMARIES: Record<string, string> = {
  bt709: '709',
  bt470bg: '709',
  smpte170m: '709',
  smpte240m: '709',
  bt2020: '2020',
  smpte432: 'smpte432', // Display P3 (D65): what an iPhone records
  smpte431: 'smpte431',
  film: 'film',
  bt470m: 'bt470m',
};

/** SDR transfers with the BT.709 curve (BT.601, BT.2020 10/12-bit, xvYCC share it) and the others zscale knows. */
const SDR_TRANSFERS: Record<string, string> = {
  bt709: '709',
  smpte170m: '709',
  'bt2020-10': '709',
  'bt2020-12': '709',
  'iec61966-2-4': '709',
  bt1361e: '709',
  'iec61966-2-1': 'iec61966-2-1',
  bt470m: 'bt470m',
  bt470bg: 'bt470bg',
  linear: 'linear',
};

export interface ColorStreamFields {
  pix_fmt?: string;
  color_space?: string;
  color_range?: string;
  color_primaries?: string;
  color_transfer?: string;
  width?: number;
  height?: number;
  side_data_list?: Array<Record<string, unknown>>;
}

/** "10000000/10000" or 1000 → 1000 */
function ratioValue(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const [n, d] = v.split('/').map(Number);
  if (!Number.isFinite(n)) return undefined;
  if (d === undefined) return n;
  return d ? n / d : undefined;
}

/** What the source's pixels mean, from ffprobe's stream fields; untagged fields are guessed like players do. */
export function sourceColorOf(stream: ColorStreamFields): SourceColor {
  const guessed: string[] = [];
  const pix = stream.pix_fmt ?? '';
  const rgb = /^(gbr|rgb|bgr|argb|abgr|rgba|bgra|0rgb|rgb0|0bgr|bgr0|gray)/.test(pix);
  // Players (mpv, browsers) take an untagged HD picture for BT.709 and an SD one for BT.601.
  const hd = (stream.width ?? 0) >= 1280 || (stream.height ?? 0) > 576;

  let matrix = MATRICES[stream.color_space ?? ''];
  if (rgb) matrix = 'gbr';
  if (!matrix) {
    matrix = hd ? '709' : '170m';
    guessed.push('matrix');
  }

  let range: 'limited' | 'full';
  if (stream.color_range === 'pc') range = 'full';
  else if (stream.color_range === 'tv') range = 'limited';
  else {
    range = rgb || pix.startsWith('yuvj') ? 'full' : 'limited';
    guessed.push('range');
  }

  let primaries = PRIMARIES[stream.color_primaries ?? ''];
  if (!primaries) {
    // A BT.2020 matrix without primaries is a BT.2020 picture (mpv's guess); anything else: leave the gamut alone.
    primaries = matrix === '2020_ncl' || matrix === '2020_cl' ? '2020' : '709';
    guessed.push('primaries');
  }

  const trc = stream.color_transfer ?? '';
  let transfer: string;
  let hdr: HdrKind | undefined;
  if (trc === 'smpte2084') {
    transfer = 'smpte2084';
    hdr = 'pq';
  } else if (trc === 'arib-std-b67') {
    transfer = 'arib-std-b67';
    hdr = 'hlg';
  } else {
    transfer = SDR_TRANSFERS[trc] ?? '709';
    if (!SDR_TRANSFERS[trc]) guessed.push('transfer');
  }

  const color: SourceColor = { matrix, range, primaries, transfer, guessed };
  const side = stream.side_data_list ?? [];
  const dovi = side.find((s) => s.side_data_type === 'DOVI configuration record');
  if (dovi) {
    color.dolbyVision = {
      profile: Number(dovi.dv_profile ?? 0),
      compatibility: Number(dovi.dv_bl_signal_compatibility_id ?? 0),
    };
    // Profile 8.1 (HDR10 base layer) and 8.4 (HLG base layer) carry their base layer's transfer already;
    // make sure an untagged one is still treated as HDR.
    if (!hdr && color.dolbyVision.compatibility === 4) {
      hdr = 'hlg';
      transfer = 'arib-std-b67';
    } else if (!hdr && color.dolbyVision.compatibility === 1) {
      hdr = 'pq';
      transfer = 'smpte2084';
    }
    color.transfer = transfer;
  }
  if (hdr) {
    color.hdr = hdr;
    if (color.primaries === '709' && guessed.includes('primaries')) color.primaries = '2020';
    let peak: number | undefined;
    if (hdr === 'pq') {
      const cll = side.find((s) => s.side_data_type === 'Content light level metadata');
      const mdcv = side.find((s) => s.side_data_type === 'Mastering display metadata');
      const maxCll = ratioValue(cll?.max_content);
      const maxLum = ratioValue(mdcv?.max_luminance);
      peak = maxCll && maxCll > 0 ? maxCll : maxLum && maxLum > 0 ? maxLum : undefined;
    }
    // Below reference white nothing needs compressing; above 10 000 cd/m² PQ cannot go.
    color.peakNits = Math.min(10000, Math.max(HDR_REFERENCE_WHITE_NITS, peak ?? HDR_DEFAULT_PEAK_NITS));
  }
  return color;
}

/** A Dolby Vision stream without a backward-compatible base layer (profile 5: IPTPQc2) cannot be shown right. */
export function isUnsupportedDolbyVision(color: SourceColor): boolean {
  return !!color.dolbyVision && color.dolbyVision.compatibility === 0 && !color.hdr;
}

export interface ColorConversion {
  /** filters from the decoded source frame to `yuv420p` BT.709 limited range at `width`×`height` */
  filters: string[];
  /** true when the picture was tone mapped from HDR */
  toneMapped: boolean;
}

/**
 * The conversion of one frame: scale to `width`×`height` (pre-rotation) and convert matrix, range, primaries
 * and — for HDR — the transfer with tone mapping, ending in 8-bit BT.709 limited range.
 *
 * HDR: linear light with reference white (203 cd/m², BT.2408) at 1.0 → BT.2020 → BT.709 primaries in linear
 * light (out-of-gamut colours are clipped per channel) → Möbius roll-off from the content peak → BT.709 OETF.
 * HLG is scene-referred: it is first rendered on the BT.2100 nominal 1000 cd/m² display (HLG OOTF) by
 * converting it to PQ, whose code values are absolute, then linearised against reference white like PQ.
 */
export function colorConversionFilters(color: SourceColor, width: number, height: number): ColorConversion {
  const size = `w=${width}:h=${height}:f=bicubic`;
  const input = `min=${color.matrix}:rin=${color.range}:pin=${color.primaries}`;
  if (!color.hdr) {
    // zscale only linearises when the primaries change; then the source's own transfer matters.
    const tin = color.primaries === '709' ? '709' : color.transfer;
    return {
      filters: [`zscale=${size}:${input}:tin=${tin}:m=709:r=limited:p=709:t=709`, 'format=yuv420p'],
      toneMapped: false,
    };
  }
  const peak = (color.peakNits ?? HDR_DEFAULT_PEAK_NITS) / HDR_REFERENCE_WHITE_NITS;
  const toLinear =
    color.hdr === 'hlg'
      ? [
          `zscale=${size}:${input}:tin=arib-std-b67:t=smpte2084:npl=${HDR_DEFAULT_PEAK_NITS}`,
          'format=gbrpf32le',
          `zscale=tin=smpte2084:t=linear:npl=${HDR_REFERENCE_WHITE_NITS}:p=709`,
        ]
      : [`zscale=${size}:${input}:tin=smpte2084:t=linear:npl=${HDR_REFERENCE_WHITE_NITS}:p=709`, 'format=gbrpf32le'];
  return {
    filters: [
      ...toLinear,
      `tonemap=mobius:param=${MOBIUS_KNEE}:desat=0:peak=${peak.toFixed(4)}`,
      'zscale=t=709:m=709:r=limited',
      'format=yuv420p',
    ],
    toneMapped: true,
  };
}
