import type { Agent } from 'undici';
import type { TlsTrust } from '../config/resolved-plan';
import { classifyHttpFailure, fromTransportError, isProxmoxError, ProxmoxError, type ProxmoxErrorKind } from './errors';
import { createDispatcher } from './tls';

/** Parameter values as the API takes them; arrays become repeated form keys (e.g. agent exec `command`). */
export type ParamValue = string | number | boolean | string[] | undefined;
export type Params = Record<string, ParamValue>;

export interface ProxmoxClientOptions {
  /** e.g. `https://10.0.0.13:8006`; `/api2/json` is appended. */
  apiUrl: string;
  tls: TlsTrust;
  /** `USER@REALM!TOKENID`. */
  tokenId: string;
  /** Already resolved by the caller (see `resolveSecret`). */
  tokenSecret: string;
  /** Where the secret came from (env var name / file path), for messages only. */
  tokenSecretSource?: string;
  /** Proxmox answers bad credentials after ~3 s on purpose, so anything below 10 s is raised to 10 s. */
  requestTimeoutMs?: number;
  /** Told about insecure TLS at every client creation. */
  warn?: (message: string) => void;
  /** Request body encoding for POST/PUT; both are accepted by PVE ≥ 8. */
  bodyEncoding?: 'form' | 'json';
  /** Extra tries of a GET after a transient/lock failure the server answered (or a reset); default 3. */
  readRetries?: number;
  /** First pause before such a retry, doubled each time; default 200 ms. */
  readRetryDelayMs?: number;
}

/** Per read: `retries: 0` for a probe whose caller polls anyway (the failure is its answer, not a fault). */
export interface ReadOptions {
  retries?: number;
}

/** The HTTP core: one per API endpoint and credential. Paths are relative to `/api2/json`. */
export interface ProxmoxHttp {
  readonly baseUrl: string;
  get<T = unknown>(path: string, query?: Params, opts?: ReadOptions): Promise<T>;
  post<T = unknown>(path: string, body?: Params): Promise<T>;
  put<T = unknown>(path: string, body?: Params): Promise<T>;
  delete<T = unknown>(path: string, query?: Params): Promise<T>;
  close(): Promise<void>;
}

export const MIN_REQUEST_TIMEOUT_MS = 10_000;

/**
 * A GET changes nothing, so a transient or lock failure of one is simply tried again here. Without this, one failed
 * read restarts a whole convergence pass (about twenty reads): with a fifth of requests failing, a pass almost never
 * gets through. Timeouts are not retried here: they already took the full request timeout.
 */
function readIsWorthRetrying(err: unknown): boolean {
  if (!isProxmoxError(err) || (err.kind !== 'transient' && err.kind !== 'locked')) return false;
  return err.status !== undefined || !/TIMEOUT/i.test(err.message);
}

function toFormValue(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  return String(v);
}

export function encodeForm(params: Params | undefined): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) out.append(key, item);
    else out.append(key, toFormValue(value));
  }
  return out;
}

export function encodeJson(params: Params | undefined): string {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined) continue;
    out[key] = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  }
  return JSON.stringify(out);
}

const KIND_HINTS: Partial<Record<ProxmoxErrorKind, string>> = {
  locked: 'the guest or its config file is busy; wait and retry',
  transient: 'the server had a temporary problem; retry after re-reading live state',
  invalid: 'the request was rejected as invalid; fix the plan value named above',
};

