// vid2live studio: open a video, see the engine's view of it, adjust the moment, make the Live Photo, take it home.
// The HTTP contract is docs/studio.md; every URL is relative ('api/…') so the page works under / and /studio/.
import { mountTimeline, gridOf, clampSelection, lastKeyFrame } from './timeline.js';
import { showLivePhoto } from './livephoto.js';
import { ApiError, api, uploadFile } from './api.js';

const $ = (sel) => document.querySelector(sel);
const enc = encodeURIComponent;
const POLL_MS = 500;
const FRAME_DEBOUNCE_MS = 150;

/** The page's state, all in one place. Selections are frame indices on the engine's 30 fps grid. */
const state = {
  info: null, // GET api/info
  videos: [], // GET api/videos
  busy: '', // '' | 'upload' | 'analysis'
  video: null, // the open video { id, name, size }
  analysis: null,
  grid: null, // { fps, total, minDur, maxDur } of the analysis
  sel: null, // { startF, durF, keyF }
  opts: { still: 'jpeg', codec: 'h264', motionPhoto: false, profile: 'standard' },
  conversion: null, // the last GET api/conversions/:id answer (or a local 'queued' placeholder)
  request: null, // the body that conversion was made from
  error: null, // { context, code, message }
  seq: 0, // bumps on every video opened or conversion started: stale answers are dropped
};

const videoUrl = (id, what) => `api/videos/${enc(id)}/${what}`;
const fileUrl = (conversionId, name) => `api/conversions/${enc(conversionId)}/files/${enc(name)}`;
const seconds = (frames) => +(frames / (state.grid?.fps ?? 30)).toFixed(6);
const fmt = (s, digits = 3) => `${Number(s).toFixed(digits)} s`;

function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) (n /= 1000), i++;
  return `${n.toFixed(i && n < 10 ? 1 : 0)} ${units[i]}`;
}

// ---------------------------------------------------------------- errors

function showError(context, err) {
  const known = err instanceof ApiError || (err && typeof err.code === 'string');
  state.error = {
    context,
    code: known ? err.code : 'UNEXPECTED',
    message: known ? err.message : `something went wrong in the page (${err?.message ?? String(err)})`,
  };
  renderError();
}

function clearError() {
  state.error = null;
  renderError();
}

function renderError() {
  const box = $('#error');
  box.replaceChildren();
  $('#error-box').classList.toggle('shown', Boolean(state.error));
  $('#dismiss').hidden = !state.error;
  if (!state.error) return;
  const { context, code, message } = state.error;
  const title = document.createElement('strong');
  title.textContent = `${context} failed.`;
  const detail = document.createElement('p');
  const c = document.createElement('code');
  c.textContent = code;
  detail.append(c, `: ${message || 'no details given'}`);
  box.append(title, ' ', detail);
}
$('#dismiss').addEventListener('click', clearError);

// A slip in this page's own code shows up in words too, never as a blank page (errors of other scripts are theirs).
const OURS = /\/(studio|timeline|livephoto|api)\.js/;
window.addEventListener('error', (ev) => OURS.test(ev.filename ?? '') && showError('The page', ev.error ?? new Error(ev.message)));
window.addEventListener('unhandledrejection', (ev) => {
  if (ev.reason instanceof ApiError || OURS.test(ev.reason?.stack ?? '')) showError('The page', ev.reason);
});

// ---------------------------------------------------------------- videos

async function loadInfo() {
  try {
    state.info = await api('info');
  } catch {
    state.info = null; // the page works without it
  }
  const i = state.info;
  $('#mode').textContent = !i ? '' : i.mode === 'local' ? `Local studio${i.folder ? ` · folder ${i.folder}` : ''}` : `vid2live service${i.signedIn ? '' : ' · not signed in'}`;
  // the service backend needs the tenant's API key once; the local one never does
  const signIn = i?.mode === 'service' && !i.signedIn;
  $('#signin').hidden = !signIn;
  $('#open').hidden = signIn;
  $('#signout').hidden = !(i?.mode === 'service' && i.signedIn);
}

$('#signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  const key = $('#api-key').value.trim();
  try {
    await api('session', { method: 'POST', headers: { Authorization: `Bearer ${key}` } });
    $('#api-key').value = '';
    await loadInfo();
    await loadVideos();
  } catch (err) {
    showError('Signing in', err);
  }
});

$('#signout').addEventListener('click', async () => {
  await api('session', { method: 'DELETE' }).catch(() => undefined);
  location.reload();
});

