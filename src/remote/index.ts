export { shellQuote } from './quote';
export { isRetryable, isRemoteError, remoteError, type RemoteError, type RemoteErrorKind } from './errors';
export {
  withSsh,
  connectSsh,
  describeEndpoint,
  type SshSession,
  type CommandResult,
  type RunOptions,
  type WorkerEnv,
} from './ssh';
export { sshPool, closeSshPool, SshPool, DEFAULT_POOL_SETTINGS, type PoolSettings, type PoolStats } from './pool';
export { hostTarget, containerTarget, type RemoteTarget } from './target';
export { fingerprintOf, checkHostKey } from './host-keys';