export function createProxmoxHttp(options: ProxmoxClientOptions): ProxmoxHttp {
  const base = new URL(options.apiUrl);
  if (base.protocol !== 'https:') {
    throw new ProxmoxError(`proxmox.apiUrl ${options.apiUrl} must be https:// (the API only listens on TLS).`, {
      kind: 'invalid',
    });
  }
  const origin = base.origin;
  const timeoutMs = Math.max(options.requestTimeoutMs ?? MIN_REQUEST_TIMEOUT_MS, MIN_REQUEST_TIMEOUT_MS);
  const dispatcher: Agent = createDispatcher(options.tls, {
    baseUrl: origin,
    connectTimeoutMs: timeoutMs,
    warn: options.warn,
  });
  const authorization = `PVEAPIToken=${options.tokenId}=${options.tokenSecret}`;
  const bodyEncoding = options.bodyEncoding ?? 'form';
  const secretSource = options.tokenSecretSource ? ` (secret from ${options.tokenSecretSource})` : '';

  async function call<T>(method: string, path: string, params?: Params): Promise<T> {
    const sendsBody = method === 'POST' || method === 'PUT';
    const query = sendsBody ? '' : encodeForm(params).toString();
    const fullPath = `/api2/json${path}${query ? `?${query}` : ''}`;
    const headers: Record<string, string> = { authorization, accept: 'application/json' };
    let body: string | undefined;
    if (sendsBody) {
      if (bodyEncoding === 'json') {
        body = encodeJson(params);
        headers['content-type'] = 'application/json';
      } else {
        body = encodeForm(params).toString();
        headers['content-type'] = 'application/x-www-form-urlencoded';
      }
    }
    let statusCode: number;
    let statusText: string;
    let text: string;
    try {
      const res = await dispatcher.request({
        origin,
        path: fullPath,
        method: method as 'GET',
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      statusCode = res.statusCode;
      statusText = res.statusText ?? '';
      text = await res.body.text();
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      throw fromTransportError(isProxmoxError(cause) ? cause : err, method, path, origin);
    }
    let json: { data?: unknown; message?: string; errors?: Record<string, string> } | undefined;
    if (text.trim() !== '') {
      try {
        json = JSON.parse(text) as typeof json;
      } catch {
        json = undefined;
      }
    }
    if (statusCode >= 200 && statusCode < 300) {
      if (json === undefined) {
        throw new ProxmoxError(
          `${method} ${path} on ${origin} answered ${statusCode} without a JSON envelope; is apiUrl the Proxmox API?`,
          {
            kind: 'transient',
            status: statusCode,
            method,
            path,
          },
        );
      }
      return json.data as T;
    }
    const reason = (json?.message ?? '').trim() || statusText || `HTTP ${statusCode}`;
    const errors = json?.errors ?? undefined;
    const kind = classifyHttpFailure(statusCode, reason, errors);
    const errorText = errors
      ? ` — ${Object.entries(errors)
          .map(([k, v]) => `${k}: ${String(v).trim()}`)
          .join('; ')}`
      : '';
    let hint = KIND_HINTS[kind] ?? '';
    if (kind === 'auth') {
      hint = `the API token ${options.tokenId}${secretSource} was not accepted; check proxmox.tokenId in the plan and the token secret`;
    } else if (kind === 'permission') {
      hint = `the API token ${options.tokenId} lacks a privilege; grant it (pveum acl modify … --tokens ${options.tokenId}) or use a token with more rights`;
    }
    throw new ProxmoxError(
      `${method} ${path} on ${origin} failed: ${statusCode} ${reason}${errorText}${hint ? ` (${hint})` : ''}`,
      {
        kind,
        status: statusCode,
        reason: statusText || reason.split('\n')[0],
        errors,
        method,
        path,
      },
    );
  }

  const readRetries = options.readRetries ?? 3;
  const readRetryDelayMs = options.readRetryDelayMs ?? 200;
  async function read<T>(path: string, query?: Params, opts?: ReadOptions): Promise<T> {
    const retries = opts?.retries ?? readRetries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await call<T>('GET', path, query);
      } catch (err) {
        if (attempt >= retries || !readIsWorthRetrying(err)) throw err;
        await new Promise((r) => setTimeout(r, readRetryDelayMs * 2 ** attempt));
      }
    }
  }

  return {
    baseUrl: `${origin}/api2/json`,
    get: (path, query, opts) => read(path, query, opts),
    post: (path, body) => call('POST', path, body),
    put: (path, body) => call('PUT', path, body),
    delete: (path, query) => call('DELETE', path, query),
    close: () => dispatcher.close(),
  };
}
