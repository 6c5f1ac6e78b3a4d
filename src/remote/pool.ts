/**
 * The worker's SSH connection pool: one authenticated ssh2 connection per endpoint + credential + host-key
 * expectation, shared by every activity that talks to that host; each command is an exec channel on it.
 *
 * Why reuse. Before the pool every SSH step opened its own connection: TCP connect, key exchange, publickey auth, and
 * on the server an sshd fork and re-exec of the per-connection process — ~0.1–0.2 s on a single run's critical path
 * for each of its ~7 SSH steps, and in the bench's fleet of 100 concurrent runs 700 short-lived sshd processes that
 * took a large share of two saturated cores (BENCHMARKS.md). An exec channel on an open connection costs one round
 * trip and the fork of the command itself; the sshd process and the keys are paid once per connection.
 *
 * Why at most 8 channels per connection. OpenSSH's `MaxSessions` (default 10) limits the sessions of one connection,
 * and each exec channel is a session. The server also keeps a session until its command exits even after we closed the
 * channel (a command we stopped on timeout that ignores the channel's close, or one under a forced command, where
 * sshd refuses the `signal` request), so our count of open channels can be below the server's. 8 leaves that margin;
 * when the server refuses a channel anyway ("open failed", administratively prohibited), the connection's capacity is
 * lowered to the channels it holds open (and new connections of that key start there: a server with a lower
 * MaxSessions) and the command is opened on another connection (a refused open never started anything, so trying it
 * elsewhere is safe). More concurrent commands than 8 open another connection.
 *
 * Why bounded handshakes. OpenSSH's `MaxStartups` (default 10:30:100) drops, at random, new connections beyond 10
 * that have not authenticated yet. A fleet of runs starting together would otherwise open dozens at once and lose some
 * to that drop; at most 3 handshakes per host:port run at a time (3 per worker process: two workers stay below 10),
 * and the commands waiting for them queue (for at most the endpoint's connectTimeoutMs, then they fail with kind
 * `timeout`, retryable).
 *
 * Failures. A connection that errors or closes leaves the pool at once; the commands in flight on it end the way they
 * did when each step had its own connection (the channel closes without an exit code: kind `transient`), and the next
 * command gets a fresh connection. A failed handshake fails the commands waiting for it with the same errors as before
 * (host-key, auth, connect, timeout), verified per new connection; a retryable failure while other connections of the
 * key are up only delays the next handshake (1 s).
 *
 * Idle. A connection with no open channel closes after 30 s and meanwhile does not keep the process alive (its socket
 * and the idle timer are unref'd; ssh2's keepalive timer could not be, so TCP keepalive replaces it, see connect.ts).
 * The worker closes the pool when it stops (`closeSshPool`).
 */
import type { Socket } from 'node:net';
import type { Client, ClientChannel } from 'ssh2';
import type { SshEndpoint } from '../config/resolved-plan';
import { openConnection, type Credential } from './connect';
import { isRemoteError, isRetryable, remoteError, type RemoteError } from './errors';

export interface PoolSettings {
  /** Exec channels open at once on one connection (OpenSSH MaxSessions is 10). */
  maxChannelsPerConnection: number;
  /** Handshakes in flight at once per host:port (OpenSSH MaxStartups starts dropping beyond 10). */
  maxHandshakesPerEndpoint: number;
  /** A connection without open channels closes after this long. */
  idleCloseMs: number;
  /** Tries to open a channel that servers refuse, each on another (or a new) connection. */
  channelOpenAttempts: number;
  /** After a retryable handshake failure, the next handshake of that key waits this long (others serve meanwhile). */
  handshakeBackoffMs: number;
}

export const DEFAULT_POOL_SETTINGS: PoolSettings = {
  maxChannelsPerConnection: 8,
  maxHandshakesPerEndpoint: 3,
  idleCloseMs: 30_000,
  channelOpenAttempts: 4,
  handshakeBackoffMs: 1_000,
};

