/**
 * One legacy CT's backup-and-delete as a status step: the `decommissionGuest` activity with the guests it must never
 * touch. Both versions of Phase 5 (decommissioning.ts, and decommissioning-v1.ts kept for replay) schedule it alike.
 */
import type { DecommissionResult } from '../../activities/decommission';
import type { LegacyGuest } from '../../config/resolved-plan';
import { long } from '../activity-proxies';
import type { MigrationRun } from '../run';

export function decommissionStep(run: MigrationRun, guest: LegacyGuest): Promise<DecommissionResult> {
  const { plan, dryRun } = run;
  const protectedVmids = {
    template: plan.templateVmid,
    gateway: plan.gateway.ctid,
    targets: plan.vms.map((v) => v.vmid),
  };
  return run.step(
    `decommission CT ${guest.ctid} ${guest.name}`,
    () =>
      long.decommissionGuest.executeWithOptions(
        {
          summary: `${plan.backups.enabled ? 'back up and ' : ''}delete CT ${guest.ctid} (${guest.name})${dryRun ? ' (dry run)' : ''}`,
        },
        [
          {
            proxmox: plan.proxmox,
            guest,
            legacyCtids: run.legacyGuests.map((g) => g.ctid),
            protectedVmids,
            backups: plan.backups,
            shutdownTimeoutMs: plan.timings.shutdownTimeoutMs,
            dryRun,
          },
        ],
      ),
    (r) =>
      `${r.outcome}${r.backupVolid ? `, backup ${r.backupVolid}${r.backup?.mountPointsIncluded.length ? ` (with ${r.backup.mountPointsIncluded.join(', ')})` : ''}` : ''}`,
  );
}
