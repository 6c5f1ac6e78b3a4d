import { backupVolume, passBackupLock } from './backup-job';
import type { SimGuest, SimState, SimTask, TaskEffect } from './types';

const hex8 = (n: number) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');

export interface NewTask {
  node: string;
  type: string;
  id: string;
  user: string;
  durationMs: number;
  effect: TaskEffect;
  /** Lines logged while the task runs; the final `TASK …` line is added when it ends. */
  log: string[];
  failWith?: string;
  /** The guest whose config flock the worker holds until it ends. */
  holds?: SimGuest;
}

export function createTask(state: SimState, t: NewTask): SimTask {
  const now = Date.now();
  const pid = state.nextPid++;
  const pstart = (Math.floor(now / 10) & 0x7fffffff) >>> 0;
  const starttime = Math.floor(now / 1000);
  const upid = `UPID:${t.node}:${hex8(pid)}:${hex8(pstart)}:${hex8(starttime)}:${t.type}:${t.id}:${t.user}:`;
  const task: SimTask = {
    upid,
    node: t.node,
    type: t.type,
    id: t.id,
    user: t.user,
    pid,
    pstart,
    starttime,
    startedAtMs: now,
    durationMs: t.durationMs,
    status: 'running',
    log: [...t.log],
    effect: t.effect,
    failWith: t.failWith,
  };
  if (t.holds) t.holds.busyTask = upid;
  state.tasks.push(task);
  return task;
}

function parseSizeGiB(size: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size);
  if (!m) return NaN;
  const factor = { '': 1 / (1024 * 1024 * 1024), K: 1 / (1024 * 1024), M: 1 / 1024, G: 1, T: 1024 }[
    m[2] as '' | 'K' | 'M' | 'G' | 'T'
  ];
  return Number(m[1]) * factor;
}

export function diskSizeGiB(diskValue: string): number {
  const m = /(?:^|,)size=([^,]+)/.exec(diskValue);
  return m ? parseSizeGiB(m[1]) : 0;
}

function fmtGiB(g: number): string {
  return Number.isInteger(g) ? `${g}G` : `${Math.round(g * 1024)}M`;
}

/** A plausible archive size: ~0.7 GB for the root disk plus 1% of every volume the backup includes. */
function archiveSize(guest: SimGuest): number {
  let bytes = 734003200 + guest.vmid;
  for (const [key, value] of Object.entries(guest.config)) {
    if (!/^mp[0-9]+$/.test(key) || !/(?:^|,)backup=1(?:,|$)/.test(String(value))) continue;
    bytes += Math.round(diskSizeGiB(String(value)) * 1024 ** 3 * 0.01);
  }
  return bytes;
}

function applyPending(guest: SimGuest) {
  Object.assign(guest.config, guest.pending);
  for (const key of guest.pendingDelete) delete guest.config[key];
  guest.pending = {};
  guest.pendingDelete = [];
}

/** How a started VM comes up: its guest agent answers after `agentDelayMs`, cloud-init ends `cloudInitMs` later. */
export interface BootTimes {
  agentDelayMs: number;
  cloudInitMs: number;
}

