/**
 * vzdump jobs as a Proxmox node runs them: one at a time. PVE's vzdump worker takes the node-wide flock
 * `/var/run/vzdump.lock` before it backs up anything ("only one process allowed", PVE::API2::VZDump); a job started
 * while another runs is a running task that logs `INFO: trying to get global lock - waiting...` and touches no guest
 * until it gets the lock. Only then does it check and lock each guest, read its config and name its archive — so a
 * backup of two CTs asked for at once takes twice as long as one, and a node's nightly backup job holds up ours.
 */
import type { BackupVolume, SimGuest, SimState, SimTask } from './types';

type VzdumpEffect = Extract<SimTask['effect'], { kind: 'vzdump' }>;

function pad(n: number) {
  return String(n).padStart(2, '0');
}

export function vzdumpStamp(d: Date): string {
  return `${d.getUTCFullYear()}_${pad(d.getUTCMonth() + 1)}_${pad(d.getUTCDate())}-${pad(d.getUTCHours())}_${pad(d.getUTCMinutes())}_${pad(d.getUTCSeconds())}`;
}

export function dumpDir(storage: string): string {
  return storage === 'local' ? '/var/lib/vz/dump' : `/mnt/pve/${storage}/dump`;
}

export function archiveName(guest: SimGuest, compress: string, at: Date): string {
  const ext = { zstd: '.zst', gzip: '.gz', '1': '.lzo', lzo: '.lzo', '0': '' }[compress] ?? '.zst';
  const base =
    guest.type === 'lxc'
      ? `vzdump-lxc-${guest.vmid}-${vzdumpStamp(at)}.tar`
      : `vzdump-qemu-${guest.vmid}-${vzdumpStamp(at)}.vma`;
  return `${base}${ext}`;
}

/**
 * Whose lock a job takes: its node's. A world seeded with a `backupLockDomain` (the bench's fleet: each tenant stands
 * for a homelab of its own, all simulated on one node) has its own.
 */
function backupLockScope(node: string, guest: SimGuest | undefined): string {
  return guest?.backupLockDomain ? `${node}/${guest.backupLockDomain}` : node;
}

function isRunningBackupJob(t: SimTask): t is SimTask & { effect: VzdumpEffect } {
  return t.effect.kind === 'vzdump' && t.status === 'running';
}

/**
 * A job just created (its effect naming the guests `requested`): it takes the node's backup lock if no other job of the
 * scope runs or waits — and begins at once — or logs that it waits for it.
 */
export function openBackupJob(state: SimState, task: SimTask): void {
  const e = task.effect as VzdumpEffect;
  e.lockScope = backupLockScope(task.node, state.guests[(e.requested ?? e.vmids)[0]]);
  e.waitsForLock = state.tasks.some((t) => t !== task && isRunningBackupJob(t) && t.effect.lockScope === e.lockScope);
  if (e.waitsForLock) task.log.push('INFO: trying to get global lock - waiting...');
  else beginBackupJob(state, task, new Date(task.startedAtMs));
}

/**
 * What the job does once it has the lock (at `at`): each guest is checked, locked and its archive named; a guest
 * locked or gone by then fails the job (`job errors`), as on a node.
 */
