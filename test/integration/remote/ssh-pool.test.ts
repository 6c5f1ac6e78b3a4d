/**
 * The worker's SSH connection pool (src/remote/pool.ts) against a real OpenSSH sshd with its DEFAULT limits
 * (MaxStartups 10:30:100, MaxSessions 10): many concurrent sessions share few connections, a refused channel is opened
 * elsewhere, a connection killed under a command fails that command as transient and the next session gets a fresh
 * one, idle connections close and never keep the process alive, and closing a session stops its running command.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isRemoteError, isRetryable, sshPool, withSsh, type RemoteError } from '../../../src/remote';
import { descendantsOf } from '../../../src/lab/services/sshd';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { expectRemoteError } from '../../harness/remote';
import { requireOrSkip } from '../../harness/tools';

const describeIf = requireOrSkip('sshd', 'ssh-keygen') ? describe : describe.skip;

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connections sshd authenticated, from its log (one line per connection). */
function accepted(sshd: SshdHandle): number {
  const log = fs.readFileSync(path.join(sshd.dir, 'sshd.log'), 'utf8');
  return log.split('\n').filter((l) => l.includes('Accepted publickey for')).length;
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleepMs(25);
  }
}

/** Commands (not sshd) running under the sshd, by their /proc cmdline. */
function commandsUnder(sshd: SshdHandle): string[] {
  const pid = sshd.pid();
  if (pid === undefined) return [];
  return descendantsOf(pid)
    .map((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        return '';
      }
    })
    .filter((c) => c && !c.startsWith('sshd'));
}

