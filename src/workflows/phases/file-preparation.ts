/** Phase 2 — Orchestrator and File Preparation: the compose files onto the VMs' NFS export on the Proxmox host. */
import { quick } from '../activity-proxies';
import type { MigrationRun } from '../run';

export async function prepareFiles(run: MigrationRun): Promise<void> {
  const { plan, dryRun, report } = run;
  const files = await run.step(
    'compose files onto the NFS export',
    () =>
      quick.provisionComposeFiles.executeWithOptions(
        { summary: `push ${plan.composeFiles.map((f) => f.destination).join(', ')} → ${plan.proxmoxHost.host}` },
        [{ host: plan.proxmoxHost, files: plan.composeFiles, dryRun }],
      ),
    (r) => r.files.map((f) => `${f.hostPath}: ${f.outcome}`).join('; '),
  );
  report.composeFiles = files.files;
  for (const f of files.files)
    if (f.outcome !== 'unchanged') report.changes.push(`compose file ${f.hostPath}: ${f.outcome}`);
}
