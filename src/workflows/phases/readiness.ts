/**
 * Phase 4a: the person is asked to deploy only once the machines can take the stack. Re-checked every
 * `readinessRecheck` until `readinessTimeout`; the history stays bounded by continuing as new on long waits.
 */
import { ApplicationFailure, condition } from '@temporalio/workflow';
import { FailureType } from '../../failure-types';
import { quick } from '../activity-proxies';
import type { MigrationRun } from '../run';
import { formatMs } from '../text';

const STEP = 'readiness of VMs, Docker, Portainer and NFS';

export async function waitUntilReady(run: MigrationRun): Promise<void> {
  const { plan, board, person } = run;
  const { readinessRecheckMs, readinessTimeoutMs } = plan.timings;
  const deadline = run.deadline('readiness', readinessTimeoutMs);
  if (board.status.steps.find((s) => s.name === STEP)?.status !== 'waiting') board.startStep(STEP);
  for (;;) {
    const r = await quick.checkReadiness.executeWithOptions(
      { summary: 'readiness: Docker, Portainer, agent, NFS mount' },
      [{ plan }],
    );
    if (!r.missing.length) break;
    const items = r.missing.map((m) => `${m.item} — fix: ${m.fix}`);
    if (Date.now() >= deadline)
      throw ApplicationFailure.nonRetryable(
        `Not ready after ${formatMs(readinessTimeoutMs)} (readinessTimeout): ${items.length} item(s) still missing; nothing downstream was changed (gateway and legacy CTs untouched, VMs kept). Fix them, then start the run again:\n- ${items.join('\n- ')}`,
        FailureType.ReadinessTimeout,
      );
    board.setStepWaiting(STEP, `${r.missing.length} item(s) missing`);
    board.wait(
      'readiness',
      `Phase 4 cannot start yet: fix these (re-checked every ${formatMs(readinessRecheckMs)}, for at most ${formatMs(readinessTimeoutMs)}).`,
      items,
    );
    await condition(
      () => person.state.abortRequested,
      Math.min(readinessRecheckMs, Math.max(1, deadline - Date.now())),
    );
    person.throwIfAborted();
    await run.continueAsNewIfDue();
  }
  board.stopWaiting();
  board.endStep(STEP, 'done', 'Docker, Portainer, agent and NFS ready');
}