describeIf('SSH connection pool against a default-configured sshd', () => {
  let sshd: SshdHandle;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    sshPool.closeAll();
    await sshd?.stop();
  });

  it('runs with OpenSSH default limits (no MaxStartups/MaxSessions override)', () => {
    const config = fs.readFileSync(path.join(sshd.dir, 'sshd_config'), 'utf8');
    expect(config).not.toMatch(/MaxStartups|MaxSessions/);
  });

  it('40 concurrent sessions all succeed on a few shared connections', async () => {
    const before = accepted(sshd);
    const openedBefore = sshPool.stats().opened;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        withSsh(sshd.endpoint(), sshd.env, async (s) => {
          const a = await s.run(['sh', '-c', 'sleep 0.3; echo "$1"', 'sh', String(i)]);
          const b = await s.run(['cat'], { stdin: `again ${i}` });
          return `${a.stdout.trim()}|${b.stdout}`;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => `${i}|again ${i}`));
    const connections = accepted(sshd) - before;
    // 40 commands at once, 8 channels per connection: 5 would do; a handshake or two more may start while the first
    // ones are still coming up. Before the pool this was 80 connections.
    expect(connections).toBeGreaterThanOrEqual(1);
    expect(connections).toBeLessThanOrEqual(8);
    expect(sshPool.stats().opened - openedBefore).toBe(connections);
    expect(sshPool.stats().channels).toBe(0);
    // Never more than 3 handshakes at once (sshd's MaxStartups 10 would start dropping beyond 10).
    expect(sshPool.stats().peakHandshakes).toBeGreaterThanOrEqual(1);
    expect(sshPool.stats().peakHandshakes).toBeLessThanOrEqual(3);

    // The next session reuses an open connection: no new handshake.
    const again = accepted(sshd);
    await withSsh(sshd.endpoint(), sshd.env, (s) => s.run(['true']));
    expect(accepted(sshd)).toBe(again);
  });

  it('a connection killed under a command fails that command as transient; the next session gets a fresh one', async () => {
    // A connection of its own (another host-key expectation is another pool key), so the kill hits only it.
    const ep = sshd.endpoint({ hostKey: { knownHostsFile: sshd.knownHostsFile } });
    await withSsh(ep, sshd.env, (s) => s.run(['true']));
    const before = accepted(sshd);
    const running = withSsh(ep, sshd.env, (s) => s.run(['sleep', '31']));
    // (killed below with its connection's sshd processes: nothing of it outlives the test)
    await until('the command to run', () => commandsUnder(sshd).some((c) => c === 'sleep 31'));
    // This connection's processes: the sshd processes above `sleep 31` (the others' belong to other connections).
    const pid = sshd.pid() as number;
    const sleeper = descendantsOf(pid).find((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\x0031\x00');
    const chain = descendantsOf(pid).filter((p) => p === sleeper || descendantsOf(p).includes(sleeper as number));
    expect(chain.length).toBeGreaterThanOrEqual(2);
    for (const p of chain) process.kill(p, 'SIGKILL');

    const err = await expectRemoteError(running);
    expect(err.kind).toBe('transient');
    expect(isRetryable(err)).toBe(true);

    const out = await withSsh(ep, sshd.env, (s) => s.run(['echo', 'fresh']));
    expect(out.stdout).toBe('fresh\n');
    expect(accepted(sshd)).toBe(before + 1);
  });

  it('closing a session stops the command it still runs (as closing its own connection did); the connection stays', async () => {
    // sshd refuses the KILL signal for root (and for forced-command) sessions, so what stops a command is what stopped
    // it when its connection closed: its output pipe is gone (SIGPIPE at its next write).
    const ticker = ['sh', '-c', 'while echo tick; do sleep 0.1; done', 'phoenix-ticker'];
    let pending: Promise<unknown> | undefined;
    await withSsh(sshd.endpoint(), sshd.env, async (s) => {
      pending = s.run(ticker).catch((e: unknown) => e);
      await until('the command to run', () => commandsUnder(sshd).some((c) => c.includes('phoenix-ticker')));
    });
    const ended = (await pending) as RemoteError;
    expect(isRemoteError(ended) && ended.kind).toBe('transient');
    expect(ended.message).toMatch(/session was closed/);
    await until('the command to be stopped', () => !commandsUnder(sshd).some((c) => c.includes('phoenix-ticker')));
    const before = accepted(sshd);
    await withSsh(sshd.endpoint(), sshd.env, (s) => s.run(['true']));
    expect(accepted(sshd)).toBe(before);
  });

  it('closes idle connections, and an idle connection does not keep the process alive', async () => {
    sshPool.configure({ idleCloseMs: 300 });
    try {
      await withSsh(sshd.endpoint(), sshd.env, (s) => s.run(['true']));
      expect(sshPool.stats().open).toBeGreaterThanOrEqual(1);
      await until('idle connections to close', () => sshPool.stats().open === 0, 5_000);
      // ...and sshd's per-connection processes went with them.
      await until('sshd sessions to end', () => descendantsOf(sshd.pid() as number, /^sshd/).length === 0, 5_000);
    } finally {
      sshPool.configure({ idleCloseMs: 30_000 });
    }

    // A process that ran a command exits at once, not after the 30 s idle close (built lib/, as the worker runs it).
    const script = `
      const { withSsh } = require(${JSON.stringify(path.resolve(__dirname, '../../../lib/remote'))});
      withSsh(${JSON.stringify(sshd.endpoint())}, ${JSON.stringify(sshd.env)}, (s) => s.run(['echo', 'ok']))
        .then((r) => process.stdout.write(r.stdout));`;
    const started = Date.now();
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (err, out) => (err ? reject(err) : resolve(out))),
    );
    expect(stdout).toBe('ok\n');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describeIf('SSH connection pool: a server that refuses channels', () => {
  let sshd: SshdHandle;
  beforeAll(async () => {
    // Fewer sessions per connection than the pool's 8: the server refuses the third channel ("open failed").
    sshd = await startSshd({ extraConfig: ['MaxSessions 2'] });
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('opens a refused channel on another connection instead of failing the command', async () => {
    const refusedBefore = sshPool.stats().refusedChannels;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        withSsh(sshd.endpoint(), sshd.env, (s) => s.run(['sh', '-c', 'sleep 0.3; echo "$1"', 'sh', String(i)])),
      ),
    );
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    expect(sshPool.stats().refusedChannels).toBeGreaterThan(refusedBefore);
  });
});