/** What the task's end does to the world; returns the exit status and extra log lines. */
function finish(state: SimState, task: SimTask, boot: BootTimes): { exitstatus: string; log: string[] } {
  const e = task.effect;
  if (e.kind === 'vzdump') return finishBackupJob(state, task);
  if (task.failWith) return { exitstatus: task.failWith, log: [`TASK ERROR: ${task.failWith}`] };
  const g = 'vmid' in e ? state.guests[e.vmid] : undefined;
  switch (e.kind) {
    case 'clone': {
      const clone = state.guests[e.newid];
      if (clone) delete clone.lock;
      return { exitstatus: 'OK', log: ['TASK OK'] };
    }
    case 'start':
      if (g) {
        applyPending(g);
        g.status = 'running';
        g.startedAt = Date.now();
        g.agentReadyAt = Date.now() + boot.agentDelayMs;
        g.cloudInitDoneAt = g.agentReadyAt + boot.cloudInitMs;
      }
      return { exitstatus: 'OK', log: ['TASK OK'] };
    case 'stop':
      if (g) {
        g.status = 'stopped';
        delete g.startedAt;
      }
      return { exitstatus: 'OK', log: ['TASK OK'] };
    case 'shutdown':
      if (g && g.ignoresShutdown && !e.forceStop) {
        return {
          exitstatus: `command 'lxc-stop -n ${e.vmid} --nokill --timeout 60' failed: exit code 1`,
          log: [`TASK ERROR: command 'lxc-stop -n ${e.vmid} --nokill --timeout 60' failed: exit code 1`],
        };
      }
      if (g) {
        g.status = 'stopped';
        delete g.startedAt;
      }
      return { exitstatus: 'OK', log: ['TASK OK'] };
    case 'resize': {
      if (!g) return { exitstatus: `VM ${e.vmid} does not exist`, log: [] };
      const current = String(g.config[e.disk] ?? '');
      const before = diskSizeGiB(current);
      const target = e.size.startsWith('+') ? before + parseSizeGiB(e.size.slice(1)) : parseSizeGiB(e.size);
      if (target < before)
        return {
          exitstatus: 'shrinking disks is not supported',
          log: ['TASK ERROR: shrinking disks is not supported'],
        };
      g.config[e.disk] = current.replace(/size=[^,]+/, `size=${fmtGiB(target)}`);
      return { exitstatus: 'OK', log: [`Image resized.`, 'TASK OK'] };
    }
    case 'config':
      return { exitstatus: 'OK', log: ['TASK OK'] };
    case 'destroy': {
      if (g) {
        delete state.guests[e.vmid];
        const warned = g.status === 'running';
        if (warned)
          return {
            exitstatus: 'WARNINGS: 1',
            log: [`WARN: CT ${e.vmid} was running - stopped it forcefully`, 'TASK WARNINGS: 1'],
          };
      }
      return { exitstatus: 'OK', log: [`purging CT ${e.vmid} from related configurations..`, 'TASK OK'] };
    }
    default:
      return { exitstatus: 'OK', log: ['TASK OK'] };
  }
}

/**
 * A backup job's end: every guest it backed up is unlocked and its archive listed — also when another guest of the job
 * failed (`job errors`), as on a node.
 */
function finishBackupJob(state: SimState, task: SimTask): { exitstatus: string; log: string[] } {
  const e = task.effect as Extract<TaskEffect, { kind: 'vzdump' }>;
  const log: string[] = [];
  for (const vmid of e.vmids) {
    const guest = state.guests[vmid];
    if (!guest) continue;
    delete guest.lock;
    const vol = backupVolume(task, guest, e.files[vmid], archiveSize(guest));
    // A storage that lost the archive (or never listed it): the fault an unverifiable backup stands for.
    if (!state.unlistedBackupVmids?.includes(vmid)) (state.backups[e.storage] ??= []).push(vol);
    log.push(`INFO: Finished Backup of VM ${vmid} (00:00:0${Math.min(9, Math.ceil(task.durationMs / 1000))})`);
  }
  if (task.failWith)
    return {
      exitstatus: task.failWith,
      log: [...log, 'INFO: Backup job finished with errors', `TASK ERROR: ${task.failWith}`],
    };
  log.push('INFO: Backup job finished successfully', 'TASK OK');
  return { exitstatus: 'OK', log };
}

/**
 * How long a finished task stays in the node's active list (`source=active`, with its `endtime` and `status`) before
 * it is archived (`source=archive`). PVE archives a task when the daemon that forked it reaps it — usually at once, but
 * a client reading the active list must expect finished entries there, and one reading the archive must expect a task
 * that just ended to be missing for a moment.
 */
export const ARCHIVE_AFTER_MS = 1_000;

/** Whether a stopped task has moved from the active list to the archive. */
export function archived(task: SimTask, now = Date.now()): boolean {
  return task.status === 'stopped' && (task.endedAtMs === undefined || now >= task.endedAtMs + ARCHIVE_AFTER_MS);
}

/**
 * End every task whose time has come (called before each request, so state is consistent for what it reads). A vzdump
 * job that ends hands the node's backup lock to the next one waiting, which may be due itself: so again until none is.
 */
export function tick(state: SimState, boot: BootTimes, now = Date.now()): void {
  for (let handedOn = true; handedOn;) {
    handedOn = false;
    for (const task of state.tasks) {
      if (task.status !== 'running' || (task.effect.kind === 'vzdump' && task.effect.waitsForLock)) continue;
      const dueAtMs = (task.runsFromMs ?? task.startedAtMs) + task.durationMs;
      if (now < dueAtMs) continue;
      const { exitstatus, log } = finish(state, task, boot);
      task.status = 'stopped';
      task.exitstatus = exitstatus;
      task.endtime = Math.floor(now / 1000);
      task.endedAtMs = now;
      task.log.push(...log);
      for (const g of Object.values(state.guests)) if (g.busyTask === task.upid) delete g.busyTask;
      if (task.effect.kind === 'vzdump' && task.effect.lockScope !== undefined)
        handedOn = passBackupLock(state, task.effect.lockScope, dueAtMs) || handedOn;
    }
  }
}
