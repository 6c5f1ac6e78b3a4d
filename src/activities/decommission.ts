/**
 * Verification and Decommissioning: remove one legacy container, safely — only a listed legacy CT, never the
 * gateway, a target or the template; never a protected one; with a backup first when the plan asks for it.
 *
 * The backup holds what the plan decided: vzdump skips a volume mount point unless it has `backup=1`, and the delete
 * destroys volumes. So for a backup the CT is shut down first, `backup=1` is set on every volume the plan says
 * `backup` for, the config is read again (`current=1`: nothing may be pending), and only then vzdump runs; its task log
 * must name each of those volumes as included, and the archive must be in the storage listing (size > 0) before the
 * DELETE is sent. Every step re-reads live state, so a retry after a lost answer neither backs up twice nor fails on
 * "already gone".
 */
import type { BackupSettings, LegacyGuest, ProxmoxSettings } from '../config/resolved-plan';
import {
  finishedTasksFor,
  isProxmoxError,
  lxcMountPoints,
  ProxmoxError,
  readTaskLog,
  waitForTask,
  withBackupFlag,
  type BackupVolume,
  type LxcMountPoint,
  type ProxmoxApi,
} from '../proxmox';
import { FailureType } from '../failure-types';
import { refuse, withFailureTranslation } from './failures';
import { heartbeat } from './heartbeat';
import { converging, settleActiveTasks, taskOptions, type ProxmoxActivityDeps } from './vms';

export interface DecommissionInput {
  proxmox: ProxmoxSettings;
  guest: LegacyGuest;
  legacyCtids: number[];
  protectedVmids: { template: number; gateway: number; targets: number[] };
  backups: BackupSettings;
  shutdownTimeoutMs: number;
  dryRun?: boolean;
}

export interface DecommissionBackup {
  volid: string;
  /** Bytes, as the storage listing reports it. */
  size: number;
  /** Volume mount points the vzdump task log names as included (`mp0`, …). */
  mountPointsIncluded: string[];
}

export interface DecommissionResult {
  ctid: number;
  outcome: 'deleted' | 'already-absent' | 'would-delete';
  backupVolid?: string;
  backup?: DecommissionBackup;
  /** Volumes the plan decided to discard (destroyed with the CT). */
  discardedVolumes?: string[];
  /** Bind mounts (host paths): neither in the backup nor destroyed — they stay on the host. */
  bindMounts?: { key: string; hostPath: string; path: string }[];
  steps: string[];
}

/** In the backup's notes, so our backups can be told apart from anyone else's. */
export const BACKUP_MARKER = 'phoenix-migrate';

const sameUtcDay = (epochSec: number, now: Date) =>
  new Date(epochSec * 1000).toISOString().slice(0, 10) === now.toISOString().slice(0, 10);

/** The checks that need no API call: which ids may never be decommissioned, and which must be. */
export function checkDecommissionAllowed(input: DecommissionInput): void {
  const ctid = input.guest.ctid;
  const p = input.protectedVmids;
  if (ctid === p.gateway) {
    throw refuse(
      FailureType.ProtectedGuest,
      `CT ${ctid} is the gateway (gateway.ctid in the plan); it is never decommissioned.`,
    );
  }
  if (ctid === p.template) {
    throw refuse(
      FailureType.ProtectedGuest,
      `${ctid} is the VM template (templateVmid in the plan); it is never decommissioned.`,
    );
  }
  if (p.targets.includes(ctid)) {
    throw refuse(
      FailureType.ProtectedGuest,
      `${ctid} is a target VM of this migration (vms[].vmid in the plan); it is never decommissioned.`,
    );
  }
  if (!input.legacyCtids.includes(ctid)) {
    throw refuse(
      FailureType.NotALegacyGuest,
      `CT ${ctid} is not in the plan's legacy guests (${input.legacyCtids.join(', ') || 'none'}); only those are decommissioned.`,
    );
  }
}

