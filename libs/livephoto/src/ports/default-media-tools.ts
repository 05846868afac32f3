import { createMediaTools } from '@vid2live/media/media-tools';
import type { MediaTools } from './media-tools';

let real: MediaTools | undefined;

/**
 * The tools a stage uses: the ones the caller injected (`ctx.media`), else libs/media's real ones (made once). The
 * only place of the engine's stages that knows which implementation stands behind the port.
 */
export function mediaToolsOf(ctx: { media?: MediaTools } | undefined): MediaTools {
  return ctx?.media ?? (real ??= createMediaTools());
}
