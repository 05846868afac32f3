/**
 * How a source is named and opened on an ffmpeg/ffprobe command line. Pure (no process is started here), so the
 * engine may use it beside its MediaTools port.
 */

/**
 * True for a source served by the worker's source reader on loopback (`http://127.0.0.1:<port>/…`, its range
 * proxy). ffmpeg never opens any other URL: every network read of a source goes through that reader (pinned DNS,
 * each redirect re-checked, typed errors, timeouts; see libs/sources). Anything else is a local path — an external
 * `https://…` handed to the engine is read as a (non-existent) file name, never fetched.
 */
export function isRemoteSource(source: string): boolean {
  return /^http:\/\/127\.0\.0\.1:\d{1,5}\//.test(source);
}

/**
 * How to name a source on an ffmpeg/ffprobe command line: the reader's loopback URL as it is, local paths with
 * `file:` so a name beginning with '-' or containing ':' is not taken for an option or a protocol.
 */
export function ffmpegInput(source: string): string {
  return isRemoteSource(source) ? source : `file:${source}`;
}

/**
 * `-protocol_whitelist` for a source input: `file` only, or `http,tcp` for the reader's loopback proxy. No
 * https, hls, crypto, data, concat, subfile… so no demuxer (a playlist, a reference movie) can make ffmpeg open
 * anything but the one input it was given.
 */
export function sourceProtocolOptions(source: string): string[] {
  if (!isRemoteSource(source)) return ['-protocol_whitelist', 'file'];
  // A small, fixed socket receive buffer (no autotuning to MBs): ffmpeg's read-ahead, and with it what the proxy
  // fetches from S3 beyond what ffmpeg uses before it seeks away or stops, stays small.
  // `-http_proxy ''`: never through an egress proxy from the environment (http_proxy=…): the proxy would get
  // the loopback URL with its access token, and could not reach 127.0.0.1 anyway.
  return ['-protocol_whitelist', 'http,tcp', '-recv_buffer_size', String(LOOPBACK_RECV_BUFFER_BYTES), '-http_proxy', ''];
}

const LOOPBACK_RECV_BUFFER_BYTES = 128 * 1024;
