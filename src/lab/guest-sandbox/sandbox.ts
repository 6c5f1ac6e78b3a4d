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
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureGuestRoot } from './guest-command';
import type { GuestImage } from './images';
import type { SpawnMessage, SpawnRequest } from './spawner';

export type { GuestImage } from './images';
export { sandboxUnavailableReason } from './guest-command';

export interface GuestSandboxOptions {
  /** One root per VM below this directory. */
  dir: string;
  /** The NFS server address guests may mount from (the Proxmox host's, mapped), and the host directory it exports. */
  nfsServer: string;
  nfsRoot: string;
  /**
   * Every exec, with the sha256 of the script it ran (argv `bash -c SCRIPT …`) and of the scripts among its
   * arguments (`scriptArgsSha256`: the feature script converge.sh runs); scripts show as `<script>` in `command`.
   */
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

const MAX_OUTPUT = 1024 * 1024;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

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

  /**
   * The guest's root, built from its image the first time it is needed: by the helper at the guest's first command
   * (off this process's event loop), here only for a file read that comes before any command.
   */
  ensureRoot(vmid: number, image: GuestImage): string {
    const root = this.rootOf(vmid);
    ensureGuestRoot(root, image);
    return root;
  }

  /** `boot.cloudInitDoneAt`: until then the guest's cloud-init still runs (its stand-in and apt-get's know it). */
  exec(
    vmid: number,
    image: GuestImage,
    argv: string[],
    inputData?: string,
    boot: { cloudInitDoneAt?: number } = {},
  ): SandboxRun {
    const aptFail = this.aptFailRate > 0 && this.draw() < this.aptFailRate;
    let ended: (code: number) => void = () => undefined;
    const run: SandboxRun = { stdout: [], stderr: [], done: new Promise((resolve) => (ended = resolve)) };
    let size = 0;
    const script = argv[0] === 'bash' && argv[1] === '-c' ? argv[2] : undefined;
    // A script handed to the script as an argument (converge.sh runs a feature's script given as text).
    const scriptArgs = argv.slice(3).filter((a) => a.includes('\n'));
    const request = {
      root: this.rootOf(vmid),
      image,
      nfsRoot: this.opts.nfsRoot,
      env: {
        PHOENIX_SIM_NFS_SERVER: this.opts.nfsServer,
        PHOENIX_SIM_APT_FAIL: aptFail ? '1' : '0',
        PHOENIX_SIM_CLOUD_INIT_DONE_AT: String(boot.cloudInitDoneAt ?? 0),
      } as const,
      argv,
      input: inputData ?? '',
    };
    this.spawner.run(vmid, request, (m) => {
      if ('stream' in m) {
        size += m.data.length;
        if (size <= MAX_OUTPUT) (m.stream === 'out' ? run.stdout : run.stderr).push(Buffer.from(m.data));
        return;
      }
      run.exitcode = m.exitcode;
      this.opts.record?.({
        kind: 'guest-exec',
        vmid,
        command: argv
          .map((a, i) => ((i === 2 && script !== undefined) || (i > 2 && a.includes('\n')) ? '<script>' : a))
          .join(' '),
        ...(script !== undefined ? { sha256: sha256(script) } : {}),
        ...(scriptArgs.length > 0 ? { scriptArgsSha256: scriptArgs.map(sha256) } : {}),
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

  /** Stop the processes that start the commands (the lab's teardown; commands still running end with them). */
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
 * Starts the guests' commands in processes of their own (spawner.ts says why), each forked when its first command
 * comes and again if it died. A guest's commands always go to the same one (by vmid), which also builds its root; a
 * few of them, because one is busy for the whole fork-and-exec of each command it starts — in a fleet's provisioning,
 * with the two cores saturated, close to half of the time. They keep the lab's process alive only while a command runs.
 */
class GuestSpawner {
  static readonly PROCESSES = 3;
  private readonly helpers: (ChildProcess | undefined)[] = [];
  private nextId = 1;
  private readonly waiting = new Map<number, { helper: ChildProcess; on: (m: SpawnMessage) => void }>();

  run(vmid: number, req: Omit<SpawnRequest, 'id'>, on: (m: SpawnMessage) => void): void {
    const id = this.nextId++;
    const helper = this.process(vmid % GuestSpawner.PROCESSES);
    this.waiting.set(id, { helper, on });
    helper.channel?.ref();
    helper.send({ ...req, id } satisfies SpawnRequest);
  }

  close(): void {
    for (const helper of this.helpers) if (helper?.connected) helper.disconnect();
    this.helpers.length = 0;
  }

  private process(slot: number): ChildProcess {
    const running = this.helpers[slot];
    if (running?.connected) return running;
    const helper = fork(spawnerModule(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    helper.on('message', (m: SpawnMessage) => {
      const w = this.waiting.get(m.id);
      if ('exitcode' in m) this.settled(m.id);
      w?.on(m);
    });
    // Commands it had not finished end as a guest's killed command would (128 + SIGKILL) — also when it could not be
    // forked or a message could not reach it, which node reports as an error event, not always followed by an exit.
    const gone = () => {
      if (this.helpers[slot] === helper) this.helpers[slot] = undefined;
      for (const [id, w] of this.waiting) {
        if (w.helper !== helper) continue;
        this.settled(id);
        w.on({ id, exitcode: 137, ms: 0 });
      }
    };
    helper.once('exit', gone);
    helper.on('error', () => {
      if (!helper.connected) gone();
    });
    helper.unref();
    helper.channel?.unref();
    this.helpers[slot] = helper;
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
