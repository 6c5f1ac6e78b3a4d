/**
 * The lab's guests, as real as a loopback lab can make them: every guest-agent exec in a sandboxed VM runs the very
 * bytes it is given under a real bash, inside the VM's own root directory (chroot) in a private mount namespace, with
 * recording stand-ins for apt-get, dpkg, systemctl, docker, mount, mountpoint, usermod, cloud-init and curl first on
 * PATH (src/lab/guest-sandbox/bin). The host's /usr is bind-mounted read-only for bash and coreutils; the guest's
 * /etc, /var, /root are its own — so nothing outside the lab is touched, and what the scripts leave behind (packages,
 * services, containers, fstab, mounts) is the guest's state for the next command.
 *
 * The NFS export of the lab's "Proxmox host" is visible to the guest under /phoenix-sim/nfs; the mount stand-in
 * bind-mounts a directory of it where fstab says, and the mount is re-established at every exec (each exec is its
 * own namespace, like each command sees the guest's mount table).
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildGuestRoot, type GuestImage } from './images';
import type { SpawnMessage, SpawnRequest } from './spawner';

export type { GuestImage } from './images';

export interface GuestSandboxOptions {
  /** One root per VM below this directory. */
  dir: string;
  /** The NFS server address guests may mount from (the Proxmox host's, mapped), and the host directory it exports. */
  nfsServer: string;
  nfsRoot: string;
  /** Every exec, with the sha256 of the script it ran (argv `bash -c SCRIPT …`). */
  record?: (event: Record<string, unknown>) => void;
  /** Called after a command in a guest ended (the lab reconciles listeners of containers that publish ports). */
  onChange?: (vmid: number) => void;
}

export interface SandboxRun {
  stdout: Buffer[];
  stderr: Buffer[];
  /** Set when the command has ended. */
  exitcode?: number;
  /** The exit code, once the command has ended. */
  done: Promise<number>;
}

export interface GuestContainer {
  name: string;
  image: string;
  ports: string[];
  running: boolean;
}

const STANDINS = path.join(__dirname, '..', '..', '..', 'src', 'lab', 'guest-sandbox', 'bin');
const MAX_OUTPUT = 1024 * 1024;

/** Inside the new mount namespace: the read-only /usr, device nodes, the export, recorded mounts; then chroot. */
const RUNNER = `set -euo pipefail
root="$1"; nfs_root="$2"; shift 2
mount --bind /usr "$root/usr"
mount -o remount,bind,ro "$root/usr"
for d in null zero urandom random; do mount --bind "/dev/$d" "$root/dev/$d"; done
mount --bind "${'$'}{PHOENIX_SIM_STANDINS:?}" "$root/phoenix-sim/bin"
mount -o remount,bind,ro "$root/phoenix-sim/bin"
mkdir -p "$root/phoenix-sim/nfs$nfs_root"
mount --bind "$nfs_root" "$root/phoenix-sim/nfs$nfs_root"
if [ -f "$root/var/lib/phoenix-sim/mounts" ]; then
  while read -r src mp; do
    p="${'$'}{src#*:}"
    if [ -d "$root/phoenix-sim/nfs$p" ] && [ -d "$root$mp" ]; then mount --bind "$root/phoenix-sim/nfs$p" "$root$mp"; fi
  done < "$root/var/lib/phoenix-sim/mounts"
fi
exec chroot "$root" /usr/bin/env -i PATH=/phoenix-sim/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin \\
  HOME=/root LANG=C.UTF-8 PHOENIX_SIM_NFS_SERVER="$PHOENIX_SIM_NFS_SERVER" PHOENIX_SIM_APT_FAIL="$PHOENIX_SIM_APT_FAIL" "$@"
`;

/** Can this machine make mount namespaces and chroot (root, or an unprivileged user namespace)? */
export function sandboxUnavailableReason(): string | undefined {
  const res = spawnSync('unshare', [...unshareArgs(), '--', 'true'], { encoding: 'utf8' });
  if (res.error) return `unshare is not available (${res.error.message}); install util-linux`;
  if (res.status !== 0) return `unshare cannot make a mount namespace here: ${res.stderr.trim()}`;
  return undefined;
}

function runsAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function unshareArgs(): string[] {
  return runsAsRoot()
    ? ['--mount', '--propagation', 'private']
    : ['--user', '--map-root-user', '--mount', '--propagation', 'private'];
}

