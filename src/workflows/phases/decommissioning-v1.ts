/**
 * Phase 5 as it was before issue 17 — kept only so that runs recorded before that change replay unchanged (the
 * workflow takes this path when `patched(LIVE_DECOMMISSION_GATES)` is false). New runs never come here.
 */
import type { LegacyGuest } from '../../config/resolved-plan';
import { quick } from '../activity-proxies';
import { scanDependencies, type Refusal } from '../gates';
import type { MigrationRun } from '../run';
import { decommissionStep } from './decommission-step';
import { allOrFirstFailure } from '../text';
import { waitForReindex } from './decommissioning';

export async function decommissionLegacyV1(run: MigrationRun): Promise<void> {
  if (run.plan.qdrant.data.mode === 'reindex' && !run.dryRun) await run.once('reindex', () => waitForReindex(run));
  const scan = await scanLiveDependencies(run);
  const approved = await approveDeletion(run, scan.deletable, scan.refused);
  // Each deletion is recorded as soon as it is done, so a failure of another still reports what is gone.
  await allOrFirstFailure(approved.map((guest) => deleteGuest(run, guest)));
}

async function scanLiveDependencies(run: MigrationRun): Promise<{ deletable: LegacyGuest[]; refused: Refusal[] }> {
  const { plan, board, report } = run;
  const gatewayNow = await run.step('dependency scan', () =>
    quick.readGateway.executeWithOptions({ summary: `read gateway ${plan.gateway.siteFile}` }, [
      { proxmoxHost: plan.proxmoxHost, gateway: plan.gateway },
    ]),
  );
  const scan = scanDependencies({
    legacy: run.legacyGuests,
    movedUpstream: plan.gateway.upstream,
    upstreams: gatewayNow.upstreams,
    guestDependencies: plan.guestDependencies,
  });
  report.decommission.refused.push(...scan.refused);
  const reasons = scan.refused.length ? `: ${scan.refused.map((r) => r.reason).join('; ')}` : '';
  board.endStep(
    'dependency scan',
    'done',
    `${scan.deletable.length} deletable, ${scan.refused.length} refused${reasons}`,
  );
  if (run.dryRun)
    for (const r of scan.refused) report.changes.push(`kept (refused by the dependency scan): ${r.reason}`);
  return scan;
}

async function approveDeletion(run: MigrationRun, toDelete: LegacyGuest[], refused: Refusal[]): Promise<LegacyGuest[]> {
  const { plan, board, report, person } = run;
  const name = 'decommission approval';
  if (!plan.approvals.decommission || !toDelete.length) return toDelete;
  const ctids = toDelete.map((g) => g.ctid).join(', ');
  if (run.dryRun) {
    board.endStep(name, 'skipped', 'needs a person here: approve the deletion');
    const kept = refused.length ? `; kept: ${refused.map((r) => r.ctid).join(', ')}` : '';
    report.needsPerson.push(`Phase 5: approve deleting CT ${ctids} (\`phoenix-migrate approve-decommission\`)${kept}`);
    return toDelete;
  }
  const backup = plan.backups.enabled ? ` (after a vzdump backup to ${plan.backups.storage})` : '';
  const items = [
    ...toDelete.map((g) => `delete CT ${g.ctid} ${g.name}${backup}`),
    ...refused.map((r) => `kept: ${r.reason}`),
    ...report.legacyTraffic.map((t) => `⚠ ${t}`),
  ];
  board.setStepWaiting(name, 'waiting for approval');
  run.notify('waiting', `Approve deleting ${ctids}`, 'decommission-approval');
  await person.waitForApproval(() =>
    board.wait('decommission-approval', 'Approve deleting these legacy containers.', items),
  );
  board.stopWaiting();
  board.endStep(name, 'done', `approved by ${person.lastActor}`);
  run.recordOperator(person.lastRecord('approveDecommission'));
  return toDelete.filter((g) => !person.state.deniedCtids.includes(g.ctid));
}

async function deleteGuest(run: MigrationRun, guest: LegacyGuest): Promise<void> {
  const { report } = run;
  const r = await decommissionStep(run, guest);
  report.decommission.results.push(r);
  if (r.outcome === 'deleted' || r.outcome === 'already-absent') report.decommission.deleted.push(r.ctid);
  if (r.backupVolid) report.backups.push({ ctid: r.ctid, volid: r.backupVolid });
  if (r.outcome !== 'already-absent')
    report.changes.push(`CT ${r.ctid}: ${r.outcome}${r.backupVolid ? ` (backup ${r.backupVolid})` : ''}`);
}
