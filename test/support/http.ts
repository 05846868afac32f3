import type { Tenant } from './stack';

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A tiny JSON client for the api, authenticated as one tenant (or not at all). */
export function apiClient(baseUrl: string, who?: Tenant | { key: string }) {
  async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const res = await fetch(new URL(path, baseUrl), {
      method,
      headers: {
        ...(who ? { authorization: `Bearer ${who.key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (bull-board HTML, metrics text): keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>('GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('POST', path, body ?? {}, headers),
    del: <T = any>(path: string) => call<T>('DELETE', path),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
