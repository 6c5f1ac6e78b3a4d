/**
 * One verified SSH connection: the credential from the worker's environment, the host key checked against the plan's
 * trust (a pinned fingerprint or a known_hosts file), and the errors a person can act on (kinds in errors.ts). The
 * pool (pool.ts) calls this for every connection it opens; nothing here is shared between connections.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { Client, type ConnectConfig } from 'ssh2';
import type { SshEndpoint } from '../config/resolved-plan';
import { checkHostKey, fingerprintOf } from './host-keys';
import { remoteError, isRemoteError, type RemoteError } from './errors';

/** Worker environment (process.env in production; tests pass their own). */
export type WorkerEnv = Record<string, string | undefined>;

export function describeEndpoint(ep: SshEndpoint): string {
  return `${ep.user}@${ep.host}:${ep.port}`;
}

/** Which credential a connection authenticates with, as the worker's environment names it (no secret in it). */
export interface Credential {
  keyPath?: string;
  passphrase?: string;
  agent?: string;
}

/**
 * The credential for `endpoint` from `env`; throws kind `auth` when there is none (before any connection is tried,
 * as before the pool).
 */
export function credentialFor(endpoint: SshEndpoint, env: WorkerEnv, target: string): Credential {
  const keyPath = env[endpoint.privateKeyPathEnv];
  if (keyPath) {
    const passphrase = endpoint.passphraseEnv ? env[endpoint.passphraseEnv] : undefined;
    return passphrase ? { keyPath, passphrase } : { keyPath };
  }
  if (env.SSH_AUTH_SOCK) return { agent: env.SSH_AUTH_SOCK };
  throw remoteError(
    'auth',
    target,
    `no SSH credentials for ${target}: set env ${endpoint.privateKeyPathEnv} to the private key's path on the worker, or run the worker with an ssh-agent (SSH_AUTH_SOCK).`,
  );
}

/**
 * What makes two connections interchangeable: the same user at the same host and port, the same credential and the
 * same host-key expectation. A passphrase enters only as a hash (the key lives in worker memory, but still).
 */
export function poolKey(endpoint: SshEndpoint, cred: Credential): string {
  const pass = cred.passphrase ? createHash('sha256').update(cred.passphrase).digest('hex').slice(0, 16) : '';
  const trust = endpoint.hostKey.fingerprint
    ? `fp:${endpoint.hostKey.fingerprint}`
    : `kh:${endpoint.hostKey.knownHostsFile ?? ''}`;
  const who = cred.keyPath ? `key:${cred.keyPath}:${pass}` : `agent:${cred.agent ?? ''}`;
  return JSON.stringify([endpoint.user, endpoint.host, endpoint.port, who, trust]);
}

function authConfig(
  endpoint: SshEndpoint,
  cred: Credential,
  target: string,
): Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent'> {
  if (cred.keyPath) {
    let privateKey: Buffer;
    try {
      privateKey = readFileSync(cred.keyPath);
    } catch (e) {
      throw remoteError(
        'auth',
        target,
        `cannot read the SSH private key for ${target}: env ${endpoint.privateKeyPathEnv} names ${cred.keyPath} (${(e as NodeJS.ErrnoException).code ?? 'error'}). Point ${endpoint.privateKeyPathEnv} at a readable key file.`,
      );
    }
    return cred.passphrase ? { privateKey, passphrase: cred.passphrase } : { privateKey };
  }
  return { agent: cred.agent };
}

export interface OpenConnection {
  client: Client;
  /** The TCP socket under the connection (the pool refs it while the connection is in use, unrefs it when idle). */
  sock: Socket;
}

/**
 * Opens and authenticates one connection. The socket is ours (not ssh2's) so that an idle pooled connection can be
 * unref'd: ssh2's own keepalive timer cannot be, so it is off and TCP keepalive takes its place (a dead peer under a
 * running command is also caught by the command's timeout, a dead idle one by the channel-open timeout in pool.ts).
 */
