/**
 * The Google Motion Photo v1 XMP packet (live-photo-format.md §6.1) and a reader for it. media3/ExoPlayer
 * matches literal prefixed names and only the attribute form, so the writer emits exactly the spec's shape and
 * the reader reports every deviation a consumer would trip over.
 */

export const GCAMERA_NS = 'http://ns.google.com/photos/1.0/camera/';
export const CONTAINER_NS = 'http://ns.google.com/photos/1.0/container/';
export const CONTAINER_ITEM_NS = 'http://ns.google.com/photos/1.0/container/item/';

export interface MotionPhotoXmpOptions {
  /** byte length of the appended MP4 (Item:Length of the MotionPhoto item) */
  videoLength: number;
  /** still time in µs of the video; -1 = unspecified (readers then take the frame nearest the middle) */
  presentationTimestampUs: number;
  videoMime?: string;
  /** the primary image: `image/jpeg` (default), or `image/heic` whose video follows an 8-byte `mpvd` header (§6.2) */
  primaryMime?: 'image/jpeg' | 'image/heic';
}

export function buildMotionPhotoXmp({ videoLength, presentationTimestampUs, videoMime = 'video/mp4', primaryMime = 'image/jpeg' }: MotionPhotoXmpOptions): string {
  // HEIC: the video is the payload of a top-level `mpvd` box, so the primary's padding is that box's header
  const primaryPadding = primaryMime === 'image/heic' ? 8 : 0;
  return `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 5.1.0-jc003">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:GCamera="${GCAMERA_NS}"
    xmlns:Container="${CONTAINER_NS}"
    xmlns:Item="${CONTAINER_ITEM_NS}"
   GCamera:MotionPhoto="1"
   GCamera:MotionPhotoVersion="1"
   GCamera:MotionPhotoPresentationTimestampUs="${presentationTimestampUs}">
   <Container:Directory>
    <rdf:Seq>
     <rdf:li rdf:parseType="Resource">
      <Container:Item Item:Mime="${primaryMime}" Item:Semantic="Primary" Item:Length="0" Item:Padding="${primaryPadding}"/>
     </rdf:li>
     <rdf:li rdf:parseType="Resource">
      <Container:Item Item:Mime="${videoMime}" Item:Semantic="MotionPhoto" Item:Length="${videoLength}" Item:Padding="0"/>
     </rdf:li>
    </rdf:Seq>
   </Container:Directory>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`;
}

export interface MotionPhotoContainerItem {
  mime?: string;
  semantic?: string;
  length?: number;
  padding?: number;
}

export interface MotionPhotoXmp {
  /** GCamera:MotionPhoto="1" (or media3's legacy Camera: prefix) as an rdf:Description attribute */
  motionPhotoFlag: boolean;
  version: number | null;
  presentationTimestampUs: number | null;
  items: MotionPhotoContainerItem[];
  problems: string[];
}

