// The timeline: a thumbnail strip, the engine's curves (motion, sharpness, scene cuts) and, on top, the clip window
// and the key-photo marker, both draggable with a pointer. All times are frame indices on the engine's grid
// (limits.fps, 30); the page owns the selection, this module only draws it and reports drags through onSelect.

const SVG = 'http://www.w3.org/2000/svg';
const STRIP_HEIGHT = 56;

/** The frame grid of an analysis: fps, frames in the source, allowed clip lengths in frames. */
export function gridOf(analysis) {
  const fps = analysis.limits?.fps || 30;
  const total = Math.max(1, Math.floor(analysis.source.duration * fps + 1e-6));
  const minDur = Math.max(1, Math.round((analysis.limits?.minClipSeconds ?? 1) * fps));
  // The window may not be longer than the source, unless the source is shorter than the minimum clip.
  const maxDur = Math.max(minDur, Math.min(Math.round((analysis.limits?.maxClipSeconds ?? 5) * fps), total));
  return { fps, total, minDur, maxDur };
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** Keep a selection {startF, durF, keyF} legal: length within limits, inside the source, key inside the window. */
export function clampSelection(sel, grid) {
  const durF = clamp(Math.round(sel.durF), grid.minDur, grid.maxDur);
  const startF = clamp(Math.round(sel.startF), 0, Math.max(0, grid.total - durF));
  return { startF, durF, keyF: clamp(Math.round(sel.keyF), startF, lastKeyFrame({ startF, durF }, grid)) };
}

/** The last frame the key photo may sit on: the clip's last frame, and never past the source's last frame. */
export function lastKeyFrame(sel, grid) {
  return Math.max(sel.startF, Math.min(sel.startF + sel.durF - 1, grid.total - 1));
}

function el(tag, attrs = {}, ns) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/**
 * Build the timeline inside `root`. handlers: onSelect(sel, {final}) when a drag moves the window or the key,
 * onSeek(seconds) for a click outside the window. Returns { load(analysis, thumbnailsUrl), render(sel), playhead(s) }.
 */
export function mountTimeline(root, { onSelect, onSeek }) {
  root.replaceChildren();
  const thumbs = el('canvas', { class: 'tl-thumbs', 'data-testid': 'thumbnails', 'aria-hidden': 'true' });
  const curves = el('svg', { class: 'tl-curves', 'data-testid': 'curves', role: 'img', viewBox: '0 0 1000 100', preserveAspectRatio: 'none' }, SVG);
  const overlay = el('div', { class: 'tl-overlay', 'aria-hidden': 'true' });
  const suggested = el('div', { class: 'tl-suggested', 'data-testid': 'suggested-window', title: 'suggested window' });
  const suggestedKey = el('div', { class: 'tl-suggested-key', 'data-testid': 'suggested-key', title: 'suggested key photo' });
  const win = el('div', { class: 'tl-window', 'data-testid': 'window' });
  win.append(el('span', { class: 'tl-handle', 'data-edge': 'start' }), el('span', { class: 'tl-handle', 'data-edge': 'end' }));
  const key = el('div', { class: 'tl-key', 'data-testid': 'key-marker' });
  const playhead = el('div', { class: 'tl-playhead' });
  overlay.append(suggested, suggestedKey, win, key, playhead);
  const track = el('div', { class: 'tl-track' });
  track.append(thumbs, curves, overlay);
  const scale = el('div', { class: 'tl-scale', 'aria-hidden': 'true' });
  root.append(track, scale);

  let analysis = null;
  let grid = null;
  let view = { from: 0, to: 1 }; // seconds shown across the width
  let image = null;
  let sel = null;
  let drag = null;

  const pct = (seconds) => ((seconds - view.from) / (view.to - view.from)) * 100;
  const frameAt = (clientX) => {
    const r = track.getBoundingClientRect();
    const s = view.from + ((clientX - r.left) / r.width) * (view.to - view.from);
    return Math.round(s * grid.fps);
  };

  function drawThumbs() {
    const w = track.clientWidth;
    const dpr = window.devicePixelRatio || 1;
    thumbs.width = Math.max(1, Math.round(w * dpr));
    thumbs.height = Math.round(STRIP_HEIGHT * dpr);
    const ctx = thumbs.getContext('2d');
    ctx.clearRect(0, 0, thumbs.width, thumbs.height);
    const t = analysis?.thumbnails;
    if (!image || !t?.count) return;
    const times = t.times?.length === t.count ? t.times : Array.from({ length: t.count }, (_, i) => ((i + 0.5) / t.count) * analysis.source.duration);
    // Tile i covers the span between the midpoints to its neighbours; drawn "cover" (cropped, never stretched).
    for (let i = 0; i < t.count; i++) {
      const from = i === 0 ? Math.min(view.from, times[0]) : (times[i - 1] + times[i]) / 2;
      const to = i === t.count - 1 ? Math.max(view.to, times[i]) : (times[i] + times[i + 1]) / 2;
      const x0 = (pct(from) / 100) * thumbs.width;
      const x1 = (pct(to) / 100) * thumbs.width;
      if (x1 <= 0 || x0 >= thumbs.width) continue;
      const dw = x1 - x0;
      const dh = thumbs.height;
      const s = Math.max(dw / t.tileWidth, dh / t.tileHeight);
      const sw = dw / s;
      const sh = dh / s;
      ctx.drawImage(image, i * t.tileWidth + (t.tileWidth - sw) / 2, (t.tileHeight - sh) / 2, sw, sh, x0, 0, dw, dh);
    }
  }

  function drawCurves() {
    curves.replaceChildren();
    const c = analysis.curves;
    if (!c) {
      curves.setAttribute('aria-label', 'No per-frame curves: the engine chose without decoding frames');
      return;
    }
    const fps = c.fps || grid.fps;
    const x = (i) => ((pct(c.start + i / fps) * 10) || 0).toFixed(1);
    const line = (values, cls) => {
      const max = Math.max(1e-9, ...values.filter((v) => typeof v === 'number'));
      let d = '';
      let pen = false;
      values.forEach((v, i) => {
        if (typeof v !== 'number') return void (pen = false);
        d += `${pen ? 'L' : 'M'}${x(i)} ${(96 - (v / max) * 88).toFixed(1)}`;
        pen = true;
      });
      if (d) curves.append(el('path', { d, class: cls, 'vector-effect': 'non-scaling-stroke' }, SVG));
    };
    line(c.motion ?? [], 'curve-motion');
    line(c.sharpness ?? [], 'curve-sharpness');
    for (const f of c.cuts ?? []) {
      curves.append(el('line', { x1: x(f), x2: x(f), y1: 0, y2: 100, class: 'curve-cut', 'vector-effect': 'non-scaling-stroke' }, SVG));
    }
    const cutTimes = (c.cuts ?? []).map((f) => `${(c.start + f / fps).toFixed(2)} s`);
    const title = el('title', {}, SVG);
    title.textContent = `Motion and sharpness per frame${cutTimes.length ? `; scene cuts at ${cutTimes.join(', ')}` : '; no scene cuts'}`;
    curves.prepend(title);
    curves.setAttribute('aria-label', title.textContent);
  }

  function drawScale() {
    const span = view.to - view.from;
    const step = [0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300].find((s) => span / s <= 8) ?? 600;
    scale.replaceChildren();
    for (let s = Math.ceil(view.from / step) * step; s <= view.to + 1e-9; s += step) {
      const tick = el('span', { class: 'tl-tick' });
      tick.style.left = `${pct(s)}%`;
      tick.textContent = `${+s.toFixed(2)} s`;
      scale.append(tick);
    }
    const last = scale.lastElementChild;
    if (last && parseFloat(last.style.left) > 92) last.classList.add('last'); // keep the end label inside
  }

  function place(node, fromS, toS) {
    node.style.left = `${pct(fromS)}%`;
    if (toS !== undefined) node.style.width = `${pct(toS) - pct(fromS)}%`;
  }

  /** Widen the view so that the window is visible (e.g. after typing a start outside it). */
  function ensureVisible() {
    const a = sel.startF / grid.fps;
    const b = (sel.startF + sel.durF) / grid.fps;
    if (a >= view.from && b <= view.to) return false;
    view = { from: Math.min(view.from, a), to: Math.max(view.to, b) };
    return true;
  }

  function redrawAll() {
    drawThumbs();
    drawCurves();
    drawScale();
  }

  function render(next) {
    sel = next;
    if (!analysis || !sel) return;
    if (ensureVisible()) redrawAll();
    const g = analysis.suggestion;
    place(suggested, g.start, g.start + g.duration);
    place(suggestedKey, g.keyFrame);
    place(win, sel.startF / grid.fps, (sel.startF + sel.durF) / grid.fps);
    place(key, sel.keyF / grid.fps);
  }

  function load(a, thumbnailsUrl, initial) {
    analysis = a;
    grid = gridOf(a);
    sel = initial;
    const d = a.source.duration;
    const g = a.suggestion;
    view = { from: 0, to: Math.max(d, (initial.startF + initial.durF) / grid.fps) };
    if (d > 30) {
      // A long source: show the analysed span (and the suggestion) rather than minutes of it.
      const c = a.curves ?? { start: g.start, motion: [] };
      const end = c.start + (c.motion?.length ?? 0) / (c.fps || grid.fps);
      view = { from: Math.max(0, Math.min(c.start, g.start) - 0.5), to: Math.min(d, Math.max(end, g.start + g.duration) + 0.5) };
    }
    image = null;
    const img = new Image();
    img.onload = () => {
      if (analysis !== a) return;
      image = img;
      drawThumbs();
    };
    img.src = thumbnailsUrl;
    redrawAll();
    render(initial);
  }

  track.addEventListener('pointerdown', (ev) => {
    if (!analysis || !sel || ev.button !== 0) return;
    const edge = ev.target.closest('.tl-handle')?.dataset.edge;
    const mode = ev.target === key ? 'key' : edge ?? (ev.target.closest('.tl-window') ? 'move' : 'seek');
    drag = { mode, x0: ev.clientX, f0: frameAt(ev.clientX), sel0: { ...sel }, moved: false, id: ev.pointerId };
    track.setPointerCapture(ev.pointerId);
    track.classList.add('dragging');
    ev.preventDefault();
  });

  track.addEventListener('pointermove', (ev) => {
    if (!drag || ev.pointerId !== drag.id) return;
    if (Math.abs(ev.clientX - drag.x0) > 3) drag.moved = true;
    if (!drag.moved) return;
    const f = frameAt(ev.clientX);
    const s0 = drag.sel0;
    const end0 = s0.startF + s0.durF;
    let next = null;
    if (drag.mode === 'key') next = { ...s0, keyF: f };
    else if (drag.mode === 'move') {
      const startF = clamp(s0.startF + f - drag.f0, 0, Math.max(0, grid.total - s0.durF));
      next = { ...s0, startF, keyF: s0.keyF + startF - s0.startF }; // the key travels with the window
    } else if (drag.mode === 'start') {
      const startF = clamp(f, Math.max(0, end0 - grid.maxDur), end0 - grid.minDur);
      next = { ...s0, startF, durF: end0 - startF };
    } else if (drag.mode === 'end') next = { ...s0, durF: clamp(f - s0.startF, grid.minDur, grid.maxDur) };
    if (next) onSelect(clampSelection(next, grid), { final: false });
  });

  const endDrag = (ev) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const d = drag;
    drag = null;
    track.classList.remove('dragging');
    const f = frameAt(ev.clientX);
    if (!d.moved && (d.mode === 'move' || d.mode === 'key')) onSelect(clampSelection({ ...sel, keyF: f }, grid), { final: true });
    else if (!d.moved && d.mode === 'seek') onSeek(Math.max(0, f / grid.fps));
    else if (d.moved) onSelect(sel, { final: true });
  };
  track.addEventListener('pointerup', endDrag);
  track.addEventListener('pointercancel', endDrag);

  new ResizeObserver(() => analysis && drawThumbs()).observe(track);

  return {
    load,
    render,
    playhead(seconds) {
      if (!analysis) return;
      playhead.hidden = !(seconds >= view.from && seconds <= view.to);
      place(playhead, seconds);
    },
  };
}
