/**
 * One place that turns our clients' typed errors into what Temporal understands: an ApplicationFailure with a stable
 * `type` and the right retryability. Permanent problems (bad token, wrong fingerprint, unknown host key, missing
 * secret, invalid parameter) surface at once instead of being retried for minutes.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { isProxmoxError, isRetryable as proxmoxRetryable } from '../proxmox/errors';
import { isRemoteError, isRetryable as remoteRetryable } from '../remote/errors';

const PROXMOX_TYPES: Record<string, string> = {
  'not-found': 'ProxmoxNotFound',
  'already-exists': 'ProxmoxAlreadyExists',
  locked: 'ProxmoxLocked',
  transient: 'ProxmoxTransient',
  auth: 'ProxmoxAuth',
  permission: 'ProxmoxPermission',
  invalid: 'ProxmoxInvalid',
  tls: 'ProxmoxTls',
};

/** Codes of errors that only a person can fix, whatever client raised them. */
const PERMANENT_CODES: Record<string, string> = {
  SECRET_UNAVAILABLE: 'SecretUnavailable',
  TLS_PIN_MISMATCH: 'TlsPinMismatch',
  TLS_CA_UNREADABLE: 'TlsCaUnreadable',
};

/** Kinds of the HTTP clients (Qdrant, Portainer) that trying again cannot fix. */
const PERMANENT_HTTP_KINDS = new Set(['auth', 'tls', 'invalid', 'conflict']);

export function toActivityFailure(err: unknown): Error {
  if (err instanceof ApplicationFailure || (err as { name?: string })?.name === 'ApplicationFailure')
    return err as Error;
  if (isProxmoxError(err)) {
    return ApplicationFailure.create({
      message: err.message,
      type: PROXMOX_TYPES[err.kind] ?? 'ProxmoxError',
      nonRetryable: !proxmoxRetryable(err),
      cause: err,
    });
  }
  if (isRemoteError(err)) {
    return ApplicationFailure.create({
      type: `Remote:${err.kind}`,
      message: err.message,
      nonRetryable: !remoteRetryable(err),
      details: err.seenFingerprint ? [{ seenFingerprint: err.seenFingerprint }] : undefined,
    });
  }
  const code = (err as { code?: string })?.code;
  if (code && PERMANENT_CODES[code])
    return ApplicationFailure.create({
      message: (err as Error).message,
      type: PERMANENT_CODES[code],
      nonRetryable: true,
    });
  const name = (err as { name?: string })?.name;
  const kind = (err as { kind?: string })?.kind;
  if ((name === 'QdrantError' || name === 'PortainerError') && kind) {
    return ApplicationFailure.create({
      message: (err as Error).message,
      type: `${name.replace('Error', '')}:${kind}`,
      nonRetryable: PERMANENT_HTTP_KINDS.has(kind),
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}

type AnyActivity = (...args: never[]) => Promise<unknown>;

/** Wraps every activity so whatever escapes it is classified by `toActivityFailure`. */
export function withFailureTranslation<T extends Record<string, AnyActivity>>(activities: T): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toActivityFailure(err);
      }
    };
  }
  return wrapped as T;
}
