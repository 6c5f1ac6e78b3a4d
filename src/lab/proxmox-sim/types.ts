/** The simulator's state: plain JSON, so it can be saved to and loaded from a file. */
import type { GuestImage } from '../guest-sandbox/images';

export type GuestType = 'qemu' | 'lxc';
export type ConfigValue = string | number;

/** A canned answer for guest-agent exec: the first rule whose argv is a prefix of the command wins. */
export interface ExecRule {
  argv: string[];
  exitcode: number;
  stdout?: string;
  stderr?: string;
  /** How long the command "runs" before exec-status reports it exited. */
  durationMs?: number;
}

export interface SimGuestSeed {
  vmid: number;
  type: GuestType;
  name: string;
  node?: string;
  status?: 'running' | 'stopped';
  template?: boolean;
  lock?: string;
  tags?: string[];
  protection?: boolean;
  description?: string;
  /** For LXC: goes into net0; for QEMU: into ipconfig0 (`ip=IP/24`). */
  ip?: string;
  /** Extra/overriding config keys. */
  config?: Record<string, ConfigValue>;
  /** QEMU: whether the guest agent is configured (default true for VMs). */
  agent?: boolean;
  /** Per-guest agent exec answers (tried before the world's). */
  exec?: ExecRule[];
  /** The guest ignores a clean shutdown (only a stop ends it). */
  ignoresShutdown?: boolean;
  /** QEMU: what its disk holds; with a guest sandbox, agent exec runs real commands in a root built from it. */
  image?: GuestImage;
}

export interface WorldSeed {
  node: string;
  /** Storage for disks (clone target), e.g. `local-lvm`. */
  storage: string;
  /** Storage for backups; default `local`. */
  backupStorage?: string;
  /** More storage pools on the node (CT disks, data volumes). */
  extraStorages?: string[];
  guests: SimGuestSeed[];
  /** Backup jobs of this world's guests take a lock of their own (src/lab/proxmox-sim/backup-job.ts); default: the node's. */
  backupLockDomain?: string;
}

export interface SimGuest {
  vmid: number;
  type: GuestType;
  node: string;
  status: 'running' | 'stopped';
  lock?: string;
  config: Record<string, ConfigValue>;
  /** QEMU changes waiting for a restart. */
  pending: Record<string, ConfigValue>;
  pendingDelete: string[];
  startedAt?: number;
  /** When the guest agent starts answering (epoch ms) once running. */
  agentReadyAt?: number;
  /**
   * When cloud-init's boot run ends (epoch ms); until then it holds apt's lock (Proxmox's user-data upgrades the
   * packages: `ciupgrade`, on by default) and `cloud-init status` says running. Unset: it ended long ago.
   */
  cloudInitDoneAt?: number;
  exec: ExecRule[];
  execRuns: Record<string, { argv: string[]; startedAt: number; rule: ExecRule }>;
  nextExecPid: number;
  ignoresShutdown: boolean;
  /** UPID of a running worker holding the guest's config flock (other changes get "can't lock file"). */
  busyTask?: string;
  /** What its disk holds (clones inherit the template's); sandboxed exec needs it. */
  image?: GuestImage;
  /** Whose vzdump lock its backups take, besides the node's (WorldSeed.backupLockDomain). */
  backupLockDomain?: string;
}

export type TaskEffect =
  | { kind: 'none' }
  | { kind: 'clone'; newid: number }
  | { kind: 'start'; vmid: number }
  | { kind: 'stop'; vmid: number }
  | { kind: 'shutdown'; vmid: number; forceStop: boolean }
  | { kind: 'resize'; vmid: number; disk: string; size: string }
  | { kind: 'config'; vmid: number; params: Record<string, string | string[]> }
  | { kind: 'destroy'; vmid: number }
  | {
      kind: 'vzdump';
      /** The guests backed up: those the job found unlocked when it got the node's backup lock. */
      vmids: number[];
      /** The guests asked for (on this node); absent in states saved before: `vmids`. */
      requested?: number[];
      /** The backup lock the job takes (src/lab/proxmox-sim/backup-job.ts); absent in states saved before: none. */
      lockScope?: string;
      /** Still waiting for that lock: no guest checked or locked yet. */
      waitsForLock?: boolean;
      storage: string;
      compress: string;
      mode: string;
      notesTemplate?: string;
      protected: boolean;
      files: Record<string, string>;
    };

export interface SimTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  pid: number;
  pstart: number;
  /** Unix seconds. */
  starttime: number;
  startedAtMs: number;
  /** When its work began, if later than its start (a vzdump job that waited for the node's backup lock). */
  runsFromMs?: number;
  durationMs: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
  /** When it ended (ms); the node archives it ARCHIVE_AFTER_MS later (absent in states saved before: archived). */
  endedAtMs?: number;
  log: string[];
  /** Applied when the task ends; a failure decided at dispatch is in `failWith`. */
  effect: TaskEffect;
  failWith?: string;
}

export interface BackupVolume {
  volid: string;
  ctime: number;
  size: number;
  format: string;
  vmid: number;
  notes?: string;
  protected?: number;
  subtype: GuestType;
  content: 'backup';
}

export interface SimNode {
  node: string;
  storages: string[];
}

export interface SimState {
  nodes: SimNode[];
  guests: Record<string, SimGuest>;
  tasks: SimTask[];
  /** storage id → backup volumes. */
  backups: Record<string, BackupVolume[]>;
  /** Fault: vzdump archives of these vmids are written but never appear in the storage listing. */
  unlistedBackupVmids?: number[];
  /** World-wide agent exec answers (after each guest's own). */
  exec: ExecRule[];
  nextPid: number;
}
