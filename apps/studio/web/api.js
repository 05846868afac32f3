// The studio's HTTP surface (docs/studio.md), relative to the page: 'api/…' works under / and under /studio/.
// Every error answer is { error: { code, message } }; here it becomes an ApiError with that code and message.

export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * fetch api/PATH and read its JSON answer (null when empty or not JSON). A `202 { pending: true }` (the service
 * backend's workers are still making it) is asked again after Retry-After seconds, for at most ~10 minutes.
 */
export async function api(path, init) {
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(`api/${path}`, init);
    } catch {
      throw new ApiError('NETWORK_ERROR', 'could not reach the studio server; is it still running?');
    }
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    if (!res.ok) throw errorOf(res.status, res.statusText, body);
    if (res.status !== 202 || !body?.pending) return body;
    if (attempt >= 600) throw new ApiError('TIMEOUT', 'the service has not finished after 10 minutes; try again later');
    const wait = Math.min(5, Math.max(0.2, Number(res.headers.get('retry-after')) || 1));
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

function errorOf(status, statusText, body) {
  const e = body?.error;
  if (e?.code || e?.message) return new ApiError(String(e.code ?? `HTTP_${status}`), String(e.message ?? ''));
  return new ApiError(`HTTP_${status}`, `the server answered ${status}${statusText ? ` ${statusText}` : ''}`);
}

/**
 * Uploads a video; resolves to { id, name, size }. Local backend (`info.upload` absent): POST api/videos?name=NAME
 * with the raw bytes. Service backend (`info.upload === 'presigned'`): POST api/videos { name, size } gives a
 * presigned PUT into object storage; the bytes go there directly, then POST api/videos/:id/uploaded.
 */
export async function uploadFile(file, onProgress, info) {
  if (info?.upload !== 'presigned') return send('POST', `api/videos?name=${encodeURIComponent(file.name)}`, { 'Content-Type': 'application/octet-stream' }, file, onProgress);
  const created = await api('videos', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: file.name, size: file.size }),
  });
  await send(created.upload.method ?? 'PUT', created.upload.url, created.upload.headers ?? {}, file, onProgress, true);
  return api(`videos/${encodeURIComponent(created.id)}/uploaded`, { method: 'POST' });
}

/** XHR (for upload progress); `storage`: the answer is object storage's (XML), not the studio's JSON */
function send(method, url, headers, file, onProgress, storage = false) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => ev.lengthComputable && onProgress(ev.loaded / ev.total);
    xhr.onerror = () => reject(new ApiError('NETWORK_ERROR', 'the upload was interrupted; is the studio server still running?'));
    xhr.onload = () => {
      if (storage) {
        if (xhr.status >= 200 && xhr.status < 300) return resolve(null);
        const code = /<Code>([^<]{1,64})<\/Code>/.exec(xhr.responseText ?? '')?.[1];
        return reject(new ApiError('UPLOAD_FAILED', `object storage refused the upload (HTTP ${xhr.status}${code ? ` ${code}` : ''})`));
      }
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300 && body?.id) resolve(body);
      else reject(errorOf(xhr.status, xhr.statusText, body));
    };
    xhr.send(file);
  });
}
