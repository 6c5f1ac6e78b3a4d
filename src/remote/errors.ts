/**
 * Typed errors of the remote layer. Callers classify by `kind` (never by instanceof: errors cross module
 * registries in jest and Temporal), and ask `isRetryable` whether trying again can help.
 */
export type RemoteErrorKind = 'host-key' | 'auth' | 'connect' | 'timeout' | 'command' | 'transient';

export interface RemoteError extends Error {
  name: 'RemoteError';
  kind: RemoteErrorKind;
  /** `user@host:port` or the target's description. */
  target: string;
  /** For 'host-key': the fingerprint the server presented (`SHA256:…`). */
  seenFingerprint?: string;
  /** For 'command': exit code and the (already secret-free) stderr tail. */
  exitCode?: number;
  stderr?: string;
}

export function remoteError(
  kind: RemoteErrorKind,
  target: string,
  message: string,
  extra: Partial<Pick<RemoteError, 'seenFingerprint' | 'exitCode' | 'stderr' | 'cause'>> = {},
): RemoteError {
  const err = new Error(message) as RemoteError;
  err.name = 'RemoteError';
  err.kind = kind;
  err.target = target;
  Object.assign(err, extra);
  return err;
}

export function isRemoteError(err: unknown): err is RemoteError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'RemoteError' &&
    typeof (err as { kind?: unknown }).kind === 'string'
  );
}

/**
 * Host-key and auth problems need a person (trusting a key, fixing a key path); a failed command is a
 * fact about the remote system. Network trouble and timeouts may pass.
 */
export function isRetryable(err: unknown): boolean {
  if (!isRemoteError(err)) return false;
  return err.kind === 'connect' || err.kind === 'timeout' || err.kind === 'transient';
}
