/**
 * What people say to the run: the operator's messages (updates with validators, and the signals with the same
 * meaning), the waits they end, and the checks a Portainer confirmation runs before it is accepted.
 */
import { ApplicationFailure, condition, log, proxyActivities, setHandler } from '@temporalio/workflow';
import type { MigrationActivities } from '../activities';
import type { ResolvedPlan } from '../config/resolved-plan';
import {
  abortSignal,
  abortUpdate,
  approveDecommissionUpdate,
  confirmPortainerDeployUpdate,
  decommissionApprovedSignal,
  portainerDeployedSignal,
  reindexDoneUpdate,
  retryVerificationUpdate,
  type OperatorAction,
} from './messages';
import type { MigrationReport, OperatorRecord } from './report';
import type { StatusBoard } from './status';
import { messageOf } from './text';

/** Checks run inside a person's confirmation: bounded, so the caller gets an answer quickly. */
const boundedActs = proxyActivities<MigrationActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 2, initialInterval: '1s' },
});

/** Thrown inside the run when the operator chose `abort`; turned into an `aborted` result. */
export class AbortRequested extends Error {}

/** What people said to the run, and the waits they can end. */
export class PersonChannel {
  expectDeploy = false;
  expectReindex = false;
  deployConfirmed = false;
  reindexReported = false;
  approved = false;
  choice: 'retry' | 'abort' | undefined;
  abortRequested = false;
  confirmInProgress = false;
  waitingForChoice = false;
  waitingForApproval = false;
  deniedCtids = new Set<number>();
  lastActor = 'unknown';
  private records: Record<string, OperatorRecord> = {};

  record(what: string, action: OperatorAction): void {
    this.lastActor = action.by;
    this.records[what] = { what, by: action.by, note: action.note, at: new Date().toISOString() };
  }

  lastRecord(what: string): OperatorRecord {
    return this.records[what] ?? { what, by: this.lastActor, at: new Date().toISOString() };
  }

  async waitForChoice(announce: () => void): Promise<'retry' | 'abort'> {
    this.choice = undefined;
    this.waitingForChoice = true;
    announce();
    await condition(() => this.choice !== undefined || this.abortRequested);
    this.waitingForChoice = false;
    return this.abortRequested ? 'abort' : (this.choice ?? 'abort');
  }

  async waitForApproval(announce: () => void): Promise<void> {
    this.waitingForApproval = true;
    announce();
    await condition(() => this.approved || this.abortRequested);
    this.waitingForApproval = false;
    if (this.abortRequested) throw new AbortRequested(`aborted by ${this.lastActor}`);
  }

  async waitForReindex(announce: () => void): Promise<void> {
    announce();
    await condition(() => this.reindexReported || this.abortRequested);
    if (this.abortRequested) throw new AbortRequested(`aborted by ${this.lastActor}`);
  }
}

