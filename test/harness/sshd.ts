/**
 * A REAL OpenSSH sshd on 127.0.0.1 for integration tests: fresh host and user keys (ssh-keygen, in a temp
 * dir, never committed), its own config, in the foreground as our child process, user root.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { SshEndpoint } from '../../src/config/resolved-plan';

export interface SshdHandle {
  host: '127.0.0.1';
  port: number;
  user: string;
  dir: string;
  hostKeyFingerprint: string;
  userKeyPath: string;
  knownHostsFile: string;
  /** Worker env with the key path under `keyEnvName` (default PHOENIX_TEST_SSH_KEY). */
  env: Record<string, string>;
  keyEnvName: string;
  /** An endpoint trusting the host by fingerprint. */
  endpoint(overrides?: Partial<SshEndpoint>): SshEndpoint;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Directories put first on PATH for sessions (e.g. the pct stand-in). */
  extraPath?: string[];
  /** Extra environment for sessions (SetEnv). Values must not contain spaces or quotes. */
  setEnv?: Record<string, string>;
  keyEnvName?: string;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function startSshd(opts: SshdOptions = {}): Promise<SshdHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'phoenix-sshd-'));
  mkdirSync('/run/sshd', { recursive: true });
  const hostKey = join(dir, 'host_ed25519');
  const userKeyPath = join(dir, 'user_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey, '-C', 'phoenix-test-host']);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKeyPath, '-C', 'phoenix-test-user']);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKeyPath}.pub`));
  const hostKeyFingerprint = execFileSync('ssh-keygen', ['-lf', `${hostKey}.pub`], { encoding: 'utf8' }).split(/\s+/)[1];

  const port = await freePort();
  const path = [...(opts.extraPath ?? []), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
  const setEnv = [`PATH=${path}`, ...Object.entries(opts.setEnv ?? {}).map(([k, v]) => `${k}=${v}`)].join(' ');
  const config = join(dir, 'sshd_config');
  writeFileSync(config, [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'StrictModes no',
    'UsePAM no',
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'Subsystem sftp internal-sftp',
    `SetEnv ${setEnv}`,
    '',
  ].join('\n'));

  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);

  const log = join(dir, 'sshd.log');
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-f', config, '-E', log], { stdio: 'ignore' });
  await waitForPort(port, child, log);

  const keyEnvName = opts.keyEnvName ?? 'PHOENIX_TEST_SSH_KEY';
  const user = userInfo().username;
  return {
    host: '127.0.0.1',
    port,
    user,
    dir,
    hostKeyFingerprint,
    userKeyPath,
    knownHostsFile,
    keyEnvName,
    env: { [keyEnvName]: userKeyPath },
    endpoint: (overrides = {}) => ({
      host: '127.0.0.1',
      port,
      user,
      hostKey: { fingerprint: hostKeyFingerprint },
      privateKeyPathEnv: keyEnvName,
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 30_000,
      ...overrides,
    }),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, log: string): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${safeRead(log)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`sshd did not listen on 127.0.0.1:${port}: ${safeRead(log)}`);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '(no log)';
  }
}
