// The studio's HTTP surface (docs/studio.md), relative to the page: 'api/…' works under / and under /studio/.
// Every error answer is { error: { code, message } }; here it becomes an ApiError with that code and message.

export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** fetch api/PATH and read its JSON answer (null when empty or not JSON). */
export async function api(path, init) {
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
  return body;
}

function errorOf(status, statusText, body) {
  const e = body?.error;
  if (e?.code || e?.message) return new ApiError(String(e.code ?? `HTTP_${status}`), String(e.message ?? ''));
  return new ApiError(`HTTP_${status}`, `the server answered ${status}${statusText ? ` ${statusText}` : ''}`);
}

/** POST api/videos?name=NAME with the file's raw bytes (XHR, for upload progress); resolves to { id, name, size }. */
export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `api/videos?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (ev) => ev.lengthComputable && onProgress(ev.loaded / ev.total);
    xhr.onerror = () => reject(new ApiError('NETWORK_ERROR', 'the upload was interrupted; is the studio server still running?'));
    xhr.onload = () => {
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
