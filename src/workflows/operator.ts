/**
 * What people say to the run: the operator's messages (updates with validators, and the signals with the same
 * meaning), the waits they end, and the checks a Portainer confirmation runs before it is accepted.
 */
import { ApplicationFailure, condition, log, patched, setHandler } from '@temporalio/workflow';
import { FailureType } from '../failure-types';
import { bounded, boundedHere } from './activity-proxies';
import type { ResolvedPlan } from '../config/resolved-plan';
import {
  abortSignal,
  abortUpdate,
  approveDecommissionUpdate,
  type ApproveDecommissionAction,
  confirmPortainerDeployUpdate,
  decommissionApprovedSignal,
  portainerDeployedSignal,
  reindexDoneUpdate,
  retryVerificationUpdate,
  type OperatorAction,
} from './messages';
import type { OperatorRecord } from './report';
import type { StatusBoard } from './status';
import { messageOf } from './text';

/** Marks runs whose Portainer confirmation runs its two checks side by side, as local activities. */
export const CONFIRM_CHECKS_HERE_AT_ONCE = 'confirm-checks-local-at-once';

/** Thrown inside the run when the operator chose `abort`; turned into an `aborted` result. */
export class AbortRequested extends Error {}

/** What people said to the run: plain data, carried across a continue-as-new. */
export interface PersonState {
  expectDeploy: boolean;
  expectReindex: boolean;
  deployConfirmed: boolean;
  reindexReported: boolean;
  approved: boolean;
  choice?: 'retry' | 'abort';
  abortRequested: boolean;
  waitingForChoice: boolean;
  waitingForApproval: boolean;
  /** CTs the operator chose to keep at the approval. */
  deniedCtids: number[];
  /** The CTs the approval being waited for would delete (what `keep` may name). */
  approvalCandidates?: number[];
  lastActor: string;
  records: Record<string, OperatorRecord>;
}

export function newPersonState(): PersonState {
  return {
    expectDeploy: false,
    expectReindex: false,
    deployConfirmed: false,
    reindexReported: false,
    approved: false,
    abortRequested: false,
    waitingForChoice: false,
    waitingForApproval: false,
    deniedCtids: [],
    lastActor: 'unknown',
    records: {},
  };
}

/** The one owner of what people said, and the waits they can end. */
export class PersonChannel {
  /** A deploy check in progress (not carried: a continue-as-new waits for handlers to finish first). */
  confirmInProgress = false;

  constructor(readonly state: PersonState) {}

  get lastActor(): string {
    return this.state.lastActor;
  }

  record(what: string, action: OperatorAction): void {
    this.state.lastActor = action.by;
    this.state.records[what] = { what, by: action.by, note: action.note, at: new Date().toISOString() };
  }

  lastRecord(what: string): OperatorRecord {
    return this.state.records[what] ?? { what, by: this.state.lastActor, at: new Date().toISOString() };
  }

  async waitForChoice(announce: () => void): Promise<'retry' | 'abort'> {
    this.state.choice = undefined;
    this.state.waitingForChoice = true;
    announce();
    await condition(() => this.state.choice !== undefined || this.state.abortRequested);
    this.state.waitingForChoice = false;
    return this.state.abortRequested ? 'abort' : (this.state.choice ?? 'abort');
  }

  async waitForApproval(announce: () => void): Promise<void> {
    this.state.waitingForApproval = true;
    announce();
    await condition(() => this.state.approved || this.state.abortRequested);
    this.state.waitingForApproval = false;
    this.throwIfAborted();
  }

  async waitForReindex(announce: () => void): Promise<void> {
    announce();
    await condition(() => this.state.reindexReported || this.state.abortRequested);
    this.throwIfAborted();
  }

  throwIfAborted(): void {
    if (this.state.abortRequested) throw new AbortRequested(`aborted by ${this.state.lastActor}`);
  }
}

/** What the handlers need of the run. */
export interface OperatorContext {
  readonly plan: ResolvedPlan;
  readonly board: StatusBoard;
  readonly person: PersonChannel;
  recordOperator(record: OperatorRecord): void;
  notify(event: string, message: string): void;
  gatewayVerified(): boolean;
}