async function loadVideos() {
  if (state.info?.mode === 'service' && !state.info.signedIn) return;
  try {
    state.videos = (await api('videos'))?.videos ?? [];
  } catch (err) {
    showError('Listing the videos', err);
  }
  renderVideos();
}

function renderVideos() {
  const list = $('#videos');
  list.replaceChildren();
  for (const v of state.videos) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = v.name;
    b.disabled = state.busy !== '';
    if (state.video?.id === v.id) b.setAttribute('aria-current', 'true');
    b.addEventListener('click', () => openVideo(v));
    const size = document.createElement('span');
    size.className = 'muted';
    size.textContent = formatBytes(v.size);
    li.append(b, size);
    list.append(li);
  }
  $('#videos-empty').hidden = state.videos.length > 0;
  $('#file').disabled = state.busy !== '';
}

async function upload(file) {
  if (!file || state.busy) return;
  clearError();
  const max = state.info?.maxUploadBytes;
  if (max && file.size > max) {
    showError(`Uploading ${file.name}`, new ApiError('FILE_TOO_LARGE', `the file is ${formatBytes(file.size)}; the limit is ${formatBytes(max)}`));
    return;
  }
  state.busy = 'upload';
  renderVideos();
  const bar = $('#upload-progress');
  $('#upload').hidden = false;
  $('#upload-text').textContent = `Uploading ${file.name}…`;
  bar.value = 0;
  try {
    const video = await uploadFile(file, (f) => (bar.value = f), state.info);
    state.busy = '';
    $('#upload').hidden = true;
    if (!state.videos.some((v) => v.id === video.id)) state.videos.push(video);
    loadVideos();
    await openVideo(video);
  } catch (err) {
    showError(`Uploading ${file.name}`, err);
  } finally {
    state.busy = state.busy === 'upload' ? '' : state.busy;
    $('#upload').hidden = true;
    $('#file').value = '';
    renderVideos();
  }
}

async function openVideo(video) {
  const seq = ++state.seq;
  clearError();
  teardownResult();
  Object.assign(state, { video, analysis: null, grid: null, sel: null, conversion: null, request: null, busy: 'analysis' });
  $('#preview').removeAttribute('src');
  $('#preview').load(); // stop the previous one
  $('#frame').removeAttribute('src');
  shownKey = null;
  $('#open-status').textContent = `Analysing ${video.name}…`;
  renderAll();
  try {
    const analysis = await api(`videos/${enc(video.id)}/analysis`);
    if (seq !== state.seq) return;
    state.analysis = analysis;
    state.grid = gridOf(analysis);
    state.sel = suggestedSelection();
    $('#open-status').textContent = '';
    $('#preview').src = videoUrl(video.id, 'preview.mp4');
    timeline.load(analysis, videoUrl(video.id, 'thumbnails.jpg'), state.sel);
  } catch (err) {
    if (seq !== state.seq) return;
    state.video = null;
    $('#open-status').textContent = '';
    showError(`Opening ${video.name}`, err);
  } finally {
    if (seq === state.seq) state.busy = '';
    renderAll();
  }
}

function suggestedSelection() {
  const { suggestion: s } = state.analysis;
  const f = state.grid.fps;
  return clampSelection({ startF: Math.round(s.start * f), durF: Math.round(s.duration * f), keyF: Math.round(s.keyFrame * f) }, state.grid);
}

// ---------------------------------------------------------------- see & adjust

function renderAll() {
  renderVideos();
  const open = Boolean(state.analysis && state.sel);
  for (const id of ['#moment', '#adjust', '#make-section']) $(id).hidden = !open;
  if (open) {
    renderAnalysis();
    renderSelection();
  }
  renderConversion();
}

function renderAnalysis() {
  const { source: s, curves, suggestion, video } = state.analysis;
  const facts = [video?.name ?? state.video.name, fmt(s.duration, 2)];
  const w = s.displayWidth ?? s.width;
  const h = s.displayHeight ?? s.height;
  if (w && h) facts.push(`${w}×${h}`);
  $('#moment').style.setProperty('--src-ratio', w && h ? String(w / h) : '');
  $('#moment').classList.toggle('portrait', w > 0 && h > w);
  if (s.fps) facts.push(`${+Number(s.fps).toFixed(2)} fps`);
  if (s.codec) facts.push(s.codec);
  if (s.hdr) facts.push(`HDR (${String(s.hdr).toUpperCase()}): tone mapped to SDR`);
  facts.push(s.hasAudio ? 'with sound' : 'no sound');
  $('#facts').textContent = facts.join(' · ');
  $('#motion-legend').textContent = !curves
    ? 'motion (not measured: the engine chose without decoding frames)'
    : curves.kind === 'compressed'
      ? 'motion (estimated from compressed frame sizes)'
      : 'motion';
  fillList($('#reasons'), (suggestion.reasons ?? []).map((r) => [null, r]), 'No reasons given.');
  fillList($('#warnings'), (suggestion.warnings ?? []).map((w) => [w.code, w.message]), 'No warnings.');
}

