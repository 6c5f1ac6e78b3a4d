/** Phase 1 — Declarative Configuration: the plan is checked against the live world before anything changes. */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LegacyGuest } from '../../config/resolved-plan';
import { FailureType } from '../../failure-types';
import { quick } from '../activity-proxies';
import { pinLegacyGuests, volumeProblems, type LegacyGuestFacts } from '../gates';
import type { MigrationRun } from '../run';
import { allOrFirstFailure } from '../text';
import { LIVE_DECOMMISSION_GATES } from './decommissioning';

export async function declareConfiguration(run: MigrationRun): Promise<void> {
  const name = 'preflight on live state';
  const legacy = run.plan.legacyGuests;
  const runPreflight = () =>
    run.step(
      name,
      () =>
        quick.preflight.executeWithOptions(
          { summary: 'preflight: template, vmids, gateway, NFS export, legacy guests' },
          [{ plan: run.plan }],
        ),
      (r) => `${r.checks.length} checks passed${revertWarning(run)}`,
    );
  // The legacy CTs as the node has them: every volume a backup would skip must be decided before anything changes.
  const inspectLegacy = () =>
    run.step(
      'legacy CTs: volumes decided',
      () =>
        quick.inspectLegacyGuests.executeWithOptions(
          { summary: `live config of CT ${legacy.map((g) => g.ctid).join(', ')}` },
          [{ proxmox: run.plan.proxmox, guests: legacy }],
        ),
      (r) => describeLegacy(legacy, r),
    );
  let preflight: Awaited<ReturnType<typeof runPreflight>>;
  let live: LegacyGuestFacts[] = [];
  if (legacy.length && patched(PREFLIGHT_WITH_LEGACY_INSPECTION) && patched(LIVE_DECOMMISSION_GATES)) {
    // Two reads that need nothing of each other, asked in one workflow task: both before the clone, which waits.
    // Both settle before either's failure is raised, as when they ran one after the other.
    [preflight, live] = await allOrFirstFailure([runPreflight(), inspectLegacy()]);
  } else {
    preflight = await runPreflight();
    live = legacy.length && patched(LIVE_DECOMMISSION_GATES) ? await inspectLegacy() : [];
  }
  // From here on the run deletes only what preflight saw: names and volume decisions are pinned.
  if (live.length) run.pinLegacyGuests(pinLegacyGuests(legacy, live));
  const problems = [...preflight.problems, ...volumeProblems(run.legacyGuests, live)];
  if (!problems.length) return;
  const list = problems.map((p) => `${p.item} — fix: ${p.fix}`);
  run.board.endStep(name, 'failed', undefined, `${list.length} problem(s)`);
  throw ApplicationFailure.nonRetryable(
    `Preflight found ${list.length} problem(s); nothing was changed:\n- ${list.join('\n- ')}`,
    FailureType.PreflightFailed,
    { ...preflight, problems },
  );
}

/** Marks runs that read the legacy CTs while preflight runs; runs recorded before it read them after, and replay so. */
export const PREFLIGHT_WITH_LEGACY_INSPECTION = 'preflight-with-legacy-inspection';

/** Phoenix's own sources that would put the old upstream back at the gateway CT's next converge (plan phoenix.dir). */
function revertWarning(run: MigrationRun): string {
  const stale = run.plan.phoenixSources?.stale ?? [];
  if (stale.length === 0) return '';
  return `; warning: ${stale.map((s) => s.file).join(' and ')} still route ${run.plan.gateway.upstream} to ${stale[0].servers.join(', ')} — a converge of CT ${run.plan.gateway.ctid} after the cutover would revert it (phoenix-migrate sources --write)`;
}

function describeLegacy(planned: LegacyGuest[], live: LegacyGuestFacts[]): string {
  const volumes = live.flatMap((g) =>
    g.mountPoints.filter((m) => m.kind === 'volume').map((m) => `CT ${g.ctid} ${m.key} (${m.sizeGb ?? '?'} GB)`),
  );
  const learned = live
    .filter((g) => g.name && planned.some((p) => p.ctid === g.ctid && p.name === undefined))
    .map((g) => `CT ${g.ctid} ${g.name}`);
  return [
    volumes.length ? `volumes: ${volumes.join(', ')}` : 'no volume mount points',
    ...(learned.length ? [`names pinned from the node: ${learned.join(', ')}`] : []),
  ].join('; ');
}
