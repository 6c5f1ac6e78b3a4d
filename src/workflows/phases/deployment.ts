/**
 * Phase 4 — Application Deployment: the VMs are ready, the Qdrant stack is deployed (by a person, or by the run in
 * `api` mode), and, in `snapshot` data mode, the legacy collections are copied before any client is moved.
 */
import { isCancellation, patched } from '@temporalio/workflow';
import { quick, long } from '../activity-proxies';
import type { MigrationRun } from '../run';
import { deployStackByApi, waitForManualDeploy } from './portainer-deploy';
import { waitUntilReady } from './readiness';

export async function deployApplication(run: MigrationRun): Promise<void> {
  if (run.dryRun) return describeDeployment(run);
  await run.once('readiness', () => waitUntilReady(run));
  if (run.plan.portainer.mode === 'api') await run.once('portainer deploy', () => deployStackByApi(run));
  else await run.once('portainer deploy', () => waitForManualDeploy(run));
  if (run.plan.qdrant.data.mode === 'snapshot') await run.once('snapshot copy', () => copyCollections(run));
}

/**
 * Marks runs that read the gateway's upstream (what the cutover replaces and a rollback restores) while the collections
 * are copied: the cutover then needs no read of its own, one workflow task less between the copy and the change. Older
 * runs read it at the cutover, and replay so.
 */
export const GATEWAY_READ_BESIDE_COPY = 'gateway-read-beside-copy';

async function copyCollections(run: MigrationRun): Promise<void> {
  const readAhead =
    run.gateway.state.stage === 'not-cut' && patched(GATEWAY_READ_BESIDE_COPY) ? run.gateway.readAhead() : undefined;
  // Both settle before either's failure is raised: nothing is left running behind a failed copy. A read that failed
  // is the cutover's to make again (and to fail in its own step, as before), unless the run is being cancelled.
  const [copied, read] = await Promise.allSettled([copy(run), readAhead]);
  if (copied.status === 'rejected') throw copied.reason;
  if (read.status === 'rejected' && isCancellation(read.reason)) throw read.reason;
  run.report.changes.push(...copied.value.map((c) => `Qdrant collection ${c.name} copied (${c.newCount} points)`));
}

function copy(run: MigrationRun) {
  const { qdrant } = run.plan;
  return run.step(
    'copy Qdrant collections by snapshot',
    () =>
      long.copyQdrantCollections.executeWithOptions({ summary: `snapshot ${qdrant.legacyUrl} → ${qdrant.newUrl}` }, [
        { legacyUrl: qdrant.legacyUrl, newUrl: qdrant.newUrl, apiKey: qdrant.apiKey },
      ]),
    (r) =>
      r.map((c) => `${c.name}: ${c.newCount}/${c.legacyCount}`).join('; ') || 'no collections on the legacy instance',
  );
}

/** Dry run: nothing to wait for; say where a real run would need a person (or, in api mode, what it would deploy). */
async function describeDeployment(run: MigrationRun): Promise<void> {
  const { plan, board, report } = run;
  board.endStep('readiness of VMs, Docker, Portainer and NFS', 'skipped', 'checked once the VMs exist');
  if (plan.portainer.mode !== 'api') {
    board.endStep('Portainer deploy', 'skipped', 'needs a person here: deploy the stack in Portainer, then confirm');
    report.needsPerson.push(
      'Phase 4: deploy the Qdrant stack in Portainer (environment Dr-Phoenix), then `phoenix-migrate confirm-portainer`',
    );
    return;
  }
  const { portainer, composeFiles } = plan;
  const r = await run.step(
    'Portainer deploy',
    () =>
      quick.ensurePortainerDeployment.executeWithOptions(
        { summary: `Portainer stack ${portainer.stackName} on ${portainer.environmentName} (dry run)` },
        [{ portainer, composeContent: composeFiles[portainer.composeFileIndex].content, dryRun: true }],
      ),
    (r) => r.changes.join('; ') || 'already deployed',
  );
  report.changes.push(...r.changes.map((c) => `Portainer: ${c} (would be)`));
}