interface Conn {
  id: number;
  entry: Entry;
  client: Client;
  sock: Socket;
  /** Channels open or being opened on it. */
  channels: number;
  /** Channels the server confirmed and that are not closed yet. */
  confirmed: number;
  capacity: number;
  dead: boolean;
  lastError?: Error;
  idleTimer?: NodeJS.Timeout;
}

interface Waiter {
  resolve(conn: Conn): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface Entry {
  key: string;
  /** host:port, for the handshake bound. */
  hostPort: string;
  target: string;
  /** The endpoint and credential of the latest lease (the key makes them equivalent; timeouts come from here). */
  endpoint: SshEndpoint;
  cred: Credential;
  conns: Conn[];
  connecting: number;
  waiters: Waiter[];
  retryAt: number;
  retryTimer?: NodeJS.Timeout;
  /** Channels per connection this server allowed when it refused one (its MaxSessions, as far as we saw). */
  learnedCapacity?: number;
}

export interface PoolStats {
  /** Connections opened (handshakes that succeeded) since the pool was made. */
  opened: number;
  /** Connections open now. */
  open: number;
  /** Exec channels open (or opening) now. */
  channels: number;
  /** Channels the server refused and that were opened elsewhere. */
  refusedChannels: number;
  /** Most handshakes that were in flight at once to one host:port. */
  peakHandshakes: number;
}

/** The connection a channel was opened on, and the channel. */
export interface PooledChannel {
  stream: ClientChannel;
  lastError(): Error | undefined;
}

export class SshPool {
  private readonly entries = new Map<string, Entry>();
  private readonly handshakes = new Map<string, number>();
  private settings: PoolSettings;
  private nextId = 1;
  private opened = 0;
  private refused = 0;
  private peakHandshakes = 0;

  constructor(settings: Partial<PoolSettings> = {}) {
    this.settings = { ...DEFAULT_POOL_SETTINGS, ...settings };
  }

  /** Changes the settings; idle connections start their idle time again under the new `idleCloseMs`. */
  configure(settings: Partial<PoolSettings>): void {
    this.settings = { ...this.settings, ...settings };
    for (const e of this.entries.values()) for (const c of e.conns) if (c.channels === 0 && !c.dead) this.idle(c);
  }

  stats(): PoolStats {
    let open = 0;
    let channels = 0;
    for (const e of this.entries.values())
      for (const c of e.conns) {
        open++;
        channels += c.channels;
      }
    return { opened: this.opened, open, channels, refusedChannels: this.refused, peakHandshakes: this.peakHandshakes };
  }

  /**
   * Makes sure the key has a connection (opening one if none is open) so that a bad host key, a refused key or a
   * closed port fail here, where a fresh connection used to fail.
   */
  async ensure(key: string, endpoint: SshEndpoint, cred: Credential, target: string): Promise<void> {
    const entry = this.entryFor(key, endpoint, cred, target);
    if (entry.conns.length) return;
    const conn = await this.slot(entry, undefined);
    this.release(conn);
  }

  /**
   * Opens an exec channel for `command` on a connection of `key` with a free channel (waiting for one, or for a new
   * connection). A channel the server refuses is tried on another connection. `signal` abandons the wait (the
   * session was closed).
   */
  async openChannel(key: string, command: string, signal: AbortSignal): Promise<PooledChannel> {
    const entry = this.entries.get(key);
    if (!entry) throw remoteError('transient', 'ssh', 'the SSH pool was closed (worker stopping); retry.');
    for (let attempt = 1; ; attempt++) {
      const conn = await this.slot(entry, signal);
      let stream: ClientChannel;
      try {
        stream = await this.exec(conn, command);
      } catch (e) {
        const err = e as Error & { reason?: unknown; notConnected?: boolean };
        this.release(conn);
        const refusedByServer = err.reason !== undefined;
        if (refusedByServer) {
          this.refused++;
          conn.capacity = Math.max(1, conn.confirmed);
          entry.learnedCapacity = Math.min(entry.learnedCapacity ?? conn.capacity, conn.capacity);
        } else if (err.notConnected) this.drop(conn, err);
        if ((refusedByServer || err.notConnected) && attempt < this.settings.channelOpenAttempts && !signal.aborted)
          continue;
        throw remoteError(
          'transient',
          entry.target,
          `cannot open a command channel on ${entry.target}: ${err.message}; retry.`,
          { cause: err },
        );
      }
      conn.confirmed++;
      stream.once('close', () => {
        conn.confirmed--;
        this.release(conn);
      });
      return { stream, lastError: () => conn.lastError };
    }
  }

