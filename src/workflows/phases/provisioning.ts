/** Phase 3 — Infrastructure Provisioning: every planned VM exists and is configured as planned. */
import type { VmSpec } from '../../config/resolved-plan';
import { long } from '../activity-proxies';
import type { MigrationRun } from '../run';
import { allOrFirstFailure } from '../text';

export async function provisionInfrastructure(run: MigrationRun): Promise<void> {
  // Each VM is recorded as soon as it is done, so a failure of the other still reports what exists.
  await allOrFirstFailure(run.plan.vms.map((vm) => ensureVm(run, vm)));
}

async function ensureVm(run: MigrationRun, vm: VmSpec): Promise<void> {
  const { plan, dryRun, report } = run;
  const result = await run.step(
    `VM ${vm.vmid} ${vm.name}`,
    () =>
      long.ensureVm.executeWithOptions({ summary: `clone ${vm.cloneFrom} → ${vm.vmid} (${vm.name})` }, [
        { proxmox: plan.proxmox, vm, dryRun },
      ]),
    (r) =>
      (r.changes.length ? r.changes.join('; ') : 'already as planned') +
      (r.rebootRequired ? ' — REBOOT REQUIRED for pending changes' : ''),
  );
  report.vms.push(result);
  report.changes.push(...result.changes.map((c) => `VM ${result.vmid}: ${c}${dryRun ? ' (would be)' : ''}`));
}
