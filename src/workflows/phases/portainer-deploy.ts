/**
 * Phase 4b: the Qdrant stack in Portainer. A person deploys it and confirms (the confirmation is checked by the
 * operator handlers), reminded every `remindEvery` until `deployTimeout`; in `api` mode the run deploys it itself.
 */
import { ApplicationFailure, condition, log, sleep } from '@temporalio/workflow';
import type { ResolvedPlan } from '../../config/resolved-plan';
import { FailureType } from '../../failure-types';
import { long, quick } from '../activity-proxies';
import type { MigrationRun } from '../run';
import { formatMs, formatRemaining } from '../text';

const STEP = 'Portainer deploy';

export async function waitForManualDeploy(run: MigrationRun): Promise<void> {
  const { plan, board, person } = run;
  const { deployTimeoutMs, remindEveryMs } = plan.timings;
  const state = person.state;
  const message = deployInstructions(plan);
  const deadline = run.deadline('portainer-deploy', deployTimeoutMs);
  const waitStarted = deadline - deployTimeoutMs;
  if (!state.expectDeploy) run.notify('waiting', message, 'portainer-deploy');
  state.expectDeploy = true;
  board.setStepWaiting(STEP, 'waiting for the manual deploy');
  board.wait('portainer-deploy', message);
  while (!state.deployConfirmed) {
    if (Date.now() >= deadline)
      throw ApplicationFailure.nonRetryable(
        `Nobody confirmed the Portainer deploy within ${formatMs(deployTimeoutMs)}; nothing downstream was changed (gateway and legacy CTs untouched, VMs kept). Deploy the stack, then start the run again: it converges on what exists.`,
        FailureType.DeployTimeout,
      );
    // Reminders at fixed times from the start of the wait, so a continued run keeps the same rhythm.
    const nextReminder = waitStarted + ((board.status.waitingFor?.reminders ?? 0) + 1) * remindEveryMs;
    const wakeAt = Math.min(deadline, nextReminder);
    await condition(() => state.deployConfirmed || state.abortRequested, Math.max(1, wakeAt - Date.now()));
    person.throwIfAborted();
    if (!state.deployConfirmed && Date.now() >= nextReminder && Date.now() < deadline) remind(run, message, deadline);
    if (!state.deployConfirmed) await run.continueAsNewIfDue();
  }
  state.expectDeploy = false;
  board.stopWaiting();
  board.endStep(STEP, 'done', `confirmed by ${person.lastActor}`);
  run.recordOperator(person.lastRecord('confirmPortainerDeploy'));
}

function remind(run: MigrationRun, message: string, deadline: number): void {
  const n = run.board.remind();
  log.info('still waiting for the Portainer deploy', { waitingSince: run.board.status.waitingFor?.since, reminder: n });
  run.notify(
    'reminder',
    `Still waiting (reminder ${n}, ${formatRemaining(deadline - Date.now())} left): ${message}`,
    'portainer-deploy',
  );
}

/** What the person does in Portainer, in Portainer's own words. */
export function deployInstructions(plan: ResolvedPlan): string {
  const composeFile = plan.composeFiles[plan.portainer.composeFileIndex];
  // Portainer CE has no "stack from a file on the server": the web editor or an upload is how the file gets in.
  const agent = plan.portainer.agentUrl.replace(/^tcp:\/\//, '');
  return (
    `In Portainer (${plan.portainer.url}): (1) unless it is listed already, Environments → Add environment → Docker Standalone → Agent, ` +
    `name "${plan.portainer.environmentName}", environment address ${agent}; (2) in that environment, Stacks → Add stack ` +
    `"${plan.portainer.stackName}": Web editor with the content of ${composeFile?.guestPath ?? 'the compose file'} ` +
    `(on the Portainer VM's share; ${composeFile?.hostPath ?? ''} on the Proxmox host), or Upload that file; Deploy the stack. Then confirm.`
  );
}

/** `api` mode: the run deploys the stack itself, then waits (bounded) until Qdrant answers on the new VM. */
export async function deployStackByApi(run: MigrationRun): Promise<void> {
  const { portainer, composeFiles } = run.plan;
  await run.step(
    STEP,
    () =>
      long.ensurePortainerDeployment.executeWithOptions(
        { summary: `Portainer stack ${portainer.stackName} on ${portainer.environmentName}` },
        [{ portainer, composeContent: composeFiles[portainer.composeFileIndex].content }],
      ),
    (r) => r.changes.join('; ') || 'already deployed',
  );
  await run.step(
    'Qdrant answers on the new VM',
    () => waitForQdrant(run),
    (p) => p.detail,
  );
}

// The container runs; Qdrant must also answer before clients are moved to it. Bounded like the manual wait: a stack
// that never answers fails the run before anything downstream changes.
async function waitForQdrant(run: MigrationRun): Promise<{ ready: boolean; detail: string }> {
  const { qdrant, timings } = run.plan;
  const deadline = run.deadline('qdrant-answers', timings.deployTimeoutMs);
  for (;;) {
    const probe = await quick.probeQdrant.executeWithOptions({ summary: `probe ${qdrant.newUrl}/readyz` }, [
      { url: qdrant.newUrl, apiKey: qdrant.apiKey, timeoutMs: 5000 },
    ]);
    if (probe.ready) return probe;
    if (Date.now() >= deadline) {
      throw ApplicationFailure.nonRetryable(
        `Qdrant on the new VM (${qdrant.newUrl}/readyz) did not answer ready within ${formatMs(timings.deployTimeoutMs)} after the Portainer deploy (last: ${probe.detail}); nothing downstream was changed. Check the stack's container logs in Portainer, then start the run again.`,
        FailureType.DeployTimeout,
      );
    }
    await sleep(Math.min(timings.soakProbeEveryMs, Math.max(1, deadline - Date.now())));
    await run.continueAsNewIfDue();
  }
}