/**
 * The same guest view in ONE process when bubblewrap is installed: bwrap makes the mount namespace, the binds (the
 * RUNNER's, in its order) and the new root itself, where the RUNNER spends ~15 processes (unshare, bash, a mount per
 * bind, chroot) per command — measured 20 ms of CPU per exec against ~5 ms, which in the bench's fleet (≈2,800 guest
 * commands on the same two cores as the engine) is CPU the real guests would spend on their own machines. What the
 * command sees is the same: the guest's root read-write, /usr and the stand-ins read-only, the four device nodes, the
 * export, the recorded mounts, and `env -i` with the same variables (so a missing command still exits 127).
 */
let bwrapUsable: boolean | undefined;

/** Is bwrap installed AND able to make a namespace here (else the RUNNER under unshare is used)? Asked once. */
function usableBwrap(): boolean {
  bwrapUsable ??=
    spawnSync('bwrap', [...(runsAsRoot() ? [] : ['--unshare-user']), '--ro-bind', '/', '/', '--', '/bin/true'])
      .status === 0;
  return bwrapUsable;
}

function bwrapArgs(root: string, nfsRoot: string, env: Record<string, string>): string[] {
  const args = [
    ...(runsAsRoot() ? [] : ['--unshare-user', '--uid', '0', '--gid', '0']),
    '--die-with-parent',
    '--bind',
    root,
    '/',
    '--ro-bind',
    '/usr',
    '/usr',
    ...['null', 'zero', 'urandom', 'random'].flatMap((d) => ['--dev-bind', `/dev/${d}`, `/dev/${d}`]),
    '--ro-bind',
    STANDINS,
    '/phoenix-sim/bin',
    '--bind',
    nfsRoot,
    `/phoenix-sim/nfs${nfsRoot}`,
  ];
  // The mounts the guest's `mount` stand-in recorded (src is `server:/path` of the export, as in fstab).
  let recorded = '';
  try {
    recorded = fs.readFileSync(path.join(root, 'var/lib/phoenix-sim/mounts'), 'utf8');
  } catch {
    // none yet
  }
  for (const line of recorded.split('\n')) {
    const [src, mp] = line.trim().split(/\s+/);
    if (!src || !mp) continue;
    const p = src.slice(src.indexOf(':') + 1);
    // Inside the guest, /phoenix-sim/nfs<nfsRoot> IS nfsRoot; anything else under /phoenix-sim/nfs is the root's own.
    const from = p === nfsRoot || p.startsWith(`${nfsRoot}/`) ? p : path.join(root, 'phoenix-sim/nfs', p);
    if (isDir(from) && isDir(path.join(root, mp))) args.push('--bind', from, mp);
  }
  const guestEnv = [
    'PATH=/phoenix-sim/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin',
    'HOME=/root',
    'LANG=C.UTF-8',
    `PHOENIX_SIM_NFS_SERVER=${env.PHOENIX_SIM_NFS_SERVER}`,
    `PHOENIX_SIM_APT_FAIL=${env.PHOENIX_SIM_APT_FAIL}`,
  ];
  return [...args, '--', '/usr/bin/env', '-i', ...guestEnv];
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export class GuestSandbox {
  private readonly spawner = new GuestSpawner();
  private aptFailRate = 0;
  private draw: () => number = Math.random;

  constructor(readonly opts: GuestSandboxOptions) {
    fs.mkdirSync(opts.dir, { recursive: true });
  }

  /** `guest-apt-fail`: the share of guest commands in which apt-get fails (1 = every one, 0 = never). */
  setFaults(f: { aptFailRate?: number; random?: () => number }): void {
    this.aptFailRate = f.aptFailRate ?? 0;
    if (f.random) this.draw = f.random;
  }

  rootOf(vmid: number): string {
    return path.join(this.opts.dir, String(vmid));
  }

  /** The guest's root, built from its image the first time it is needed. */
  ensureRoot(vmid: number, image: GuestImage): string {
    const root = this.rootOf(vmid);
    if (!fs.existsSync(path.join(root, '.phoenix-sim-image'))) buildGuestRoot(root, image);
    return root;
  }

  exec(vmid: number, image: GuestImage, argv: string[], inputData?: string): SandboxRun {
    const root = this.ensureRoot(vmid, image);
    const aptFail = this.aptFailRate > 0 && this.draw() < this.aptFailRate;
    const env = {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      PHOENIX_SIM_STANDINS: STANDINS,
      PHOENIX_SIM_NFS_SERVER: this.opts.nfsServer,
      PHOENIX_SIM_APT_FAIL: aptFail ? '1' : '0',
    };
    const [command, ...args] = usableBwrap()
      ? ['bwrap', ...bwrapArgs(root, this.opts.nfsRoot, env), ...argv]
      : [
          'unshare',
          ...unshareArgs(),
          '--',
          'bash',
          '--norc',
          '-c',
          RUNNER,
          'phoenix-sim-guest',
          root,
          this.opts.nfsRoot,
          ...argv,
        ];
    let ended: (code: number) => void = () => undefined;
    const run: SandboxRun = { stdout: [], stderr: [], done: new Promise((resolve) => (ended = resolve)) };
    let size = 0;
    const script = argv[0] === 'bash' && argv[1] === '-c' ? argv[2] : undefined;
    this.spawner.run({ command, args, env, input: inputData ?? '' }, (m) => {
      if ('stream' in m) {
        size += m.data.length;
        if (size <= MAX_OUTPUT) (m.stream === 'out' ? run.stdout : run.stderr).push(Buffer.from(m.data));
        return;
      }
      run.exitcode = m.exitcode;
      this.opts.record?.({
        kind: 'guest-exec',
        vmid,
        command: script !== undefined ? ['bash', '-c', '<script>', ...argv.slice(3)].join(' ') : argv.join(' '),
        ...(script !== undefined ? { sha256: createHash('sha256').update(script).digest('hex') } : {}),
        exitcode: run.exitcode,
        // How long the command itself ran (spawn to exit): the bench counts it as the guest's own work.
        ms: m.ms,
        ...(aptFail ? { fault: 'guest-apt-fail' } : {}),
      });
      this.opts.onChange?.(vmid);
      ended(m.exitcode);
    });
    return run;
  }

  /** Stop the process that starts the commands (the lab's teardown; commands still running end with it). */
  close(): void {
    this.spawner.close();
  }

  /** agent/file-read: a file of the guest's own root (absolute path inside the guest). */
  readFile(vmid: number, image: GuestImage, file: string): string | undefined {
    const root = this.ensureRoot(vmid, image);
    const resolved = path.resolve(root, `.${path.posix.normalize(file)}`);
    if (!resolved.startsWith(`${root}/`)) return undefined;
    try {
      return fs.readFileSync(resolved, 'utf8');
    } catch {
      return undefined;
    }
  }

  /** The guest's containers as its docker stand-in recorded them. */
  containers(vmid: number): GuestContainer[] {
    const dir = path.join(this.rootOf(vmid), 'var', 'lib', 'phoenix-sim', 'containers');
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).map((name) => {
      const fields = Object.fromEntries(
        fs
          .readFileSync(path.join(dir, name), 'utf8')
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      return {
        name,
        image: fields.image ?? '',
        ports: String(fields.ports ?? '')
          .split(' ')
          .filter(Boolean),
        running: fields.running === 'true',
      };
    });
  }

  /** A published port of a running container, e.g. 9001 → true when `-p 9001:9001` runs. */
  publishes(vmid: number, port: number): boolean {
    return this.containers(vmid).some((c) => c.running && c.ports.some((p) => p.split(':')[0] === String(port)));
  }
}

/**
 * Starts the guests' commands in a process of its own (spawner.ts says why), forked when the first command comes and
 * again if it died. It keeps the lab's process alive only while a command runs.
 */
class GuestSpawner {
  private helper?: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { helper: ChildProcess; on: (m: SpawnMessage) => void }>();

  run(req: Omit<SpawnRequest, 'id'>, on: (m: SpawnMessage) => void): void {
    const id = this.nextId++;
    const helper = this.process();
    this.waiting.set(id, { helper, on });
    helper.channel?.ref();
    helper.send({ ...req, id } satisfies SpawnRequest);
  }

  close(): void {
    this.helper?.disconnect();
    this.helper = undefined;
  }

  private process(): ChildProcess {
    if (this.helper?.connected) return this.helper;
    const helper = fork(spawnerModule(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    helper.on('message', (m: SpawnMessage) => {
      const w = this.waiting.get(m.id);
      if ('exitcode' in m) this.settled(m.id);
      w?.on(m);
    });
    // Commands it had not finished end as a guest's killed command would (128 + SIGKILL).
    helper.once('exit', () => {
      if (this.helper === helper) this.helper = undefined;
      for (const [id, w] of this.waiting) {
        if (w.helper !== helper) continue;
        this.settled(id);
        w.on({ id, exitcode: 137, ms: 0 });
      }
    });
    helper.unref();
    helper.channel?.unref();
    this.helper = helper;
    return helper;
  }

  private settled(id: number): void {
    const helper = this.waiting.get(id)?.helper;
    this.waiting.delete(id);
    if (helper && ![...this.waiting.values()].some((w) => w.helper === helper)) helper.channel?.unref();
  }
}

/** spawner.js beside this file when built; from lib/ when this file runs as TypeScript (the tests). */
function spawnerModule(): string {
  const built = path.join(__dirname, 'spawner.js');
  return fs.existsSync(built)
    ? built
    : path.join(__dirname, '..', '..', '..', 'lib', 'lab', 'guest-sandbox', 'spawner.js');
}