  /** Closes every connection (the worker is stopping); commands in flight end as on a dropped connection. */
  closeAll(): void {
    for (const entry of this.entries.values()) {
      clearTimeout(entry.retryTimer);
      for (const w of entry.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(remoteError('transient', entry.target, `the SSH pool was closed (worker stopping); retry.`));
      }
      for (const conn of [...entry.conns]) {
        this.drop(conn);
        conn.client.end();
        conn.sock.destroy();
      }
    }
    this.entries.clear();
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────────────────────────

  private entryFor(key: string, endpoint: SshEndpoint, cred: Credential, target: string): Entry {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = {
        key,
        hostPort: `${endpoint.host}:${endpoint.port}`,
        target,
        endpoint,
        cred,
        conns: [],
        connecting: 0,
        waiters: [],
        retryAt: 0,
      };
      this.entries.set(key, entry);
    } else {
      entry.endpoint = endpoint;
      entry.cred = cred;
    }
    return entry;
  }

  /** A connection with a free channel, reserved for the caller (who must `release` it). */
  private slot(entry: Entry, signal: AbortSignal | undefined): Promise<Conn> {
    const free = this.freeConn(entry);
    if (free) {
      this.take(free);
      return Promise.resolve(free);
    }
    return new Promise<Conn>((resolve, reject) => {
      const waitMs = entry.endpoint.connectTimeoutMs;
      const leave = () => {
        const i = entry.waiters.indexOf(waiter);
        if (i >= 0) entry.waiters.splice(i, 1);
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        leave();
        reject(remoteError('transient', entry.target, `the SSH session to ${entry.target} was closed; retry.`));
      };
      const waiter: Waiter = {
        resolve: (conn) => {
          leave();
          resolve(conn);
        },
        reject: (err) => {
          leave();
          reject(err);
        },
        timer: setTimeout(() => {
          waiter.reject(
            remoteError(
              'timeout',
              entry.target,
              `no free SSH connection to ${entry.target} within connectTimeoutMs=${waitMs} (all channels busy, new connections not yet up); retry.`,
            ),
          );
        }, waitMs),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiters.push(waiter);
      this.pump(entry);
    });
  }

  /** The oldest live connection with a free channel: new work packs onto few connections, the rest go idle. */
  private freeConn(entry: Entry): Conn | undefined {
    return entry.conns.find(
      (c) => !c.dead && c.channels < Math.min(c.capacity, this.settings.maxChannelsPerConnection),
    );
  }

  private take(conn: Conn): void {
    conn.channels++;
    if (conn.idleTimer) {
      clearTimeout(conn.idleTimer);
      conn.idleTimer = undefined;
    }
    conn.sock.ref();
  }

  private release(conn: Conn): void {
    conn.channels = Math.max(0, conn.channels - 1);
    if (conn.dead) return;
    if (conn.channels === 0) this.idle(conn);
    this.pump(conn.entry);
  }

  private idle(conn: Conn): void {
    conn.sock.unref();
    clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      if (conn.channels > 0 || conn.dead) return;
      this.drop(conn);
      conn.client.end();
    }, this.settings.idleCloseMs);
    conn.idleTimer.unref();
  }

  /** Hands free channels to waiters, and starts handshakes for the waiters no connection (or handshake) covers. */
  private pump(entry: Entry): void {
    while (entry.waiters.length) {
      const conn = this.freeConn(entry);
      if (!conn) break;
      this.take(conn);
      entry.waiters[0].resolve(conn);
    }
    let uncovered = entry.waiters.length - entry.connecting * this.settings.maxChannelsPerConnection;
    if (uncovered <= 0) return;
    const wait = entry.retryAt - Date.now();
    if (wait > 0) {
      if (!entry.retryTimer) {
        entry.retryTimer = setTimeout(() => {
          entry.retryTimer = undefined;
          this.pump(entry);
        }, wait);
      }
      return;
    }
    while (uncovered > 0 && (this.handshakes.get(entry.hostPort) ?? 0) < this.settings.maxHandshakesPerEndpoint) {
      this.handshake(entry);
      uncovered -= this.settings.maxChannelsPerConnection;
    }
  }

