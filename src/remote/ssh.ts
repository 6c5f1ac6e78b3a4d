/**
 * SSH transport: one verified connection per activity, commands as argv (quoted in one place), stdin for
 * content. Nothing here knows about Temporal; errors carry a `kind` (see errors.ts).
 */
import { readFileSync } from 'node:fs';
import { Client, type ConnectConfig } from 'ssh2';
import type { SshEndpoint } from '../config/resolved-plan';
import { checkHostKey, fingerprintOf } from './host-keys';
import { remoteError, isRemoteError, type RemoteError } from './errors';
import { shellQuote } from './quote';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Called with each chunk of stdout/stderr as it arrives (long commands stream their progress into heartbeats). */
  onOutput?: (chunk: string) => void;
}

export interface SshSession {
  /** `user@host:port`, for messages. */
  describe: string;
  /** Runs argv (quoted by shellQuote) on the host; resolves with the exit code, whatever it is. */
  run(argv: string[], opts?: RunOptions): Promise<CommandResult>;
  close(): void;
}

/** Worker environment (process.env in production; tests pass their own). */
export type WorkerEnv = Record<string, string | undefined>;

/** Most we keep of a command's stdout/stderr; the gateway's site file is far below this. */
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

export function describeEndpoint(ep: SshEndpoint): string {
  return `${ep.user}@${ep.host}:${ep.port}`;
}

export async function withSsh<T>(
  endpoint: SshEndpoint,
  env: WorkerEnv,
  fn: (session: SshSession) => Promise<T>,
): Promise<T> {
  const session = await connectSsh(endpoint, env);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}

export async function connectSsh(endpoint: SshEndpoint, env: WorkerEnv): Promise<SshSession> {
  const target = describeEndpoint(endpoint);
  const auth = authConfig(endpoint, env, target);
  let hostKeyProblem: RemoteError | undefined;

  const config: ConnectConfig = {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.user,
    readyTimeout: endpoint.connectTimeoutMs,
    keepaliveInterval: 15_000,
    ...auth,
    hostVerifier: (key: Buffer) => {
      const verdict = checkHostKey(endpoint.hostKey, endpoint.host, endpoint.port, key);
      if (verdict.ok) return true;
      hostKeyProblem = hostKeyError(endpoint, target, fingerprintOf(key), verdict.reason, verdict.detail);
      return false;
    },
  };

  return new Promise<SshSession>((resolve, reject) => {
    const client = new Client();
    let ready = false;
    client.once('ready', () => {
      ready = true;
      resolve(makeSession(client, target, endpoint.commandTimeoutMs));
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (ready) return; // reported to the running command through its channel's close
      client.end();
      reject(classifyConnectError(err, target, endpoint, hostKeyProblem));
    });
    try {
      client.connect(config);
    } catch (err) {
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

function authConfig(
  endpoint: SshEndpoint,
  env: WorkerEnv,
  target: string,
): Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent'> {
  const keyPath = env[endpoint.privateKeyPathEnv];
  if (keyPath) {
    let privateKey: Buffer;
    try {
      privateKey = readFileSync(keyPath);
    } catch (e) {
      throw remoteError(
        'auth',
        target,
        `cannot read the SSH private key for ${target}: env ${endpoint.privateKeyPathEnv} names ${keyPath} (${(e as NodeJS.ErrnoException).code ?? 'error'}). Point ${endpoint.privateKeyPathEnv} at a readable key file.`,
      );
    }
    const passphrase = endpoint.passphraseEnv ? env[endpoint.passphraseEnv] : undefined;
    return passphrase ? { privateKey, passphrase } : { privateKey };
  }
  if (env.SSH_AUTH_SOCK) return { agent: env.SSH_AUTH_SOCK };
  throw remoteError(
    'auth',
    target,
    `no SSH credentials for ${target}: set env ${endpoint.privateKeyPathEnv} to the private key's path on the worker, or run the worker with an ssh-agent (SSH_AUTH_SOCK).`,
  );
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

function makeSession(client: Client, target: string, defaultTimeoutMs: number): SshSession {
  let closed = false;
  let lostConnection: Error | undefined;
  client.on('close', () => {
    closed = true;
  });
  client.on('error', (err) => {
    lostConnection = err;
  });

  return {
    describe: target,
    close() {
      if (!closed) client.end();
      closed = true;
    },
    run(argv, opts = {}) {
      const command = shellQuote(argv);
      const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
      return new Promise<CommandResult>((resolve, reject) => {
        if (closed) {
          reject(
            remoteError(
              'transient',
              target,
              `the SSH connection to ${target} is closed${lostConnection ? ` (${lostConnection.message})` : ''}; retry.`,
            ),
          );
          return;
        }
        client.exec(command, (err, stream) => {
          if (err) {
            reject(
              remoteError('transient', target, `cannot open a command channel on ${target}: ${err.message}; retry.`, {
                cause: err,
              }),
            );
            return;
          }
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          let size = 0;
          let settled = false;
          const collect = (into: Buffer[]) => (chunk: Buffer) => {
            opts.onOutput?.(chunk.toString('utf8'));
            size += chunk.length;
            if (size <= MAX_OUTPUT_BYTES) into.push(chunk);
          };
          stream.on('data', collect(out));
          stream.stderr.on('data', collect(errOut));
          const timer = setTimeout(() => {
            if (settled) return;
            settled = true;
            try {
              stream.signal('KILL');
            } catch {
              // not every server accepts signals; closing the channel is enough for us
            }
            stream.close();
            reject(
              remoteError(
                'timeout',
                target,
                `command \`${argv[0]}\` on ${target} did not finish within ${timeoutMs} ms (commandTimeoutMs); retry, or raise the timeout if the host is slow.`,
              ),
            );
          }, timeoutMs);
          stream.on('close', (code: number | null, signal?: string) => {
            clearTimeout(timer);
            if (settled) return;
            settled = true;
            if (code === null || code === undefined) {
              reject(
                remoteError(
                  'transient',
                  target,
                  `command \`${argv[0]}\` on ${target} ended without an exit code${signal ? ` (signal ${signal})` : ''}; the connection may have dropped. Retry.`,
                ),
              );
              return;
            }
            resolve({
              code,
              stdout: Buffer.concat(out).toString('utf8'),
              stderr: Buffer.concat(errOut).toString('utf8'),
            });
          });
          if (opts.stdin !== undefined) stream.end(opts.stdin);
          else stream.end();
        });
      });
    },
  };
}