export function openConnection(endpoint: SshEndpoint, cred: Credential): Promise<OpenConnection> {
  const target = describeEndpoint(endpoint);
  let hostKeyProblem: RemoteError | undefined;
  return new Promise<OpenConnection>((resolve, reject) => {
    let auth: ReturnType<typeof authConfig>;
    try {
      auth = authConfig(endpoint, cred, target);
    } catch (err) {
      reject(err);
      return;
    }
    const client = new Client();
    const sock = new Socket();
    let ready = false;
    client.once('ready', () => {
      ready = true;
      resolve({ client, sock });
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (ready) return; // the pool listens for errors of a ready connection
      client.end();
      sock.destroy();
      reject(classifyConnectError(err, target, endpoint, hostKeyProblem));
    });
    // A server that drops us during the handshake (MaxStartups does, at random) may close without an error event.
    client.once('close', () => {
      if (ready) return;
      reject(
        hostKeyProblem ??
          remoteError(
            'connect',
            target,
            `${target} closed the connection during the SSH handshake (sshd's MaxStartups refusing new connections, or sshd going away); retry.`,
          ),
      );
    });
    const config: ConnectConfig = {
      sock,
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      readyTimeout: endpoint.connectTimeoutMs,
      keepaliveInterval: 0,
      ...auth,
      hostVerifier: (key: Buffer) => {
        const verdict = checkHostKey(endpoint.hostKey, endpoint.host, endpoint.port, key);
        if (verdict.ok) return true;
        hostKeyProblem = hostKeyError(endpoint, target, fingerprintOf(key), verdict.reason, verdict.detail);
        return false;
      },
    };
    try {
      sock.setKeepAlive(true, 15_000);
      sock.setNoDelay(true);
      // ssh2 waits for this socket's 'connect' (and reports its errors) when given one that is still connecting.
      sock.connect({ host: endpoint.host, port: endpoint.port });
      client.connect(config);
    } catch (err) {
      sock.destroy();
      // ssh2 parses the private key synchronously: a wrong passphrase or a bad key file lands here.
      reject(
        remoteError(
          'auth',
          target,
          `cannot use the private key for ${target} (from env ${endpoint.privateKeyPathEnv}): ${(err as Error).message}. Check the key file and ${endpoint.passphraseEnv ? `env ${endpoint.passphraseEnv}` : 'whether it needs a passphrase (set passphraseEnv in the plan)'}.`,
        ),
      );
    }
  });
}

function hostKeyError(
  endpoint: SshEndpoint,
  target: string,
  seen: string,
  reason: string,
  detail: string,
): RemoteError {
  const how = `If this key is right, trust it: compare with \`ssh-keyscan -p ${endpoint.port} ${endpoint.host} | ssh-keygen -lf -\` run on a trusted path, then put "${seen}" in the plan's hostKey.fingerprint (or add the key to the known_hosts file).`;
  const what =
    reason === 'changed' ? 'CHANGED host key' : reason === 'revoked' ? 'REVOKED host key' : 'unknown host key';
  return remoteError('host-key', target, `refusing ${target}: ${what} ${seen} (${detail}). ${how}`, {
    seenFingerprint: seen,
  });
}

function classifyConnectError(
  err: Error & { level?: string; code?: string },
  target: string,
  endpoint: SshEndpoint,
  hostKeyProblem?: RemoteError,
): RemoteError {
  if (hostKeyProblem) return hostKeyProblem;
  if (isRemoteError(err)) return err;
  if (err.level === 'client-authentication') {
    return remoteError(
      'auth',
      target,
      `the server at ${target} refused our key for user ${endpoint.user}: check that the public key of the file named by env ${endpoint.privateKeyPathEnv} is in ${endpoint.user}'s authorized_keys.`,
    );
  }
  if (err.level === 'client-timeout') {
    return remoteError(
      'timeout',
      target,
      `no SSH handshake with ${target} within connectTimeoutMs=${endpoint.connectTimeoutMs}: check that the host is up and the port is right.`,
      { cause: err },
    );
  }
  return remoteError(
    'connect',
    target,
    `cannot connect to ${target}: ${err.code ?? err.message}. Check the host, port and that sshd runs.`,
    { cause: err },
  );
}
