/**
 * SSH transport: commands as argv (quoted in one place), stdin for content, on pooled verified connections (pool.ts:
 * one connection per host and credential, shared by the worker's activities; a session is a lease on it and each
 * command an exec channel). Nothing here knows about Temporal; errors carry a `kind` (see errors.ts).
 */
import type { ClientChannel } from 'ssh2';
import type { SshEndpoint } from '../config/resolved-plan';
import { credentialFor, describeEndpoint, poolKey, type WorkerEnv } from './connect';
import { remoteError } from './errors';
import { sshPool } from './pool';
import { shellQuote } from './quote';

export { describeEndpoint, type WorkerEnv } from './connect';

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

/** Most we keep of a command's stdout/stderr; the gateway's site file is far below this. */
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

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

/**
 * A session on the pooled connection for this endpoint and credential (opened now if there is none, so that host-key,
 * auth and connect problems surface here as they did with a connection per session). `close()` releases it and stops
 * the commands it still runs; the connection stays for the next session.
 */
export async function connectSsh(endpoint: SshEndpoint, env: WorkerEnv): Promise<SshSession> {
  const target = describeEndpoint(endpoint);
  const cred = credentialFor(endpoint, env, target);
  const key = poolKey(endpoint, cred);
  await sshPool.ensure(key, endpoint, cred, target);
  return makeSession(key, target, endpoint.commandTimeoutMs);
}

/**
 * Stops a command we no longer wait for: SIGKILL to its process group, then close the channel. sshd refuses the
 * signal for forced-command sessions (the Proxmox host's SSH gate); there the command runs on until it ends or its
 * output finds the channel closed, as when its connection was closed, and sshd counts its session until then.
 */
function stopChannel(stream: ClientChannel): void {
  // ssh2's Channel.signal() sends nothing once our side of the channel is ended (state 'eof'), which every command's
  // is (stdin is ended right after exec), so the request goes to the protocol directly until the channel closes.
  const ch = stream as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, name: string): void } };
  };
  try {
    const state = ch.outgoing?.state;
    if (ch.outgoing && (state === 'open' || state === 'eof') && ch._client?._protocol)
      ch._client._protocol.signal(ch.outgoing.id, 'KILL');
    else stream.signal('KILL');
  } catch {
    // not every server accepts signals; closing the channel is enough for us
  }
  try {
    stream.close();
  } catch {
    // already closed
  }
}

function makeSession(key: string, target: string, defaultTimeoutMs: number): SshSession {
  let closed = false;
  /** Commands in flight, each with how to end its wait when the session closes. */
  const running = new Map<ClientChannel, () => void>();
  const abandon = new AbortController();
  const closedError = () => remoteError('transient', target, `the SSH session to ${target} is closed; retry.`);

  return {
    describe: target,
    close() {
      if (closed) return;
      closed = true;
      abandon.abort();
      for (const [stream, abandonWait] of running) {
        stopChannel(stream);
        abandonWait();
      }
      running.clear();
    },
    async run(argv, opts = {}) {
      const command = shellQuote(argv);
      const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
      if (closed) throw closedError();
      const { stream, lastError } = await sshPool.openChannel(key, command, abandon.signal);
      if (closed) {
        stopChannel(stream);
        throw closedError();
      }
      return new Promise<CommandResult>((resolve, reject) => {
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
          stopChannel(stream);
          reject(
            remoteError(
              'timeout',
              target,
              `command \`${argv[0]}\` on ${target} did not finish within ${timeoutMs} ms (commandTimeoutMs); retry, or raise the timeout if the host is slow.`,
            ),
          );
        }, timeoutMs);
        // Closing the session ends the wait at once, as closing the session's own connection used to (the server
        // confirms the channel's close only when the command has ended).
        running.set(stream, () => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          reject(
            remoteError(
              'transient',
              target,
              `command \`${argv[0]}\` on ${target} was stopped: its SSH session was closed before it ended. Retry.`,
            ),
          );
        });
        stream.on('close', (code: number | null, signal?: string) => {
          clearTimeout(timer);
          running.delete(stream);
          if (settled) return;
          settled = true;
          if (code === null || code === undefined) {
            const lost = lastError();
            reject(
              remoteError(
                'transient',
                target,
                `command \`${argv[0]}\` on ${target} ended without an exit code${signal ? ` (signal ${signal})` : ''}; the connection may have dropped${lost ? ` (${lost.message})` : ''}. Retry.`,
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
    },
  };
}
