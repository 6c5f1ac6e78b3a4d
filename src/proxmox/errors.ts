/**
 * Typed Proxmox failures. Callers classify by the `kind` field (never by class identity: errors cross module
 * registries in jest and Temporal), and decide retries with `isRetryable`.
 */

export type ProxmoxErrorKind =
  'not-found' | 'already-exists' | 'locked' | 'transient' | 'auth' | 'permission' | 'invalid' | 'tls';

export interface ProxmoxErrorFields {
  kind: ProxmoxErrorKind;
  /** HTTP status; undefined for transport failures and failed tasks. */
  status?: number;
  /** HTTP reason phrase, e.g. `Parameter verification failed.` */
  reason?: string;
  /** Per-parameter messages of a 400. */
  errors?: Record<string, string>;
  method?: string;
  /** API path without the base URL, e.g. `/nodes/pve/qemu/1002/config`. */
  path?: string;
  /** Set when a task ended with an error: its UPID, exit status and the last log lines. */
  task?: { upid: string; exitstatus: string; logTail: string[] };
}

export class ProxmoxError extends Error implements ProxmoxErrorFields {
  readonly code = 'PROXMOX_ERROR' as const;
  readonly kind: ProxmoxErrorKind;
  readonly status?: number;
  readonly reason?: string;
  readonly errors?: Record<string, string>;
  readonly method?: string;
  readonly path?: string;
  readonly task?: { upid: string; exitstatus: string; logTail: string[] };

  constructor(message: string, fields: ProxmoxErrorFields) {
    super(message);
    this.name = 'ProxmoxError';
    this.kind = fields.kind;
    this.status = fields.status;
    this.reason = fields.reason;
    this.errors = fields.errors;
    this.method = fields.method;
    this.path = fields.path;
    this.task = fields.task;
  }
}

/** True for anything shaped like a ProxmoxError (checked by fields, so it works across module copies). */
export function isProxmoxError(err: unknown): err is ProxmoxError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { code?: unknown }).code === 'PROXMOX_ERROR' &&
    typeof (err as { kind?: unknown }).kind === 'string'
  );
}

/** Locked guests, file-lock timeouts and server-side hiccups go away on their own; the rest needs a person. */
export function isRetryable(err: unknown): boolean {
  if (!isProxmoxError(err)) return false;
  return err.kind === 'transient' || err.kind === 'locked';
}

const LOCK_PATTERNS = [/is locked \(/i, /can't lock file/i, /got timeout/i, /got lock request timeout/i];

/**
 * Classify an HTTP answer by its status and message, following how PVE words things (see the API reference):
 * 500 is used for almost everything, so the message decides.
 */
export function classifyHttpFailure(
  status: number,
  message: string,
  errors?: Record<string, string>,
): ProxmoxErrorKind {
  const text = `${message} ${errors ? Object.values(errors).join(' ') : ''}`;
  if (status === 401) return 'auth';
  if (status === 403) return 'permission';
  if (status === 404 || /does not exist/i.test(text) || /no such task/i.test(text)) return 'not-found';
  if (/already exists/i.test(text)) return 'already-exists';
  if (LOCK_PATTERNS.some((p) => p.test(text))) return 'locked';
  if (status === 595 || status === 596) return 'transient';
  if (status === 400 || status === 501) return 'invalid';
  if (status >= 500) return 'transient';
  return 'invalid';
}

/**
 * Classify a task's exit status. Known permanent wordings are `invalid`; anything unknown is treated as transient,
 * because a retry re-reads live state first and then decides again.
 */
export function classifyTaskFailure(exitstatus: string): ProxmoxErrorKind {
  if (/does not exist/i.test(exitstatus)) return 'not-found';
  if (/already exists/i.test(exitstatus)) return 'already-exists';
  if (LOCK_PATTERNS.some((p) => p.test(exitstatus))) return 'locked';
  if (/not supported|not allowed|permission|invalid|parameter|unable to parse|protection mode/i.test(exitstatus))
    return 'invalid';
  return 'transient';
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

/**
 * Turn an undici/Node transport error into a ProxmoxError: TLS problems are permanent; resets, refusals and
 * timeouts are transient (the server may come back, and callers re-read state before repeating a change).
 */
export function fromTransportError(err: unknown, method: string, path: string, baseUrl: string): ProxmoxError {
  if (isProxmoxError(err)) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  const detail = e?.message ?? String(err);
  if (TLS_CODE.test(code) || /certificate|self[- ]signed/i.test(detail)) {
    return new ProxmoxError(
      `TLS verification of the Proxmox API at ${baseUrl} failed (${code || 'tls'}: ${detail}); check proxmox.tls in the plan ` +
        `(caFile, or the fingerprint from \`pvenode cert info\`).`,
      { kind: 'tls', method, path },
    );
  }
  return new ProxmoxError(
    `${method} ${path} on the Proxmox API at ${baseUrl} failed in transport (${code || 'error'}: ${detail}); ` +
      `the request may or may not have taken effect — re-read live state before repeating it.`,
    { kind: 'transient', method, path },
  );
}
