// Press-and-hold preview of a finished pair with Apple's LivePhotosKit JS (vendor/livephotoskit.js, a classic
// script that defines window.LivePhotosKit). Without it, or when the player reports an error, a plain <video> of
// the movie next to the still, and a sentence that says so.

const NAME = 'Live Photo preview';

/**
 * Show the pair in `box`. photoSrc: the still's URL; videoSrc: an H.264 movie of the pair (files.preview);
 * width/height: the output's size (for the aspect ratio). Returns a function that tears the player down.
 */
export function showLivePhoto(box, { photoSrc, videoSrc, metadataVideoSrc, width, height, note = '' }) {
  box.replaceChildren();
  const ratio = width > 0 && height > 0 ? width / height : 3 / 4;
  const LPK = window.LivePhotosKit;
  if (!LPK || typeof LPK.augmentElementAsPlayer !== 'function') {
    fallback(box, { photoSrc, videoSrc, ratio }, 'LivePhotosKit JS did not load, so this is a plain preview: the still and the movie, not the Live Photo effect.');
    return () => {};
  }

  const frame = document.createElement('div');
  frame.className = 'lp-frame';
  frame.style.setProperty('--ratio', String(ratio));
  const el = document.createElement('div');
  el.className = 'livephoto';
  el.dataset.testid = 'livephoto';
  frame.append(el);

  const play = document.createElement('button');
  play.type = 'button';
  play.className = 'lp-play';
  play.textContent = 'Play Live Photo';
  play.setAttribute('aria-describedby', 'lp-hint');
  const hint = document.createElement('p');
  hint.id = 'lp-hint';
  hint.className = 'hint';
  hint.textContent = 'Press and hold the button (mouse, touch, Space or Enter), or hover the LIVE badge, to play it as iPhone does.';
  const status = document.createElement('p');
  status.className = 'lp-status';
  status.setAttribute('role', 'status');
  status.textContent = 'Loading the pair…';
  box.append(frame, play, hint, status);
  if (note) hint.textContent += ` ${note}`;

  let player;
  try {
    player = LPK.augmentElementAsPlayer(el, {
      photoSrc,
      videoSrc,
      ...(metadataVideoSrc ? { metadataVideoSrc } : {}),
      playbackStyle: LPK.PlaybackStyle?.FULL ?? 'full',
      showsNativeControls: true,
      proactivelyLoadsVideo: true,
    });
  } catch (err) {
    fallback(box, { photoSrc, videoSrc, ratio }, `LivePhotosKit JS could not start (${err?.message ?? err}); this is a plain preview instead.`);
    return () => {};
  }
  // LivePhotosKit names its element "Live Photo" (role image); give it ours, again whenever it re-labels itself.
  const name = () => {
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', NAME);
  };
  name();
  let failed = false;
  el.addEventListener('photoload', () => {
    name();
    player.updateSize?.(true);
  });
  // LivePhotosKit draws its movie into canvases and keeps the <video> it plays outside the document; keep that
  // element inside the player (hidden) so the page's movie can be found from the DOM (tests, debugging).
  el.addEventListener('videoload', () => {
    const v = player.video;
    if (v instanceof HTMLVideoElement && v.parentNode !== el) {
      v.hidden = true;
      v.setAttribute('aria-hidden', 'true');
      el.append(v);
    }
  });
  el.addEventListener('canplay', () => {
    name();
    if (!failed) status.textContent = 'Ready: press and hold to play.';
  });
  el.addEventListener('error', (ev) => {
    if (failed) return;
    failed = true;
    const code = ev.detail?.errorCode;
    const what = code === 1 ? 'the still did not load' : code === 2 ? 'the movie did not load' : ev.detail?.error?.message ?? 'unknown error';
    fallback(box, { photoSrc, videoSrc, ratio }, `LivePhotosKit JS could not play this pair (${what}); this is a plain preview instead.`);
  });

  // Press and hold: start on press, wind down gracefully on release, like the LIVE badge does.
  let holding = false;
  const start = () => {
    if (holding) return;
    holding = true;
    player.play();
  };
  const stop = () => {
    if (!holding) return;
    holding = false;
    if (typeof player.beginFinishingPlaybackEarly === 'function') player.beginFinishingPlaybackEarly();
  };
  const isKey = (ev) => ev.key === ' ' || ev.key === 'Enter';
  play.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0) return;
    play.setPointerCapture?.(ev.pointerId);
    start();
  });
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture', 'blur']) play.addEventListener(type, stop);
  play.addEventListener('keydown', (ev) => {
    if (!isKey(ev)) return;
    ev.preventDefault(); // no synthetic click: the press is handled here
    if (!ev.repeat) start();
  });
  play.addEventListener('keyup', (ev) => {
    if (!isKey(ev)) return;
    ev.preventDefault();
    stop();
  });
  // Activation without a press (assistive technology): play it through once.
  play.addEventListener('click', (ev) => {
    if (ev.detail === 0 && !holding) player.play();
  });

  return () => {
    try {
      player.stop?.();
      player.setProperties?.({ photoSrc: null, videoSrc: null });
    } catch {
      /* the element is going away anyway */
    }
    box.replaceChildren();
  };
}

function fallback(box, { photoSrc, videoSrc, ratio }, why) {
  box.replaceChildren();
  const note = document.createElement('p');
  note.className = 'note';
  note.dataset.testid = 'livephoto-fallback';
  note.textContent = why;
  const grid = document.createElement('div');
  grid.className = 'lp-fallback';
  grid.style.setProperty('--ratio', String(ratio));
  const img = document.createElement('img');
  img.src = photoSrc;
  img.alt = 'Still photo of the pair';
  const video = document.createElement('video');
  video.src = videoSrc;
  video.controls = true;
  video.muted = true;
  video.loop = true;
  video.playsInline = true;
  video.preload = 'metadata';
  video.poster = photoSrc;
  video.setAttribute('aria-label', 'Movie of the pair');
  grid.append(img, video);
  box.append(note, grid);
}
