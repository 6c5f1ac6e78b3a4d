/**
 * Verification and Decommissioning: remove one legacy container, safely — only a listed legacy CT, never the
 * gateway, a target or the template; never a protected one; with a backup first when the plan asks for it.
 * Every step re-reads live state, so a retry after a lost answer neither backs up twice nor fails on "already gone".
 */
import type { BackupSettings, LegacyGuest, ProxmoxSettings } from '../config/resolved-plan';
import { isProxmoxError, ProxmoxError, readTaskLog, waitForTask, type BackupVolume, type ProxmoxApi } from '../proxmox';
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

export interface DecommissionResult {
  ctid: number;
  outcome: 'deleted' | 'already-absent' | 'would-delete';
  backupVolid?: string;
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

  async function backUp(api: ProxmoxApi, input: DecommissionInput): Promise<string> {
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
    await waitForTask(api, upid, taskOptions(deps, `backup ${guest.ctid}`));
    const archive = archiveFromLog(await readTaskLog(api, upid, 5_000));
    const listed = await findOurBackup(api, input);
    if (listed && (!archive || listed.volid.endsWith(`/${archive}`))) return listed.volid;
    if (archive) return `${backups.storage}:backup/${archive}`;
    throw new ProxmoxError(
      `Backup of CT ${guest.ctid} finished but no archive was found in its task log or on storage ${backups.storage}.`,
      { kind: 'transient' },
    );
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
    let backupVolid: string | undefined;
    let deleteSent = false;

    return converging(deps, `decommission CT ${ctid}`, async (): Promise<DecommissionResult> => {
      await settleActiveTasks(api, deps, guest.node, ctid);

      if (await api.cluster.vmidIsFree(ctid)) {
        step(deleteSent ? 'verified gone' : 'already absent');
        return { ctid, outcome: deleteSent ? 'deleted' : 'already-absent', backupVolid, steps };
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
          `vmid ${ctid} is a ${found.type} guest ("${found.name ?? '?'}"), not the legacy container ${guest.name}; refusing to delete it.`,
        );
      }
      if (found.node !== guest.node) {
        throw refuse(
          FailureType.GuestOnUnexpectedNode,
          `CT ${ctid} is on node ${found.node}, but the plan expects ${guest.node}; fix legacyGuests[].node or check the cluster.`,
        );
      }
      const config = await api.lxc.config(guest.node, ctid);
      const name = String(config.hostname ?? found.name ?? '');
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
      step(`checked CT ${ctid} ${guest.name} on ${guest.node}`);
      if (config.lock !== undefined) {
        throw new ProxmoxError(
          `CT ${ctid} is locked (${String(config.lock)}) with no task of ours running; waiting for it to clear.`,
          { kind: 'locked' },
        );
      }

      if (input.backups.enabled && !backupVolid) {
        const existing = await findOurBackup(api, input);
        if (existing) {
          backupVolid = existing.volid;
          step(`backup exists ${existing.volid}`);
        } else if (dryRun) {
          step(`would back up to ${input.backups.storage} (${input.backups.mode}, ${input.backups.compress})`);
        } else {
          backupVolid = await backUp(api, input);
          step(`backed up to ${backupVolid}`);
        }
      }

      const status = await api.lxc.status(guest.node, ctid);
      if (dryRun) {
        if (status.status === 'running')
          step(`would shut down (timeout ${Math.ceil(input.shutdownTimeoutMs / 1000)} s), then stop if needed`);
        step('would delete (purge, destroy unreferenced disks)');
        return { ctid, outcome: 'would-delete', backupVolid, steps };
      }

      if (status.status === 'running') {
        const timeoutSec = Math.max(1, Math.ceil(input.shutdownTimeoutMs / 1000));
        await runIgnoringNotRunning(
          api,
          () => api.lxc.shutdown(guest.node, ctid, timeoutSec),
          `shutdown ${ctid}`,
          true,
        );
        step(`shutdown (timeout ${timeoutSec} s)`);
        if ((await api.lxc.status(guest.node, ctid)).status === 'running') {
          await runIgnoringNotRunning(api, () => api.lxc.stop(guest.node, ctid), `stop ${ctid}`, false);
          step('stop');
        }
      }

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
      return { ctid, outcome: 'deleted', backupVolid, steps };
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