export function installOperatorHandlers(run: OperatorContext): void {
  const { plan, board, person } = run;
  const state = person.state;
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
      const here = patched(CONFIRM_CHECKS_HERE_AT_ONCE);
      const checks = here ? boundedHere : bounded;
      const probeQdrant = () =>
        checks.probeQdrant.executeWithOptions(
          {
            summary: `check Qdrant on the new VM: ${plan.qdrant.newUrl}/readyz`,
          },
          [{ url: plan.qdrant.newUrl, apiKey: plan.qdrant.apiKey, timeoutMs: 5000 }],
        );
      const portainer = plan.portainer;
      const checkStack = portainer.credentials
        ? () =>
            checks.checkPortainerStack.executeWithOptions(
              {
                summary: `check stack ${portainer.stackName} in Portainer`,
              },
              [{ portainer }],
            )
        : undefined;
      // The person waits for this answer: both checks at once, in this worker. Confirmations recorded before this
      // ran them one after the other as activities, and replay that way.
      const [probe, stack] = here
        ? await Promise.all([probeQdrant(), checkStack?.()])
        : [await probeQdrant(), await checkStack?.()];
      if (!probe.ready)
        reasons.push(`Qdrant on the new VM (${plan.qdrant.newUrl}/readyz) does not answer ready: ${probe.detail}`);
      if (stack) {
        if (!stack.stackExists)
          reasons.push(
            `Portainer has no stack "${portainer.stackName}" on environment "${portainer.environmentName}": ${stack.detail}`,
          );
        else if (!stack.containerRunning)
          reasons.push(`the stack "${portainer.stackName}" exists but its container is not running: ${stack.detail}`);
      }
      if (reasons.length) {
        const msg = `Confirmation by ${action.by} rejected: ${reasons.join('; ')}. Fix it and confirm again; the run keeps waiting.`;
        run.recordOperator({
          what: 'confirmPortainerDeploy (rejected)',
          by: action.by,
          note: msg,
          at: new Date().toISOString(),
        });
        board.setStepWaiting('Portainer deploy', msg);
        run.notify('rejected', msg);
        throw ApplicationFailure.create({ message: msg, type: FailureType.ConfirmationRejected, nonRetryable: true });
      }
      person.record('confirmPortainerDeploy', action);
      state.deployConfirmed = true;
      return 'accepted';
    } finally {
      person.confirmInProgress = false;
    }
  };
  const validateConfirm = (a: OperatorAction) => {
    requireActor(a);
    if (person.confirmInProgress)
      throw new Error('another confirmation is being checked right now; wait for its answer');
    if (state.deployConfirmed) throw new Error('the Portainer deploy was already confirmed');
    if (!state.expectDeploy) throw notWaiting('the Portainer deploy confirmation');
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
    }
  });

  const validateApprove = (a: ApproveDecommissionAction) => {
    requireActor(a);
    if (!state.waitingForApproval) throw notWaiting('decommission approval');
    const candidates = state.approvalCandidates ?? [];
    const keep = a.keep ?? [];
    if (!Array.isArray(keep) || keep.some((c) => !Number.isInteger(c)))
      throw new Error('keep must be a list of CT ids, e.g. { "keep": [951] }');
    const unknown = keep.filter((c) => !candidates.includes(c));
    if (unknown.length)
      throw new Error(
        `cannot keep CT ${unknown.join(', ')}: not among the CTs this approval deletes (${candidates.join(', ') || 'none'}); nothing was approved`,
      );
  };
  const approve = (a: ApproveDecommissionAction) => {
    person.record('approveDecommission', a);
    const keep = [...new Set(a.keep ?? [])];
    state.deniedCtids = keep;
    state.approved = true;
    const deleting = (state.approvalCandidates ?? []).filter((c) => !keep.includes(c));
    return `approved: delete CT ${deleting.join(', ') || 'none'}${keep.length ? `; kept by ${a.by}: CT ${keep.join(', ')}` : ''}`;
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
      state.choice = 'retry';
      return 'retrying: cutover and verification run again';
    },
    {
      validator: (a) => {
        requireActor(a);
        if (!state.waitingForChoice) throw notWaiting('a retry of the verification');
      },
      description: 'After a failed verification: redo the cutover and the verification.',
    },
  );

  const doAbort = (a: OperatorAction) => {
    person.record('abort', a);
    state.abortRequested = true;
    return run.gatewayVerified()
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
      state.reindexReported = true;
      return 'checking the re-indexed collections';
    },
    {
      validator: (a) => {
        requireActor(a);
        if (!state.expectReindex) throw notWaiting('a re-index report');
      },
      description: 'The producers have re-indexed into the new Qdrant.',
    },
  );
}