/** Fill a <ul> with [code, text] items; code shown as <code>. */
function fillList(ul, items, empty) {
  ul.replaceChildren();
  for (const [code, text] of items) {
    const li = document.createElement('li');
    if (code) {
      const c = document.createElement('code');
      c.textContent = code;
      li.append(c, ' ');
    }
    li.append(text ?? '');
    ul.append(li);
  }
  if (!items.length && empty) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = empty;
    ul.append(li);
  }
}

let frameTimer = 0;
let shownKey = null;
let clipPlaying = false; // the preview is playing the chosen clip (see #play-clip)

function renderSelection() {
  const { sel, grid } = state;
  const [a, d, k] = [seconds(sel.startF), seconds(sel.durF), seconds(sel.keyF)];
  setNumber($('#start'), a, { min: 0, max: seconds(Math.max(0, grid.total - sel.durF)) });
  setNumber($('#duration'), d, { min: seconds(grid.minDur), max: seconds(grid.maxDur) });
  const key = $('#key');
  key.min = String(a);
  key.max = String(seconds(lastKeyFrame(sel, grid)));
  key.value = String(k);
  key.setAttribute('aria-valuetext', `${fmt(k)}, frame ${sel.keyF - sel.startF + 1} of the clip`);
  $('#key-time').textContent = fmt(k);
  $('#window-text').textContent = `Clip ${fmt(a)} – ${fmt(seconds(sel.startF + sel.durF))} (${fmt(d)}, ${sel.durF} frames); key photo ${fmt(k)}, ${fmt(seconds(sel.keyF - sel.startF))} into the clip.`;
  timeline.render(sel);
  $('#stale').hidden = !state.request || JSON.stringify(state.request) === JSON.stringify(conversionBody());
  if (shownKey !== sel.keyF) {
    shownKey = sel.keyF;
    clearTimeout(frameTimer);
    frameTimer = setTimeout(showFrame, FRAME_DEBOUNCE_MS);
    const v = $('#preview');
    if (v.paused && !clipPlaying && v.readyState > 0) v.currentTime = k + 0.001;
  }
}

/** Write a number input, unless the user is typing in it. */
function setNumber(input, value, { min, max }) {
  input.min = String(min);
  input.max = String(max);
  if (document.activeElement !== input || input.dataset.commit) input.value = value.toFixed(3);
  delete input.dataset.commit;
}

function showFrame() {
  if (!state.video || !state.sel) return;
  const img = $('#frame');
  const url = `${videoUrl(state.video.id, 'frame.jpg')}?t=${seconds(state.sel.keyF)}&w=960`;
  if (img.getAttribute('src') === url) return;
  img.classList.add('loading');
  img.src = url;
}

$('#frame').addEventListener('load', (ev) => ev.target.classList.remove('loading'));
$('#frame').addEventListener('error', async (ev) => {
  const url = ev.target.getAttribute('src');
  ev.target.classList.remove('loading');
  if (!url) return;
  try {
    await api(url.slice(4)); // ask again to read the error answer
  } catch (err) {
    if (ev.target.getAttribute('src') === url) showError('Showing the key photo frame', err);
  }
});

function select(next) {
  if (!state.grid) return;
  state.sel = clampSelection(next, state.grid);
  renderSelection();
}

const timeline = mountTimeline($('#timeline'), {
  onSelect: (sel) => select(sel),
  onSeek: (s) => {
    const v = $('#preview');
    if (v.readyState > 0) v.currentTime = s;
  },
});

function numberInput(input, apply) {
  const read = () => {
    const v = parseFloat(input.value);
    if (Number.isFinite(v) && state.sel) select(apply(Math.round(v * state.grid.fps)));
  };
  input.addEventListener('input', read);
  input.addEventListener('change', () => {
    input.dataset.commit = '1';
    read();
    if (state.sel) renderSelection();
  });
}
numberInput($('#start'), (f) => ({ ...state.sel, startF: f, keyF: state.sel.keyF + f - state.sel.startF }));
numberInput($('#duration'), (f) => ({ ...state.sel, durF: f }));
$('#key').addEventListener('input', (ev) => {
  const v = parseFloat(ev.target.value);
  if (Number.isFinite(v) && state.sel) select({ ...state.sel, keyF: Math.round(v * state.grid.fps) });
});
$('#reset').addEventListener('click', () => state.analysis && select(suggestedSelection()));

