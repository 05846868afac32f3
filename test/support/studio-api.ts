import * as fs from 'node:fs';

/**
 * The studio's HTTP surface as a test uses it without a browser: a tenant's session cookie, and a video uploaded the
 * way the page does it.
 */

/** Signs `key`'s tenant in: the session cookie (`name=value`), checked to be HttpOnly and SameSite=Strict. */
export async function studioSession(apiUrl: string, key: string): Promise<string> {
  const res = await fetch(`${apiUrl}/studio/api/session`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/SameSite=Strict/);
  return cookie.split(';')[0];
}

/** Uploads `file` as the page does: declared, PUT to the presigned URL, completed. The video's id and upload target. */
export async function uploadStudioVideo(
  apiUrl: string,
  cookie: string,
  file: string,
  name: string,
): Promise<{ id: string; upload: { url: string; headers: Record<string, string> } }> {
  const body = fs.readFileSync(file);
  const created = await fetch(`${apiUrl}/studio/api/videos`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ name, size: body.length }),
  });
  expect(created.status).toBe(201);
  const made = (await created.json()) as { id: string; upload: { url: string; headers: Record<string, string> } };
  expect((await fetch(made.upload.url, { method: 'PUT', headers: made.upload.headers, body })).status).toBe(200);
  expect((await fetch(`${apiUrl}/studio/api/videos/${made.id}/uploaded`, { method: 'POST', headers: { cookie } })).status).toBe(200);
  return made;
}
