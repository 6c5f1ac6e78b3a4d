/**
 * The one place that turns our clients' typed errors into what Temporal understands: an ApplicationFailure with a
 * type from the run's vocabulary (src/failure-types.ts) and the right retryability. Permanent problems (bad token,
 * wrong fingerprint, unknown host key, missing secret, invalid parameter) surface at once instead of being retried
 * for minutes; problems that time fixes (down, loading, 5xx, locked) are retried by Temporal.
 *
 * Every activity factory returns its activities through `withFailureTranslation`, so activities just throw (or let
 * escape) client errors; they never map them themselves. Failures an activity decides on its own (a refusal, a
 * count mismatch) are ApplicationFailures with a `FailureType` and pass through unchanged.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType, type FailureTypeName } from '../failure-types';
import { isPortainerError, type PortainerErrorKind } from '../portainer/errors';
import { isProxmoxError, isRetryable as proxmoxRetryable, type ProxmoxErrorKind } from '../proxmox/errors';
import { isQdrantError, type QdrantErrorKind } from '../qdrant/errors';
import { isRemoteError, isRetryable as remoteRetryable, type RemoteErrorKind } from '../remote/errors';

const PROXMOX_TYPES: Record<ProxmoxErrorKind, FailureTypeName> = {
  'not-found': FailureType.ProxmoxNotFound,
  'already-exists': FailureType.ProxmoxAlreadyExists,
  locked: FailureType.ProxmoxLocked,
  transient: FailureType.ProxmoxTransient,
  auth: FailureType.ProxmoxAuth,
  permission: FailureType.ProxmoxPermission,
  invalid: FailureType.ProxmoxInvalid,
  tls: FailureType.ProxmoxTls,
};

const REMOTE_TYPES: Record<RemoteErrorKind, FailureTypeName> = {
  'host-key': FailureType.RemoteHostKey,
  auth: FailureType.RemoteAuth,
  connect: FailureType.RemoteConnect,
  timeout: FailureType.RemoteTimeout,
  command: FailureType.RemoteCommand,
  transient: FailureType.RemoteTransient,
};

const QDRANT_TYPES: Record<QdrantErrorKind, FailureTypeName> = {
  unreachable: FailureType.QdrantUnreachable,
  'not-ready': FailureType.QdrantNotReady,
  'not-found': FailureType.QdrantNotFound,
  auth: FailureType.QdrantAuth,
  http: FailureType.QdrantHttp,
};

const PORTAINER_TYPES: Record<PortainerErrorKind, FailureTypeName> = {
  unreachable: FailureType.PortainerUnreachable,
  tls: FailureType.PortainerTls,
  auth: FailureType.PortainerAuth,
  'not-found': FailureType.PortainerNotFound,
  conflict: FailureType.PortainerConflict,
  invalid: FailureType.PortainerInvalid,
  'agent-unreachable': FailureType.PortainerAgentUnreachable,
  http: FailureType.PortainerHttp,
};

/** Codes of errors that only a person can fix, whatever client raised them. */
const PERMANENT_CODES: Record<string, FailureTypeName> = {
  SECRET_UNAVAILABLE: FailureType.SecretUnavailable,
  TLS_PIN_MISMATCH: FailureType.TlsPinMismatch,
  TLS_CA_UNREADABLE: FailureType.TlsCaUnreadable,
};

function isApplicationFailure(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure || (err as { name?: string })?.name === 'ApplicationFailure';
}

/**
 * Classify `err`. `context` (e.g. `Copying collection docs`) prefixes the message of a client error, so the operator
 * reads what the run was doing; an ApplicationFailure (already classified) passes through unchanged.
 */
export function toActivityFailure(err: unknown, context?: string): Error {
  if (isApplicationFailure(err)) return err;
  const message = (m: string) => (context ? `${context}: ${m}` : m);
  if (isProxmoxError(err)) {
    return ApplicationFailure.create({
      message: message(err.message),
      type: PROXMOX_TYPES[err.kind] ?? FailureType.ProxmoxError,
      nonRetryable: !proxmoxRetryable(err),
      cause: err,
    });
  }
  if (isRemoteError(err)) {
    return ApplicationFailure.create({
      message: message(err.message),
      type: REMOTE_TYPES[err.kind],
      nonRetryable: !remoteRetryable(err),
      details: err.seenFingerprint ? [{ seenFingerprint: err.seenFingerprint }] : undefined,
    });
  }
  const code = (err as { code?: string })?.code;
  if (code && PERMANENT_CODES[code]) {
    return ApplicationFailure.create({
      message: message((err as Error).message),
      type: PERMANENT_CODES[code],
      nonRetryable: true,
    });
  }
  // Qdrant and Portainer: time fixes an unreachable/loading instance or agent and 5xx; it does not fix credentials,
  // TLS trust, a missing collection or a name conflict.
  if (isQdrantError(err)) {
    const transient =
      err.kind === 'unreachable' || err.kind === 'not-ready' || (err.kind === 'http' && err.status >= 500);
    return ApplicationFailure.create({
      message: message(err.message),
      type: QDRANT_TYPES[err.kind],
      nonRetryable: !transient,
      details: [{ kind: err.kind, status: err.status }],
    });
  }
  if (isPortainerError(err)) {
    const transient =
      err.kind === 'unreachable' || err.kind === 'agent-unreachable' || (err.kind === 'http' && err.status >= 500);
    return ApplicationFailure.create({
      message: message(err.message),
      type: PORTAINER_TYPES[err.kind],
      nonRetryable: !transient,
      details: [{ kind: err.kind, status: err.status, details: err.details }],
    });
  }
  // Anything else (a cancellation, a bug) keeps its identity: Temporal reports it as it is, retryable.
  return err instanceof Error ? err : new Error(message(String(err)));
}

type AnyActivity = (...args: never[]) => Promise<unknown>;

/** Marks a function already wrapped, so wrapping twice (a factory, then createActivities) classifies once. */
const TRANSLATED = Symbol('phoenix.failureTranslation');

/**
 * Wraps every activity so whatever escapes it is classified by `toActivityFailure`. Each activity factory returns
 * its activities through it (so they classify the same in the worker, the lab and tests); createActivities applies
 * it again as a safety net for a factory that forgot — already wrapped functions are kept as they are.
 */
export function withFailureTranslation<T extends Record<string, AnyActivity>>(activities: T): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, fn] of Object.entries(activities)) {
    if ((fn as { [TRANSLATED]?: true })[TRANSLATED]) {
      wrapped[name] = fn;
      continue;
    }
    const translated = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toActivityFailure(err);
      }
    };
    Object.defineProperty(translated, 'name', { value: name });
    wrapped[name] = Object.assign(translated, { [TRANSLATED]: true as const });
  }
  return wrapped as T;
}

/** An ApplicationFailure only a person can fix (trying again would find the same thing). */
export function refuse(type: FailureTypeName, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: true, details: details ? [details] : undefined });
}
