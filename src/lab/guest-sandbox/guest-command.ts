/**
 * How one guest command is started (in the process of spawner.ts): the guest's root, built from its image at its first
 * command, and the namespace, binds and chroot around the command — by bubblewrap in one process when it is
 * installed, else by the RUNNER script under unshare.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildGuestRoot, type GuestImage } from './images';

const STANDINS = path.join(__dirname, '..', '..', '..', 'src', 'lab', 'guest-sandbox', 'bin');
/**
 * Debian's alternatives (awk, …: /usr/bin/awk → /etc/alternatives/awk → mawk), the host's, read-only as its /usr: the
 * guest's /usr/bin links through them. Bound into each command rather than copied into each root: copying ≈ 400
 * symlinks was ≈ 80–250 ms of CPU per new guest on this machine's disk, 200 of them in a fleet (BENCHMARKS.md, "a
 * ninth look").
 */
const HOST_ALTERNATIVES = fs.existsSync('/etc/alternatives') ? '/etc/alternatives' : undefined;

/**
 * Inside the new mount and pid namespaces: the read-only /usr and Debian's alternatives, device nodes, its own
 * /proc, the export, recorded mounts; then chroot.
 */
const RUNNER = `set -euo pipefail
root="$1"; nfs_root="$2"; shift 2
mount --bind /usr "$root/usr"
mount -o remount,bind,ro "$root/usr"
if [ -d /etc/alternatives ]; then
  mount --bind /etc/alternatives "$root/etc/alternatives"
  mount -o remount,bind,ro "$root/etc/alternatives"
fi
for d in null zero urandom random; do mount --bind "/dev/$d" "$root/dev/$d"; done
mount -t proc proc "$root/proc"
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
  HOME=/root LANG=C.UTF-8 PHOENIX_SIM_NFS_SERVER="$PHOENIX_SIM_NFS_SERVER" PHOENIX_SIM_APT_FAIL="$PHOENIX_SIM_APT_FAIL" \\
  PHOENIX_SIM_CLOUD_INIT_DONE_AT="$PHOENIX_SIM_CLOUD_INIT_DONE_AT" "$@"
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
    ? ['--mount', '--propagation', 'private', '--pid', '--fork']
    : ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--pid', '--fork'];
}

/**
 * The same guest view in ONE process when bubblewrap is installed: bwrap makes the mount namespace, the binds (the
 * RUNNER's, in its order) and the new root itself, where the RUNNER spends ~15 processes (unshare, bash, a mount per
 * bind, chroot) per command — measured 20 ms of CPU per exec against ~5 ms, which in the bench's fleet (≈2,800 guest
 * commands on the same two cores as the engine) is CPU the real guests would spend on their own machines. What the
 * command sees is the same: the guest's root read-write, /usr and the stand-ins read-only, the four device nodes, its
 * own /proc (a pid namespace), the export, the recorded mounts, and `env -i` with the same variables (so a missing
 * command still exits 127).
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
    ...(HOST_ALTERNATIVES ? ['--ro-bind', HOST_ALTERNATIVES, HOST_ALTERNATIVES] : []),
    ...['null', 'zero', 'urandom', 'random'].flatMap((d) => ['--dev-bind', `/dev/${d}`, `/dev/${d}`]),
    '--unshare-pid',
    '--proc',
    '/proc',
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
    `PHOENIX_SIM_CLOUD_INIT_DONE_AT=${env.PHOENIX_SIM_CLOUD_INIT_DONE_AT}`,
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

/** The environment a guest command starts with (before the sandbox's own `env -i`). */
export interface GuestCommandEnv {
  PHOENIX_SIM_NFS_SERVER: string;
  PHOENIX_SIM_APT_FAIL: '0' | '1';
  /** Epoch ms when the guest's cloud-init ends (0: it has). */
  PHOENIX_SIM_CLOUD_INIT_DONE_AT: string;
}

/**
 * A guest's root exists once its image's marker does (buildGuestRoot writes it last). It is built beside and renamed
 * into place: a spawner (the guest's first command) and the lab's own process (a file read while that command waits
 * in a busy spawner's queue) can come to a new guest at once, and a build in place began by removing the root — the
 * other's command lost its /bin, /etc/fstab and /dev/null under it (a fleet with 28 such commands failing at 127).
 */
export function ensureGuestRoot(root: string, image: GuestImage): void {
  const marker = path.join(root, '.phoenix-sim-image');
  if (fs.existsSync(marker)) return;
  const aside = `${root}.building-${process.pid}-${Date.now()}`;
  buildGuestRoot(aside, image);
  try {
    fs.renameSync(aside, root);
  } catch (err) {
    fs.rmSync(aside, { recursive: true, force: true });
    if (fs.existsSync(marker)) return; // the other builder's root is in place
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    // A root without its marker: what a lab killed in the middle of an in-place build (before this) left. Built anew.
    fs.rmSync(root, { recursive: true, force: true });
    ensureGuestRoot(root, image);
  }
}

/** The argv (command first) and environment that run `argv` inside the guest rooted at `root`. */
export function guestCommand(
  root: string,
  nfsRoot: string,
  guestEnv: GuestCommandEnv,
  argv: string[],
): { argv: string[]; env: Record<string, string> } {
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', PHOENIX_SIM_STANDINS: STANDINS, ...guestEnv };
  return {
    env,
    argv: usableBwrap()
      ? ['bwrap', ...bwrapArgs(root, nfsRoot, env), ...argv]
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
          nfsRoot,
          ...argv,
        ],
  };
}