export function beginBackupJob(state: SimState, task: SimTask, at: Date): void {
  const e = task.effect as VzdumpEffect;
  const stamp = at.toISOString().replace('T', ' ').slice(0, 19);
  const ok: number[] = [];
  let failed = false;
  for (const vmid of e.requested ?? e.vmids) {
    const g = state.guests[vmid];
    if (!g) {
      task.log.push(`ERROR: Backup of VM ${vmid} failed - unable to find VM '${vmid}'`);
      failed = true;
      continue;
    }
    task.log.push(
      `INFO: Starting Backup of VM ${g.vmid} (${g.type})`,
      `INFO: Backup started at ${stamp}`,
      `INFO: status = ${g.status}`,
    );
    if (g.lock || g.busyTask) {
      task.log.push(
        `ERROR: Backup of VM ${g.vmid} failed - ${g.type === 'lxc' ? 'CT' : 'VM'} is locked (${g.lock ?? 'backup'})`,
      );
      failed = true;
      continue;
    }
    const file = archiveName(g, e.compress, at);
    e.files[g.vmid] = file;
    g.lock = 'backup';
    ok.push(g.vmid);
    task.log.push(
      g.type === 'lxc' ? `INFO: CT Name: ${g.config.hostname}` : `INFO: VM Name: ${g.config.name}`,
      ...(g.type === 'lxc' ? mountPointLines(g.config) : []),
      `INFO: backup mode: ${e.mode}`,
      `INFO: ionice priority: 7`,
      `INFO: creating vzdump archive '${dumpDir(e.storage)}/${file}'`,
    );
  }
  e.vmids = ok;
  if (failed) task.failWith = 'job errors';
}

/**
 * A job of `scope` ended at `freedAtMs`: the job that waited longest gets the lock then. Returns whether one did (it
 * may itself be due already, so the caller ends tasks again).
 */
export function passBackupLock(state: SimState, scope: string, freedAtMs: number): boolean {
  const next = state.tasks
    .filter((t) => isRunningBackupJob(t) && t.effect.lockScope === scope && t.effect.waitsForLock)
    .sort((a, b) => a.startedAtMs - b.startedAtMs)[0];
  if (!next) return false;
  const e = next.effect as VzdumpEffect;
  e.waitsForLock = false;
  next.runsFromMs = Math.max(freedAtMs, next.startedAtMs);
  next.log.push('INFO: got global lock');
  beginBackupJob(state, next, new Date(next.runsFromMs));
  return true;
}

/** The backup volume a finished job leaves for one guest. */
export function backupVolume(task: SimTask, guest: SimGuest, file: string, size: number): BackupVolume {
  const e = task.effect as VzdumpEffect;
  const notes = (e.notesTemplate ?? '{{guestname}}')
    .replace(/\{\{guestname\}\}/g, String(guest.config.hostname ?? guest.config.name ?? guest.vmid))
    .replace(/\{\{vmid\}\}/g, String(guest.vmid))
    .replace(/\{\{node\}\}/g, guest.node)
    .replace(/\{\{cluster\}\}/g, 'phoenix');
  return {
    volid: `${e.storage}:backup/${file}`,
    ctime: Math.floor((task.runsFromMs ?? task.startedAtMs) / 1000),
    size,
    format: file.replace(/^.*?\.(tar|vma)/, '$1').replace(/^\./, ''),
    vmid: guest.vmid,
    notes,
    subtype: guest.type,
    content: 'backup',
    ...(e.protected ? { protected: 1 } : {}),
  };
}

/**
 * What vzdump says about a CT's mount points, from its *current* config (a pending change does not count): the rootfs
 * always, a volume only with `backup=1`, a bind mount never.
 */
function mountPointLines(config: Record<string, unknown>): string[] {
  const lines = [`INFO: including mount point rootfs ('/') in backup`];
  const keys = Object.keys(config)
    .filter((k) => /^mp[0-9]+$/.test(k))
    .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  for (const key of keys) {
    const value = String(config[key]);
    const source = value.split(',')[0].replace(/^volume=/, '');
    const mp = /(?:^|,)mp=([^,]+)/.exec(value)?.[1] ?? '?';
    if (source.startsWith('/'))
      lines.push(`INFO: excluding bind mount point ${key} ('${mp}') from backup (not a volume)`);
    else if (/(?:^|,)backup=(1|yes|on|true)(?:,|$)/.test(value))
      lines.push(`INFO: including mount point ${key} ('${mp}') in backup`);
    else lines.push(`INFO: excluding volume mount point ${key} ('${mp}') from backup (disabled)`);
  }
  return lines;
}