export function installOperatorHandlers(
  person: PersonChannel,
  board: StatusBoard,
  plan: ResolvedPlan,
  report: MigrationReport,
  publish: () => void,
  notify: (event: string, message: string) => void,
  verified: () => boolean,
): void {
  const requireActor = (a: OperatorAction) => {
    if (!a || typeof a.by !== 'string' || !a.by.trim()) throw new Error('say who you are: { "by": "<name>" }');
  };
  const notWaiting = (expected: string) => {
    const w = board.status.waitingFor;
    return new Error(
      w
        ? `the run is not waiting for ${expected}; it waits for ${w.what}: ${w.message}${w.items.length ? ` (${w.items.join('; ')})` : ''}`
        : `the run is not waiting for ${expected} (phase: ${board.status.phase})`,
    );
  };

  /** The deploy check: runs while the caller waits, so the answer says exactly what is still wrong. */
  const checkDeploy = async (action: OperatorAction): Promise<string> => {
    person.confirmInProgress = true;
    try {
      const reasons: string[] = [];
      const probe = await boundedActs.probeQdrant.executeWithOptions(
        {
          startToCloseTimeout: '30s',
          retry: { maximumAttempts: 2 },
          summary: `check Qdrant on the new VM: ${plan.qdrant.newUrl}/readyz`,
        },
        [{ url: plan.qdrant.newUrl, apiKey: plan.qdrant.apiKey, timeoutMs: 5000 }],
      );
      if (!probe.ready)
        reasons.push(`Qdrant on the new VM (${plan.qdrant.newUrl}/readyz) does not answer ready: ${probe.detail}`);
      if (plan.portainer.credentials) {
        const stack = await boundedActs.checkPortainerStack.executeWithOptions(
          {
            startToCloseTimeout: '30s',
            retry: { maximumAttempts: 2 },
            summary: `check stack ${plan.portainer.stackName} in Portainer`,
          },
          [{ portainer: plan.portainer }],
        );
        if (!stack.stackExists)
          reasons.push(
            `Portainer has no stack "${plan.portainer.stackName}" on environment "${plan.portainer.environmentName}": ${stack.detail}`,
          );
        else if (!stack.containerRunning)
          reasons.push(
            `the stack "${plan.portainer.stackName}" exists but its container is not running: ${stack.detail}`,
          );
      }
      if (reasons.length) {
        const msg = `Confirmation by ${action.by} rejected: ${reasons.join('; ')}. Fix it and confirm again; the run keeps waiting.`;
        report.operator.push({
          what: 'confirmPortainerDeploy (rejected)',
          by: action.by,
          note: msg,
          at: new Date().toISOString(),
        });
        board.setStepWaiting('Portainer deploy', msg);
        notify('rejected', msg);
        publish();
        throw ApplicationFailure.create({ message: msg, type: 'ConfirmationRejected', nonRetryable: true });
      }
      person.record('confirmPortainerDeploy', action);
      person.deployConfirmed = true;
      return 'accepted';
    } finally {
      person.confirmInProgress = false;
    }
  };
  const validateConfirm = (a: OperatorAction) => {
    requireActor(a);
    if (person.confirmInProgress)
      throw new Error('another confirmation is being checked right now; wait for its answer');
    if (person.deployConfirmed) throw new Error('the Portainer deploy was already confirmed');
    if (!person.expectDeploy) throw notWaiting('the Portainer deploy confirmation');
  };
  setHandler(confirmPortainerDeployUpdate, checkDeploy, {
    validator: validateConfirm,
    description: 'The Qdrant stack is deployed in Portainer: check it and continue.',
  });
  setHandler(portainerDeployedSignal, async (a) => {
    try {
      validateConfirm(a);
      await checkDeploy(a);
    } catch (err) {
      // Signals cannot answer: the rejection shows in the run's details and history instead.
      log.warn('portainerDeployed signal rejected', { reason: messageOf(err) });
      if (!(err instanceof ApplicationFailure))
        board.setStepWaiting('Portainer deploy', `signal rejected: ${messageOf(err)}`);
      publish();
    }
  });

  const validateApprove = (a: OperatorAction) => {
    requireActor(a);
    if (!person.waitingForApproval) throw notWaiting('decommission approval');
  };
  const approve = (a: OperatorAction) => {
    person.record('approveDecommission', a);
    person.approved = true;
    return `approved: ${board.status.waitingFor?.items.filter((i) => i.startsWith('delete')).join('; ') ?? ''}`;
  };
  setHandler(approveDecommissionUpdate, approve, {
    validator: validateApprove,
    description: 'Approve deleting the listed legacy containers.',
  });
  setHandler(decommissionApprovedSignal, (a) => {
    try {
      validateApprove(a);
      approve(a);
    } catch (err) {
      log.warn('decommissionApproved signal rejected', { reason: messageOf(err) });
    }
  });

  setHandler(
    retryVerificationUpdate,
    (a) => {
      person.record('retryVerification', a);
      person.choice = 'retry';
      return 'retrying: cutover and verification run again';
    },
    {
      validator: (a) => {
        requireActor(a);
        if (!person.waitingForChoice) throw notWaiting('a retry of the verification');
      },
      description: 'After a failed verification: redo the cutover and the verification.',
    },
  );

  const doAbort = (a: OperatorAction) => {
    person.record('abort', a);
    person.abortRequested = true;
    return verified()
      ? 'aborting: nothing is deleted, VMs are kept, the gateway stays on the verified new servers'
      : 'aborting: nothing is deleted, VMs are kept, the gateway is put back on its previous servers if the run changed it';
  };
  const validateAbort = (a: OperatorAction) => {
    requireActor(a);
    if (!board.status.waitingFor)
      throw notWaiting('a person (abort is possible while it waits for one; use cancel otherwise)');
  };
  setHandler(abortUpdate, doAbort, {
    validator: validateAbort,
    description: 'Stop the migration: restore the gateway if changed, keep VMs, delete nothing.',
  });
  setHandler(abortSignal, (a) => {
    try {
      validateAbort(a);
      doAbort(a);
    } catch (err) {
      log.warn('abort signal rejected', { reason: messageOf(err) });
    }
  });

  setHandler(
    reindexDoneUpdate,
    (a) => {
      person.record('reindexDone', a);
      person.reindexReported = true;
      return 'checking the re-indexed collections';
    },
    {
      validator: (a) => {
        requireActor(a);
        if (!person.expectReindex) throw notWaiting('a re-index report');
      },
      description: 'The producers have re-indexed into the new Qdrant.',
    },
  );
}