for (const [id, key] of [['#still', 'still'], ['#codec', 'codec']]) {
  $(id).addEventListener('change', (ev) => {
    state.opts[key] = ev.target.value;
    if (state.sel) renderSelection();
  });
}
$('#motion-photo').addEventListener('change', (ev) => {
  state.opts.motionPhoto = ev.target.checked;
  if (state.sel) renderSelection();
});
// The wallpaper profile always writes a HEIC still: the still select shows it and is locked while it is on.
let stillBeforeWallpaper = 'jpeg';
$('#wallpaper').addEventListener('change', (ev) => {
  const on = ev.target.checked;
  const still = $('#still');
  state.opts.profile = on ? 'wallpaper' : 'standard';
  if (on) stillBeforeWallpaper = still.value;
  still.value = on ? 'heic' : stillBeforeWallpaper;
  still.disabled = on;
  state.opts.still = still.value;
  if (on && state.sel) {
    // the recipe the wallpaper follows: a 1 s clip with the key photo in its middle (0.5 s; docs/wallpaper.md)
    const fps = state.grid.fps;
    select({ ...state.sel, durF: fps, startF: state.sel.keyF - Math.round(fps / 2) });
  } else if (state.sel) renderSelection();
});

// Play the chosen clip in the preview, stopping at its end.
$('#play-clip').addEventListener('click', async () => {
  const v = $('#preview');
  if (!state.sel || v.readyState === 0) return;
  const end = seconds(state.sel.startF + state.sel.durF);
  v.currentTime = seconds(state.sel.startF);
  clipPlaying = true;
  try {
    await v.play();
  } catch {
    clipPlaying = false;
    return;
  }
  const tick = () => {
    if (!clipPlaying) return;
    if (v.paused || v.currentTime >= end) {
      if (!v.paused) v.pause();
      clipPlaying = false;
      return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
});
$('#preview').addEventListener('timeupdate', (ev) => timeline.playhead(ev.target.currentTime));
$('#preview').addEventListener('seeked', (ev) => timeline.playhead(ev.target.currentTime));
$('#preview').addEventListener('error', (ev) => {
  if (ev.target.getAttribute('src')) $('#open-status').textContent = 'The preview video could not be played; the timeline and key photo still work.';
});

// ---------------------------------------------------------------- make

function conversionBody() {
  const { sel, opts } = state;
  return {
    start: seconds(sel.startF),
    duration: seconds(sel.durF),
    keyFrame: seconds(sel.keyF),
    still: opts.still,
    codec: opts.codec,
    motionPhoto: opts.motionPhoto,
    profile: opts.profile,
  };
}

let pollTimer = 0;
let teardownPlayer = () => {};

function teardownResult() {
  clearTimeout(pollTimer);
  teardownPlayer();
  teardownPlayer = () => {};
}

async function make() {
  if (!state.video || !state.sel) return;
  const seq = ++state.seq;
  const video = state.video;
  clearError();
  teardownResult();
  state.request = conversionBody();
  state.conversion = { status: 'queued', progress: { stage: 'queued', percent: 0 } };
  renderConversion();
  try {
    const { id } = await api(`videos/${enc(video.id)}/conversions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(state.request),
    });
    if (seq === state.seq) poll(id, seq, 0);
  } catch (err) {
    if (seq !== state.seq) return;
    state.conversion = null;
    renderConversion();
    showError('Making the Live Photo', err);
  }
}

async function poll(id, seq, failures) {
  try {
    const c = await api(`conversions/${enc(id)}`);
    if (seq !== state.seq) return;
    state.conversion = { ...c, id: c.id ?? id };
    renderConversion();
    if (c.status === 'completed') return showResult();
    if (c.status === 'failed') return showError('Making the Live Photo', c.error ?? new ApiError('CONVERSION_FAILED', 'the conversion failed without details'));
    pollTimer = setTimeout(() => poll(id, seq, 0), POLL_MS);
  } catch (err) {
    if (seq !== state.seq) return;
    // A dropped poll is retried a few times before giving up; an error answer is final.
    if (err.code === 'NETWORK_ERROR' && failures < 4) {
      pollTimer = setTimeout(() => poll(id, seq, failures + 1), POLL_MS * 2);
      return;
    }
    state.conversion = null;
    renderConversion();
    showError('Following the conversion', err);
  }
}

const STAGES = {
  queued: 'waiting for its turn',
  probe: 'reading the video',
  plan: 'choosing the frames',
  render: 'encoding the still and the movie',
  pair: 'pairing them with a content identifier',
  done: 'done',
};

function renderConversion() {
  const c = state.conversion;
  const running = c && (c.status === 'queued' || c.status === 'active');
  $('#make').disabled = Boolean(running) || !state.sel;
  $('#status').hidden = !c;
  if (c) {
    const stage = c.status === 'failed' ? 'failed' : c.status === 'completed' ? 'done' : c.progress?.stage ?? c.status;
    const percent = c.status === 'completed' ? 100 : Math.max(0, Math.min(100, Number(c.progress?.percent) || 0));
    $('#progress').value = percent;
    $('#stage').textContent = `${stage}${STAGES[stage] && stage !== 'done' ? `: ${STAGES[stage]}` : ''} (${Math.round(percent)}%)`;
  }
  const done = c?.status === 'completed' && c.result;
  $('#result').hidden = !done;
  $('#phone').hidden = !done;
}

function showResult() {
  const c = state.conversion;
  const r = c.result;
  const f = r.files ?? {};
  // Browsers other than Safari cannot draw HEIC: preview the same frame as a JPEG (frame.jpg renders it "as the
  // still would show it"); the download is still the HEIC.
  const heic = /\.hei[cf]$/i.test(f.still ?? '');
  const stillFrame = `${videoUrl(state.video.id, 'frame.jpg')}?t=${+(r.clip.start + r.stillTime).toFixed(6)}&w=${Math.min(1920, r.width || 1920)}`;
  teardownPlayer = showLivePhoto($('#livephoto-box'), {
    // a wallpaper's still is a 9:16 crop: its stand-in is the MOV's own frame (files.stillPreview), not the source's
    photoSrc: f.stillPreview ? fileUrl(c.id, f.stillPreview) : heic ? stillFrame : fileUrl(c.id, f.still),
    videoSrc: fileUrl(c.id, f.preview ?? f.video),
    // an HEVC pair plays from its H.264 copy; the real MOV still tells LivePhotosKit where the key photo is
    metadataVideoSrc: f.preview && f.preview !== f.video ? fileUrl(c.id, f.video) : undefined,
    width: r.width,
    height: r.height,
    note: heic ? 'The still is HEIC, which this browser may not display: the preview shows the same frame as JPEG.' : '',
  });
  const mp = f.motionPhoto ? fileUrl(c.id, f.motionPhoto) : null;
  $('#mp-box').hidden = !mp;
  $('#dl-mp-item').hidden = !mp;
  $('#mp-howto').hidden = !mp;
  if (mp) {
    $('#mp-link').href = mp;
    $('#mp-img').src = mp;
  }
  const links = [['#dl-zip', f.zip], ['#dl-pvt', f.pvt], ['#dl-still', f.still, 'Still'], ['#dl-video', f.video, 'Movie'], ['#dl-mp', f.motionPhoto, 'Motion Photo']];
  for (const [id, name, label] of links) {
    const a = $(id);
    a.parentElement.hidden = !name;
    if (!name) continue;
    a.href = fileUrl(c.id, name);
    a.setAttribute('download', name);
    if (label) a.textContent = `${label}: ${name}`;
  }
  const notes = [[null, `Key photo at ${fmt(r.clip.start + r.stillTime)} (${fmt(r.stillTime)} into a ${fmt(r.clip.duration)} clip), ${r.width}×${r.height}.`]];
  for (const w of r.warnings ?? []) notes.push([w.code, w.message]);
  fillList($('#result-notes'), notes);
  renderSelection();
}

$('#make').addEventListener('click', make);

// ---------------------------------------------------------------- open: file input, drag and drop

$('#file').addEventListener('change', (ev) => upload(ev.target.files?.[0]));
$('#refresh').addEventListener('click', loadVideos);

let dragDepth = 0;
document.addEventListener('dragenter', (ev) => {
  if (!ev.dataTransfer?.types?.includes('Files')) return;
  dragDepth++;
  document.body.classList.add('dropping');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) document.body.classList.remove('dropping');
});
document.addEventListener('dragover', (ev) => {
  if (ev.dataTransfer?.types?.includes('Files')) ev.preventDefault();
});
document.addEventListener('drop', (ev) => {
  if (!ev.dataTransfer?.files?.length) return;
  ev.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dropping');
  upload(ev.dataTransfer.files[0]);
});

await loadInfo();
await loadVideos();
