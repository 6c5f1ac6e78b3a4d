/**
 * Phase 4c → 5: move the gateway, verify through it, soak — and when that fails, put the gateway back and let the
 * operator choose: retry or abort. Resumable: a continued run picks up at the gateway's stage.
 */
import { sleep } from '@temporalio/workflow';
import { quick } from '../activity-proxies';
import { hostOfUrl, legacyLabel } from '../gates';
import { AbortRequested } from '../operator';
import type { MigrationRun } from '../run';
import { formatMs } from '../text';

export async function cutOverAndVerify(run: MigrationRun): Promise<void> {
  for (;;) {
    const failure = await attemptCutover(run);
    if (!failure) return;
    await rollBackAndAsk(run, failure);
  }
}

async function attemptCutover(run: MigrationRun): Promise<string | undefined> {
  const { gateway, board } = run;
  if (gateway.state.stage === 'not-cut') {
    board.startPhase('Application Deployment and Cutover');
    const failure = await gateway.cutover();
    if (run.dryRun) {
      board.startPhase('Verification and Decommissioning');
      board.endStep('verification through the gateway', 'skipped', 'runs after the real cutover');
      return undefined;
    }
    if (failure) return failure;
  }
  board.startPhase('Verification and Decommissioning');
  if (gateway.state.stage === 'cut-over') {
    const { failure, ...verification } = await gateway.verify();
    run.report.verification = verification;
    if (failure) {
      board.endStep('verification through the gateway', 'failed', undefined, failure);
      return failure;
    }
  }
  const soakFailure = await soak(run);
  if (soakFailure) return soakFailure;
  gateway.markVerified();
  return undefined;
}

async function rollBackAndAsk(run: MigrationRun, failure: string): Promise<void> {
  const { gateway, person, board } = run;
  run.forget('soak');
  await run.step(
    'gateway rollback',
    () => gateway.restore(failure),
    () => `back on ${gateway.state.previousServers.join(', ')}`,
  );
  run.notify('rejected', `Verification failed and the gateway was rolled back: ${failure}`);
  const choice = await person.waitForChoice(() =>
    board.wait(
      'operator-choice-after-failed-verification',
      `Verification failed (${failure}); the gateway is back on ${gateway.state.previousServers.join(', ')}. Fix the new Qdrant, then retry — or abort.`,
    ),
  );
  board.stopWaiting();
  if (choice === 'abort')
    throw new AbortRequested(`aborted by ${person.lastActor} after a failed verification (${failure})`);
  run.report.changes.push(`verification retried (asked by ${person.lastActor})`);
}

/**
 * The optional soak after verification: the gateway keeps answering for `soak`, probed every `soakProbeEvery`, and
 * any request that still reaches the legacy Qdrant directly is reported before the approval.
 */
async function soak(run: MigrationRun): Promise<string | undefined> {
  const { plan, board, report } = run;
  const { soakMs, soakProbeEveryMs } = plan.timings;
  if (soakMs <= 0) return undefined;
  const name = `soak ${formatMs(soakMs)}`;
  if (run.mark('soak.deadline') === undefined) {
    const before = await quick.readLegacyTraffic({ url: plan.qdrant.legacyUrl }).catch(() => undefined);
    run.mark('soak.trafficBefore', before?.dataRequestsTotal ?? -1);
    board.startStep(name);
  }
  const end = run.deadline('soak', soakMs);
  while (Date.now() < end) {
    await run.continueAsNewIfDue();
    await sleep(Math.max(1, Math.min(soakProbeEveryMs, end - Date.now())));
    const probe = await quick.probeQdrant({ url: plan.qdrant.gatewayUrl, apiKey: plan.qdrant.apiKey, timeoutMs: 5000 });
    const probes = (run.mark('soak.probes') ?? 0) + 1;
    run.mark('soak.probes', probes);
    if (!probe.ready) {
      board.endStep(name, 'failed', undefined, `probe ${probes} failed: ${probe.detail}`);
      return `soak probe ${probes} through the gateway failed: ${probe.detail}`;
    }
  }
  const after = await quick.readLegacyTraffic({ url: plan.qdrant.legacyUrl }).catch(() => undefined);
  const before = run.mark('soak.trafficBefore') ?? -1;
  // Data requests only: our own /metrics reads (and any health probe or scraper) count in requestsTotal too.
  if (before >= 0 && after && after.dataRequestsTotal > before) {
    const legacyGuest = run.legacyGuests.find((g) => g.ip === hostOfUrl(plan.qdrant.legacyUrl));
    const who = legacyGuest ? legacyLabel(legacyGuest) : plan.qdrant.legacyUrl;
    report.legacyTraffic.push(
      `${who} still received ${after.dataRequestsTotal - before} request(s) directly during the soak: some client bypasses the gateway`,
    );
  }
  const traffic = report.legacyTraffic.length ? `; ${report.legacyTraffic.join('; ')}` : '';
  board.endStep(name, 'done', `${run.mark('soak.probes') ?? 0} probe(s) passed${traffic}`);
  return undefined;
}