  private handshake(entry: Entry): void {
    entry.connecting++;
    const inFlight = (this.handshakes.get(entry.hostPort) ?? 0) + 1;
    this.handshakes.set(entry.hostPort, inFlight);
    this.peakHandshakes = Math.max(this.peakHandshakes, inFlight);
    const done = () => {
      entry.connecting--;
      this.handshakes.set(entry.hostPort, (this.handshakes.get(entry.hostPort) ?? 1) - 1);
    };
    openConnection(entry.endpoint, entry.cred).then(
      ({ client, sock }) => {
        done();
        this.opened++;
        const conn: Conn = {
          id: this.nextId++,
          entry,
          client,
          sock,
          channels: 0,
          confirmed: 0,
          capacity: entry.learnedCapacity ?? this.settings.maxChannelsPerConnection,
          dead: false,
        };
        client.on('error', (err) => {
          conn.lastError = err;
          this.drop(conn, err);
        });
        client.on('close', () => this.drop(conn));
        entry.conns.push(conn);
        entry.retryAt = 0;
        this.pump(entry);
        if (conn.channels === 0 && !conn.dead) this.idle(conn);
        this.pumpOthers(entry);
      },
      (err: Error) => {
        done();
        const failure = isRemoteError(err) ? err : remoteError('connect', entry.target, err.message, { cause: err });
        if (!isRetryable(failure) || (entry.conns.length === 0 && entry.connecting === 0)) {
          for (const w of [...entry.waiters]) w.reject(copyError(failure));
        } else {
          entry.retryAt = Date.now() + this.settings.handshakeBackoffMs;
        }
        this.pump(entry);
        this.pumpOthers(entry);
      },
    );
  }

  /** A handshake slot of this host:port is free again: other keys of the same endpoint may be waiting for it. */
  private pumpOthers(entry: Entry): void {
    for (const other of this.entries.values())
      if (other !== entry && other.hostPort === entry.hostPort && other.waiters.length) this.pump(other);
  }

  private drop(conn: Conn, err?: Error): void {
    if (err && !conn.lastError) conn.lastError = err;
    if (conn.dead) return;
    conn.dead = true;
    clearTimeout(conn.idleTimer);
    const list = conn.entry.conns;
    const i = list.indexOf(conn);
    if (i >= 0) list.splice(i, 1);
    if (err) conn.client.end();
    // Waiters that counted on this connection's channels may now need a handshake.
    if (conn.entry.waiters.length) this.pump(conn.entry);
  }

  /** Opens the channel; a channel that does not open within connectTimeoutMs means a dead connection: drop it. */
  private exec(conn: Conn, command: string): Promise<ClientChannel> {
    return new Promise<ClientChannel>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new Error(`no answer to a channel open within ${conn.entry.endpoint.connectTimeoutMs} ms`);
        this.drop(conn, err);
        conn.client.destroy();
      }, conn.entry.endpoint.connectTimeoutMs);
      try {
        conn.client.exec(command, (err, stream) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(stream);
        });
      } catch (e) {
        // ssh2 throws "Not connected" when the socket went away before we heard of it: nothing was sent.
        clearTimeout(timer);
        reject(Object.assign(e as Error, { notConnected: true }));
      }
    });
  }
}

function copyError(err: RemoteError): RemoteError {
  return remoteError(err.kind, err.target, err.message, {
    ...(err.seenFingerprint ? { seenFingerprint: err.seenFingerprint } : {}),
    ...(err.cause ? { cause: err.cause } : {}),
  });
}

/** The worker's one pool. */
export const sshPool = new SshPool();

/** Closes every pooled SSH connection (the worker calls it when it stops). */
export function closeSshPool(): void {
  sshPool.closeAll();
}