/** What vzdump logs while another backup job on the node holds `/var/run/vzdump.lock`. */
const GLOBAL_LOCK_WAIT = /trying to get global lock - waiting/;

/** `mp0`, … that a vzdump task log says it included (`including mount point mp0 ('/x') in backup`). */
export function mountPointsInLog(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const m = /including mount point (mp[0-9]+) \(/.exec(line);
    if (m && !out.includes(m[1])) out.push(m[1]);
  }
  return out;
}

/** `…/dump/vzdump-lxc-950-2025_10_03-12_00_00.tar.zst` from the task log line that names the archive. */
export function archiveFromLog(lines: string[]): string | undefined {
  for (const line of lines) {
    const m = /creating (?:vzdump )?archive '([^']+)'/.exec(line);
    if (m) return m[1].split('/').pop();
  }
  return undefined;
}

export function createDecommissionActivities(deps: ProxmoxActivityDeps) {
  async function findOurBackup(api: ProxmoxApi, input: DecommissionInput): Promise<BackupVolume | undefined> {
    const list = await api.storage.backups(input.guest.node, input.backups.storage, input.guest.ctid);
    const now = new Date();
    return list
      .filter(
        (b) =>
          Number(b.vmid) === input.guest.ctid &&
          String(b.notes ?? '').includes(BACKUP_MARKER) &&
          sameUtcDay(b.ctime, now),
      )
      .sort((a, b) => b.ctime - a.ctime)[0];
  }

  /** The proof a backup holds what it must: its vzdump log names every volume to keep, the listing shows it (> 0 B). */
  async function proveBackup(
    api: ProxmoxApi,
    input: DecommissionInput,
    volid: string,
    log: string[],
    keep: string[],
  ): Promise<DecommissionBackup> {
    const { guest, backups } = input;
    const included = mountPointsInLog(log);
    const missing = keep.filter((k) => !included.includes(k));
    if (missing.length) {
      throw refuse(
        FailureType.BackupMissesVolume,
        `The backup ${volid} of CT ${guest.ctid} does not include ${missing.join(', ')} (its vzdump log names ${included.join(', ') || 'no volume'}), although the plan decides "backup" for it; CT ${guest.ctid} was NOT deleted. Check \`pct config ${guest.ctid}\` for backup=1 on ${missing.join(', ')}, then run again.`,
      );
    }
    const listed = (await api.storage.backups(guest.node, backups.storage, guest.ctid)).find((b) => b.volid === volid);
    if (!listed || !(Number(listed.size) > 0)) {
      throw refuse(
        FailureType.BackupNotVerified,
        `The backup ${volid} of CT ${guest.ctid} is ${listed ? 'listed with size 0' : 'not in the listing'} of storage ${backups.storage}; an unverifiable backup stops the deletion: CT ${guest.ctid} was NOT deleted. Check the storage (\`pvesm list ${backups.storage} --vmid ${guest.ctid}\`), then run again.`,
      );
    }
    return { volid, size: Number(listed.size), mountPointsIncluded: included };
  }

  /** The vzdump task that wrote `volid` (found on a retry): its log is the proof of what the archive holds. */
  async function logOfBackupTask(api: ProxmoxApi, input: DecommissionInput, volid: string): Promise<string[]> {
    const archive = volid.split('/').pop();
    for (const task of await finishedTasksFor(api, input.guest.node, input.guest.ctid, 'vzdump')) {
      const log = await readTaskLog(api, task.upid, 5_000);
      if (archiveFromLog(log) === archive) return log;
    }
    return [];
  }

  async function backUp(api: ProxmoxApi, input: DecommissionInput, keep: string[]): Promise<DecommissionBackup> {
    const { guest, backups } = input;
    const upid = await api.storage.vzdump(guest.node, {
      vmid: guest.ctid,
      storage: backups.storage,
      mode: backups.mode,
      compress: backups.compress,
      protected: true,
      notesTemplate: `${BACKUP_MARKER}: {{guestname}} (CT {{vmid}}) before decommission`,
    });
    if (upid === 'OK')
      throw refuse(
        FailureType.GuestNotOnNode,
        `vzdump found no CT ${guest.ctid} on node ${guest.node}; check legacyGuests[].node in the plan.`,
      );
    // A node runs one vzdump job at a time: behind its scheduled backup (or our other CTs') this one waits, maybe
    // for hours. Say so where the operator looks (the step's heartbeat, the worker log) instead of just "running".
    const queued = (await readTaskLog(api, upid, 20).catch(() => [] as string[])).some((l) => GLOBAL_LOCK_WAIT.test(l));
    const what = `backup ${guest.ctid}${queued ? ` (queued behind another backup job on ${guest.node})` : ''}`;
    if (queued) deps.log?.info(`${what}: the node runs one vzdump job at a time`, { upid });
    await waitForTask(api, upid, taskOptions(deps, what));
    const log = await readTaskLog(api, upid, 5_000);
    const archive = archiveFromLog(log);
    if (!archive)
      throw new ProxmoxError(`Backup of CT ${guest.ctid} finished but its task log names no archive; looking again.`, {
        kind: 'transient',
      });
    return proveBackup(api, input, `${backups.storage}:backup/${archive}`, log, keep);
  }

  /** Shut the CT down (stop it when the shutdown does not end it). A stopped CT takes config changes at once. */
  async function powerOff(api: ProxmoxApi, input: DecommissionInput, step: (s: string) => void): Promise<void> {
    const { guest } = input;
    if ((await api.lxc.status(guest.node, guest.ctid)).status !== 'running') return;
    const timeoutSec = Math.max(1, Math.ceil(input.shutdownTimeoutMs / 1000));
    await runIgnoringNotRunning(
      api,
      () => api.lxc.shutdown(guest.node, guest.ctid, timeoutSec),
      `shutdown ${guest.ctid}`,
      true,
    );
    step(`shutdown (timeout ${timeoutSec} s)`);
    if ((await api.lxc.status(guest.node, guest.ctid)).status === 'running') {
      await runIgnoringNotRunning(api, () => api.lxc.stop(guest.node, guest.ctid), `stop ${guest.ctid}`, false);
      step('stop');
    }
  }

  /**
   * `backup=1` on every volume to keep, on the stopped CT; then the config as it is in effect must show it with
   * nothing pending — a change on a running CT waits for its next start, and vzdump would skip the volume.
   */
  async function includeVolumes(
    api: ProxmoxApi,
    input: DecommissionInput,
    keep: LxcMountPoint[],
    step: (s: string) => void,
  ): Promise<void> {
    const { guest } = input;
    const current = await api.lxc.currentConfig(guest.node, guest.ctid);
    const toSet = keep.filter((mp) => !lxcMountPoints(current).find((m) => m.key === mp.key)?.backup);
    if (toSet.length) {
      const params: Record<string, string> = { digest: String(current.digest ?? '') };
      for (const mp of toSet) params[mp.key] = withBackupFlag(String(current[mp.key] ?? mp.raw));
      if (!params.digest) delete params.digest;
      await api.lxc.setConfig(guest.node, guest.ctid, params);
      step(`backup=1 on ${toSet.map((m) => `${m.key} (${m.path})`).join(', ')}`);
    }
    const after = lxcMountPoints(await api.lxc.currentConfig(guest.node, guest.ctid));
    const pending = (await api.lxc.pending(guest.node, guest.ctid)).filter(
      (p) => keep.some((k) => k.key === p.key) && (p.pending !== undefined || p.delete),
    );
    const notApplied = keep.filter((k) => !after.find((m) => m.key === k.key)?.backup);
    if (pending.length || notApplied.length) {
      // Not trusted until applied: retried (the next pass shuts the CT down again and re-applies).
      throw new ProxmoxError(
        `backup=1 on ${[...new Set([...pending.map((p) => p.key), ...notApplied.map((k) => k.key)])].join(', ')} of CT ${guest.ctid} is not in effect yet (${pending.length ? 'pending until the CT restarts' : 'not in the current config'}); vzdump would skip it — trying again.`,
        { kind: 'transient' },
      );
    }
  }

  async function decommissionGuest(input: DecommissionInput): Promise<DecommissionResult> {
    checkDecommissionAllowed(input);
    const { guest } = input;
    const ctid = guest.ctid;
    const dryRun = input.dryRun === true;
    const api = deps.proxmoxFor(input.proxmox);
    const steps: string[] = [];
    const step = (s: string) => {
      if (!steps.includes(s)) steps.push(s);
      heartbeat({ what: `decommission ${ctid}`, step: s });
    };
    let backup: DecommissionBackup | undefined;
    let deleteSent = false;
    let mounts: LxcMountPoint[] = [];
    const decisions = guest.volumes ?? {};
    const result = (outcome: DecommissionResult['outcome']): DecommissionResult => ({
      ctid,
      outcome,
      ...(backup ? { backupVolid: backup.volid, backup } : {}),
      ...(mounts.some((m) => m.kind === 'volume' && decisions[m.key] === 'discard')
        ? {
            discardedVolumes: mounts
              .filter((m) => m.kind === 'volume' && decisions[m.key] === 'discard')
              .map((m) => m.key),
          }
        : {}),
      ...(mounts.some((m) => m.kind === 'bind')
        ? {
            bindMounts: mounts
              .filter((m) => m.kind === 'bind')
              .map((m) => ({ key: m.key, hostPath: m.source, path: m.path })),
          }
        : {}),
      steps,
    });

    return converging(deps, `decommission CT ${ctid}`, async (): Promise<DecommissionResult> => {
      await settleActiveTasks(api, deps, guest.node, ctid);

      if (await api.cluster.vmidIsFree(ctid)) {
        step(deleteSent ? 'verified gone' : 'already absent');
        return result(deleteSent ? 'deleted' : 'already-absent');
      }
      const found = (await api.cluster.guests()).find((g) => g.vmid === ctid);
      if (!found) {
        throw refuse(
          FailureType.GuestNotVisible,
          `vmid ${ctid} exists but token ${input.proxmox.tokenId} cannot see it (no VM.Audit on /vms/${ctid}); grant it so the guest can be checked before deletion.`,
        );
      }
      if (found.type !== 'lxc') {
        throw refuse(
          FailureType.NotAContainer,
          `vmid ${ctid} is a ${found.type} guest ("${found.name ?? '?'}"), not the legacy container${guest.name ? ` ${guest.name}` : ''}; refusing to delete it.`,
        );
      }
      if (found.node !== guest.node) {
        throw refuse(
          FailureType.GuestOnUnexpectedNode,
          `CT ${ctid} is on node ${found.node}, but the plan expects ${guest.node}; fix legacyGuests[].node or check the cluster.`,
        );
      }
      const config = await api.lxc.currentConfig(guest.node, ctid);
      const name = String(config.hostname ?? found.name ?? '');
      if (guest.name === undefined) {
        throw refuse(
          FailureType.GuestNameMismatch,
          `CT ${ctid} ("${name}") was absent at preflight, so no name was pinned for it, but a guest has this id now; refusing to delete a container that is not the legacy one.`,
        );
      }
      if (name !== guest.name) {
        throw refuse(
          FailureType.GuestNameMismatch,
          `CT ${ctid} is named "${name}", but the plan expects "${guest.name}"; refusing to delete a container that may not be the legacy one.`,
        );
      }
      if (Number(config.protection ?? 0) === 1) {
        throw refuse(
          FailureType.GuestProtected,
          `CT ${ctid} (${guest.name}) has protection enabled; lift it on the Proxmox host with \`pct set ${ctid} --protection 0\` if it really should go, then retry.`,
        );
      }
      mounts = lxcMountPoints(config);
      const undecided = mounts.filter((m) => m.kind === 'volume' && !m.backup && !decisions[m.key]);
      if (undecided.length) {
        throw refuse(
          FailureType.VolumeUndecided,
          `CT ${ctid} (${guest.name}) has volume mount point(s) no backup includes and the plan does not decide: ${undecided.map((m) => `${m.key} ${m.path} (${m.sizeGb ?? '?'} GB)`).join(', ')}; set legacyGuests[].volumes.${undecided[0].key} to "backup" or "discard". Nothing was changed.`,
        );
      }
      step(`checked CT ${ctid} ${guest.name} on ${guest.node}`);
      if (config.lock !== undefined) {
        throw new ProxmoxError(
          `CT ${ctid} is locked (${String(config.lock)}) with no task of ours running; waiting for it to clear.`,
          { kind: 'locked' },
        );
      }
      const keep = mounts.filter((m) => m.kind === 'volume' && decisions[m.key] === 'backup');

      if (input.backups.enabled && !backup) {
        const existing = await findOurBackup(api, input);
        const existingLog = existing ? await logOfBackupTask(api, input, existing.volid) : [];
        const keepKeys = keep.map((k) => k.key);
        if (existing && keepKeys.every((k) => mountPointsInLog(existingLog).includes(k))) {
          backup = await proveBackup(api, input, existing.volid, existingLog, keepKeys);
          step(`backup exists ${existing.volid}`);
        } else if (dryRun) {
          const vols = keep.length ? `, with ${keep.map((k) => `${k.key} ${k.path}`).join(', ')} (backup=1)` : '';
          step(
            `would shut down, then back up to ${input.backups.storage} (${input.backups.mode}, ${input.backups.compress})${vols}`,
          );
        } else {
          await powerOff(api, input, step);
          await includeVolumes(api, input, keep, step);
          backup = await backUp(api, input, keepKeys);
          step(
            `backed up to ${backup.volid}${backup.mountPointsIncluded.length ? ` (with ${backup.mountPointsIncluded.join(', ')})` : ''}`,
          );
        }
      }

      if (dryRun) {
        if ((await api.lxc.status(guest.node, ctid)).status === 'running')
          step(`would shut down (timeout ${Math.ceil(input.shutdownTimeoutMs / 1000)} s), then stop if needed`);
        step('would delete (purge, destroy unreferenced disks)');
        return result('would-delete');
      }

      await powerOff(api, input, step);
      deleteSent = true;
      try {
        const upid = await api.lxc.destroy(guest.node, ctid);
        await waitForTask(api, upid, taskOptions(deps, `delete ${ctid}`));
      } catch (err) {
        if (!(isProxmoxError(err) && err.kind === 'not-found')) throw err;
      }
      step('delete (purge, destroy unreferenced disks)');
      if (!(await api.cluster.vmidIsFree(ctid))) {
        throw new ProxmoxError(`CT ${ctid} still exists after its delete task; checking again.`, { kind: 'transient' });
      }
      step('verified gone');
      return result('deleted');
    });
  }

  /** Start a power task and wait; "CT N not running" (sync) means done. A shutdown that times out is followed by stop. */
  async function runIgnoringNotRunning(
    api: ProxmoxApi,
    dispatch: () => Promise<string>,
    what: string,
    tolerateTaskFailure: boolean,
  ): Promise<void> {
    let upid: string;
    try {
      upid = await dispatch();
    } catch (err) {
      if (isProxmoxError(err) && /not running/i.test(err.message)) return;
      throw err;
    }
    try {
      await waitForTask(api, upid, taskOptions(deps, what));
    } catch (err) {
      if (!tolerateTaskFailure) throw err;
      deps.log?.warn(`${what} did not finish cleanly; stopping instead`, { error: (err as Error).message });
    }
  }

  return withFailureTranslation({ decommissionGuest });
}