const ATTRIBUTE = /([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function attributesOf(tag: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const m of tag.matchAll(ATTRIBUTE)) map.set(m[1], m[2] ?? m[3]);
  return map;
}

/** Start tags (with attributes) of every element named `name`. */
function startTags(xml: string, name: string): string[] {
  const re = new RegExp(`<${name.replace('.', '\\.')}(?=[\\s/>])[^>]*>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[0]);
}

const numberOrUndefined = (s: string | undefined): number | undefined =>
  s !== undefined && /^-?\d+$/.test(s.trim()) ? Number(s) : undefined;

export function parseMotionPhotoXmp(xml: string): MotionPhotoXmp {
  const problems: string[] = [];
  const descriptions = startTags(xml, 'rdf:Description').map(attributesOf);
  const attr = (name: string): string | undefined => {
    for (const d of descriptions) if (d.has(name)) return d.get(name);
    return undefined;
  };
  // Namespace bindings may sit on any element; collect them all.
  const bindings = new Map<string, string>();
  for (const m of xml.matchAll(/xmlns:([\w.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) bindings.set(m[1], m[2] ?? m[3]);

  const flagPrefix = attr('GCamera:MotionPhoto') !== undefined ? 'GCamera' : attr('Camera:MotionPhoto') !== undefined ? 'Camera' : null;
  const flagValue = flagPrefix ? attr(`${flagPrefix}:MotionPhoto`) : undefined;
  if (!flagPrefix) {
    if (/<(G?Camera):MotionPhoto[\s>]/.test(xml)) {
      problems.push('GCamera:MotionPhoto is written as an element; media3 and the spec expect an attribute of rdf:Description');
    } else if (attr('GCamera:MicroVideo') !== undefined) {
      problems.push('only the deprecated GCamera:MicroVideo flag is present (readers must ignore it)');
    } else {
      problems.push('no GCamera:MotionPhoto attribute');
    }
  } else if (flagValue !== '1') {
    problems.push(`${flagPrefix}:MotionPhoto is "${flagValue}", expected "1"`);
  }
  if (flagPrefix && bindings.get(flagPrefix) !== GCAMERA_NS) {
    problems.push(`prefix ${flagPrefix} is bound to ${JSON.stringify(bindings.get(flagPrefix) ?? null)}, expected "${GCAMERA_NS}"`);
  }
  const cam = flagPrefix ?? 'GCamera';
  const version = numberOrUndefined(attr(`${cam}:MotionPhotoVersion`)) ?? null;
  if (flagPrefix && version !== 1) problems.push(`${cam}:MotionPhotoVersion is ${version ?? 'missing'}, expected 1`);
  const presentationTimestampUs = numberOrUndefined(attr(`${cam}:MotionPhotoPresentationTimestampUs`)) ?? null;
  if (flagPrefix && presentationTimestampUs === null) problems.push(`${cam}:MotionPhotoPresentationTimestampUs is missing or not an integer`);

  // media3 accepts Container:Directory with Item:* attributes, or GContainer:Directory with GContainerItem:*.
  const forms = [
    { item: 'Container:Item', attrPrefix: 'Item', dirNs: 'Container', nsUri: [CONTAINER_NS, CONTAINER_ITEM_NS] },
    { item: 'GContainer:Item', attrPrefix: 'GContainerItem', dirNs: 'GContainer', nsUri: [CONTAINER_NS, CONTAINER_ITEM_NS] },
  ];
  const items: MotionPhotoContainerItem[] = [];
  for (const form of forms) {
    const tags = startTags(xml, form.item);
    if (tags.length === 0) continue;
    if (bindings.get(form.dirNs) !== form.nsUri[0]) {
      problems.push(`prefix ${form.dirNs} is bound to ${JSON.stringify(bindings.get(form.dirNs) ?? null)}, expected "${form.nsUri[0]}"`);
    }
    if (bindings.get(form.attrPrefix) !== form.nsUri[1]) {
      problems.push(`prefix ${form.attrPrefix} is bound to ${JSON.stringify(bindings.get(form.attrPrefix) ?? null)}, expected "${form.nsUri[1]}"`);
    }
    for (const tag of tags) {
      const a = attributesOf(tag);
      const item: MotionPhotoContainerItem = {
        mime: a.get(`${form.attrPrefix}:Mime`),
        semantic: a.get(`${form.attrPrefix}:Semantic`),
        length: numberOrUndefined(a.get(`${form.attrPrefix}:Length`)),
        padding: numberOrUndefined(a.get(`${form.attrPrefix}:Padding`)),
      };
      if (item.mime === undefined || item.semantic === undefined) {
        problems.push(
          new RegExp(`<${form.attrPrefix}:(Mime|Semantic)[\\s>]`).test(xml)
            ? `${form.item} fields are written as elements; media3 only reads ${form.attrPrefix}:Mime/Semantic attributes`
            : `${form.item} lacks the required ${form.attrPrefix}:Mime and ${form.attrPrefix}:Semantic attributes`,
        );
      }
      items.push(item);
    }
  }
  if (items.length === 0) problems.push('no Container:Directory items');
  else if (items[0].semantic !== 'Primary') problems.push('the first Container:Item is not the Primary image');

  return {
    motionPhotoFlag: flagPrefix !== null && flagValue === '1',
    version,
    presentationTimestampUs,
    items,
    problems: [...new Set(problems)],
  };
}
