/**
 * A REAL OpenSSH sshd on a loopback address, with its own host and user keys (made by ssh-keygen at start, never
 * committed) and its own config: the lab's "Proxmox host", and the tests' SSH peer.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SshEndpoint } from '../../config/resolved-plan';
import { freePort, waitForTcp } from './ports';

export interface SshdOptions {
  /** Where keys, config and log live (created); default a temp dir removed at stop. */
  dir?: string;
  listenHost?: string;
  port?: number;
  /** Directories put first on PATH for sessions (e.g. the pct stand-in). */
  extraPath?: string[];
  /** Extra environment for sessions (SetEnv). Values must not contain spaces or quotes. */
  setEnv?: Record<string, string>;
  /** Env var name the worker reads the key path from; default PHOENIX_SSH_KEY. */
  keyEnvName?: string;
  /** The user key only runs this forced command (`restrict,command="…"`), like the real host's phoenix-ssh-gate. */
  forcedCommand?: string;
  /** More sshd_config lines (tests: e.g. a lower MaxSessions). The lab's worlds use none: OpenSSH's defaults. */
  extraConfig?: string[];
}

export interface SshdHandle {
  host: string;
  port: number;
  user: string;
  dir: string;
  hostKeyFingerprint: string;
  userKeyPath: string;
  knownHostsFile: string;
  keyEnvName: string;
  /** Worker env with the key path under `keyEnvName`. */
  env: Record<string, string>;
  /** An endpoint trusting the host by fingerprint. */
  endpoint(overrides?: Partial<SshEndpoint>): SshEndpoint;
  pid(): number | undefined;
  stop(): Promise<void>;
}

export const SSHD_BINARY = '/usr/sbin/sshd';

export async function startSshd(opts: SshdOptions = {}): Promise<SshdHandle> {
  const ownDir = !opts.dir;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-sshd-'));
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync('/run/sshd', { recursive: true });
  const host = opts.listenHost ?? '127.0.0.1';
  const hostKey = path.join(dir, 'host_ed25519');
  const userKeyPath = path.join(dir, 'user_ed25519');
  if (!fs.existsSync(hostKey))
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey, '-C', 'phoenix-lab-host']);
  if (!fs.existsSync(userKeyPath))
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKeyPath, '-C', 'phoenix-lab-user']);
  const publicKey = fs.readFileSync(`${userKeyPath}.pub`, 'utf8');
  fs.writeFileSync(
    path.join(dir, 'authorized_keys'),
    opts.forcedCommand ? `restrict,command="${opts.forcedCommand.replace(/["\\]/g, '\\$&')}" ${publicKey}` : publicKey,
  );
  const hostKeyFingerprint = execFileSync('ssh-keygen', ['-lf', `${hostKey}.pub`], { encoding: 'utf8' }).split(
    /\s+/,
  )[1];

  const port = opts.port ?? (await freePort(host));
  const sessionPath = [
    ...(opts.extraPath ?? []),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ].join(':');
  // Sessions get an empty HOME: the login user's rc files must not run for every command (a developer machine's root
  // .bashrc may start slow tools such as `pyenv init`; bash sources it even for `ssh host cmd`). A real Proxmox host's
  // root account does not do that, and the commands we run need nothing from HOME.
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const setEnv = [
    `PATH=${sessionPath}`,
    `HOME=${home}`,
    ...Object.entries(opts.setEnv ?? {}).map(([k, v]) => `${k}=${v}`),
  ].join(' ');
  // MaxStartups and MaxSessions stay at OpenSSH's defaults (10:30:100 and 10), as on a real Proxmox host: the worker's
  // connection pool (src/remote/pool.ts) bounds its handshakes and its channels per connection to fit them.
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'Subsystem sftp internal-sftp',
      `SetEnv ${setEnv}`,
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const knownHostsFile = path.join(dir, 'known_hosts');
  const hostKeyLine = fs.readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  fs.writeFileSync(knownHostsFile, `[${host}]:${port} ${hostKeyLine}\n`);

  const log = path.join(dir, 'sshd.log');
  const child: ChildProcess = spawn(SSHD_BINARY, ['-D', '-f', config, '-E', log], { stdio: 'ignore' });
  const tail = () => {
    try {
      return fs.readFileSync(log, 'utf8').slice(-2000);
    } catch {
      return '(no log)';
    }
  };
  await waitForTcp(host, port, {
    alive: () => (child.exitCode !== null ? `sshd exited with ${child.exitCode}: ${tail()}` : undefined),
  }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });

  const keyEnvName = opts.keyEnvName ?? 'PHOENIX_SSH_KEY';
  const user = os.userInfo().username;
  return {
    host,
    port,
    user,
    dir,
    hostKeyFingerprint,
    userKeyPath,
    knownHostsFile,
    keyEnvName,
    env: { [keyEnvName]: userKeyPath },
    endpoint: (overrides = {}) => ({
      host,
      port,
      user,
      hostKey: { fingerprint: hostKeyFingerprint },
      privateKeyPathEnv: keyEnvName,
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 30_000,
      ...overrides,
    }),
    pid: () => child.pid,
    stop: async () => {
      // sshd's per-connection processes outlive the listener (as on any host); the lab's world ends with it, so its
      // open connections (the worker's pooled ones) end too.
      const sessions = child.pid !== undefined ? descendantsOf(child.pid, /^sshd/) : [];
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      for (const pid of sessions) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Processes below `pid` (children first, then theirs), from /proc; with `comm`, only those whose process name matches
 * (`/^sshd/`: the sshd's per-connection processes, not the commands they run).
 */
export function descendantsOf(pid: number, comm?: RegExp): number[] {
  const children = new Map<number, number[]>();
  const names = new Map<number, string>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    names.set(Number(name), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length) {
    const next = queue.shift() as number;
    if (!comm || comm.test(names.get(next) ?? '')) out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}
