/**
 * One migration run: its state (one serializable RunState, each part with one owner), the step and phase helpers
 * the runbook is written with, notifications, continue-as-new, and the ways out (completed, aborted, cancelled,
 * failed) with the end-state rule of docs/end-states.md.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  makeContinueAsNewFunc,
  isCancellation,
  log,
  setCurrentDetails,
  patched,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { LegacyGuest, MigrationInput, ResolvedPlan } from '../config/resolved-plan';
import { FailureType } from '../failure-types';
import { notifying } from './activity-proxies';
import { renderChecklist } from './checklist';
import { GatewayCutover, newGatewayState } from './gateway-cutover';
import { statusQuery } from './messages';
import {
  AbortRequested,
  installOperatorHandlers,
  newPersonState,
  PersonChannel,
  type OperatorContext,
} from './operator';
import { newReport, type MigrationReport, type OperatorRecord, type RunReport } from './report';
import type { RunState } from './run-state';
import { MigrationPhaseKey, PlanNameKey } from './search-attributes';
import { stepRunner, type StepRunner } from './steps';
import {
  newStatus,
  StatusBoard,
  type MigrationStatus,
  type Outcome,
  type PhaseName,
  PHASES,
  type WaitingFor,
} from './status';
import { allOrFirstFailure, messageOf } from './text';

export class MigrationRun implements OperatorContext {
  readonly plan: ResolvedPlan;
  readonly dryRun: boolean;
  readonly board: StatusBoard;
  readonly person: PersonChannel;
  readonly gateway: GatewayCutover;
  readonly report: RunReport;
  readonly step: StepRunner;
  private readonly done: Set<string>;
  private readonly marks: Record<string, number>;
  private readonly runNumber: number;
  private pinnedLegacy: LegacyGuest[] | undefined;
  private readonly pendingNotifications: Promise<unknown>[] = [];

  constructor(private readonly input: MigrationInput) {
    const { plan, digest } = input;
    this.plan = plan;
    this.dryRun = input.dryRun ?? false;
    const workflowId = workflowInfo().workflowId;
    const state: RunState = input.resume ?? {
      status: newStatus({ planName: plan.name, planDigest: digest, workflowId, dryRun: this.dryRun }),
      report: newReport(plan, digest, this.dryRun),
      person: newPersonState(),
      gateway: newGatewayState(),
      done: [],
      marks: {},
      runNumber: 0,
    };
    this.runNumber = state.runNumber + 1;
    this.done = new Set(state.done);
    this.marks = { ...state.marks };
    this.pinnedLegacy = state.legacy;
    this.report = state.report;
    const publish = publisher();
    this.board = new StatusBoard(state.status, () => new Date(), publish);
    this.step = stepRunner(this.board);
    this.person = new PersonChannel(state.person);
    this.gateway = new GatewayCutover(state.gateway, plan, this.dryRun, this.step, this.report.changes);

    // Handlers first: a message that arrives before they exist would be lost (signals) or rejected (updates).
    setHandler(statusQuery, () => this.board.status);
    installOperatorHandlers(this);
    upsertSearchAttributes([{ key: PlanNameKey, value: plan.name }]);
    publish(this.board.status, true);
    if (input.resume) log.info('continued as new', { run: this.runNumber, phase: this.board.status.phase });
  }

  /** Runs a phase of the runbook, unless an earlier run of this migration finished it. */
  async phase(name: PhaseName, body: () => Promise<void>, { beside = false } = {}): Promise<void> {
    if (this.done.has(name)) return;
    this.board.startPhase(name, { beside });
    await body();
    this.done.add(name);
  }

  /**
   * Runs two phases that need nothing of each other side by side: the second starts as the first does and becomes
   * the current phase; the first ends when its body does. Both settle before either's failure is raised, so nothing
   * is left running behind a failed phase. A step is labelled with the phase current when it starts: the first phase
   * must start its steps before its first await (Phase 2 has one step), or they show under the second.
   */
  async phasesBeside(first: [PhaseName, () => Promise<void>], second: [PhaseName, () => Promise<void>]): Promise<void> {
    const [firstName, firstBody] = first;
    const ran = this.phase(firstName, firstBody).then(() => this.board.endPhase(firstName));
    await allOrFirstFailure([ran, this.phase(second[0], second[1], { beside: !this.done.has(firstName) })]);
  }

  /** Runs a step that must happen once per migration, also across continue-as-new (e.g. a wait that was passed). */
  async once(key: string, body: () => Promise<void>): Promise<void> {
    if (this.done.has(key)) return;
    await body();
    this.done.add(key);
  }

  /** The deadline of a wait, fixed when the wait first starts and kept across continue-as-new. */
  deadline(key: string, lastsMs: number): number {
    this.marks[`${key}.deadline`] ??= Date.now() + lastsMs;
    return this.marks[`${key}.deadline`];
  }

  /** A number a wait keeps across continue-as-new (a count, a reading taken when the wait began). */
  mark(key: string, value?: number): number | undefined {
    if (value !== undefined) this.marks[key] = value;
    return this.marks[key];
  }

  /** Forgets a wait's marks, so doing it again starts afresh (e.g. a soak after a retried verification). */
  forget(prefix: string): void {
    for (const key of Object.keys(this.marks)) if (key.startsWith(prefix)) delete this.marks[key];
  }

  /**
   * The legacy guests this run retires: as preflight pinned them from the node (a name the plan leaves out, one volume
   * decision per mount point), else — runs recorded before pinning existed — as the plan lists them.
   */
  get legacyGuests(): LegacyGuest[] {
    return this.pinnedLegacy ?? this.plan.legacyGuests;
  }

  pinLegacyGuests(guests: LegacyGuest[]): void {
    this.pinnedLegacy = guests;
  }

  /** A webhook POST (plan `notify`); a notice that asks a person something names the wait, as the memo does. */
  notify(event: string, message: string, waitingFor?: WaitingFor): void {
    if (!this.plan.notify || this.dryRun) return;
    const { webhookUrlEnv } = this.plan.notify;
    const { workflowId } = workflowInfo();
    const phase = this.board.status.phase;
    const notice = {
      event,
      message,
      workflowId,
      planName: this.plan.name,
      phase,
      ...(waitingFor ? { waitingFor } : {}),
    };
    this.pendingNotifications.push(
      notifying
        .notify({ webhookUrlEnv, event: notice })
        .catch((err) => log.warn('notification not delivered', { event, error: String(err) })),
    );
  }

  recordOperator(record: OperatorRecord): void {
    this.report.operator.push(record);
  }

  gatewayVerified(): boolean {
    return this.gateway.verified;
  }

  /**
   * Called by every wait that can last hours, at each wake-up: when the history has grown long (the server suggests
   * it, or the input's test limit is reached), this run hands its state to a fresh one and ends.
   */
  async continueAsNewIfDue(): Promise<void> {
    const info = workflowInfo();
    const limit = this.input.continueAsNewAfterEvents;
    if (!info.continueAsNewSuggested && !(limit && info.historyLength >= limit)) return;
    await this.settleNotifications();
    await condition(allHandlersFinished);
    // The next run keeps this one's workflow task timeout (the SDK would otherwise fall back to the server's).
    const next = makeContinueAsNewFunc<(input: MigrationInput) => Promise<MigrationReport>>({
      workflowTaskTimeout: info.taskTimeoutMs,
    });
    await next({ ...this.input, resume: this.snapshot() });
  }

  snapshot(): RunState {
    return {
      status: this.board.status,
      report: this.report,
      person: this.person.state,
      gateway: this.gateway.state,
      done: [...this.done],
      marks: this.marks,
      runNumber: this.runNumber,
      ...(this.pinnedLegacy ? { legacy: this.pinnedLegacy } : {}),
    };
  }

  async finish(outcome: Outcome, endReason?: string): Promise<MigrationReport> {
    this.board.status.changes = this.report.changes;
    this.board.finishPhases(outcome, endReason);
    const event = outcome === 'completed' || outcome === 'dry-run' ? 'completed' : outcome;
    this.notify(event, endReason ?? `Migration ${this.plan.name}: ${outcome}`);
    await this.settleNotifications();
    await condition(allHandlersFinished);
    return this.result(outcome, endReason);
  }

  /** Every way out but success: the gateway rule first, then the outcome the operator sees. */
  async endAfter(err: unknown): Promise<MigrationReport> {
    if (err instanceof ContinueAsNew) throw err;
    if (err instanceof AbortRequested) {
      await this.gateway.restoreOrReport('aborted');
      return await this.finish('aborted', `${err.message}; ${this.endState()}`);
    }
    if (isCancellation(err)) {
      await this.gateway.restoreOrReport('cancelled');
      const reason = `the run was cancelled; ${this.endState()}`;
      this.board.status.changes = this.report.changes;
      this.board.finishPhases('cancelled', reason);
      await CancellationScope.nonCancellable(async () => {
        this.notify('cancelled', reason);
        await this.settleNotifications();
      });
      throw err;
    }
    await this.gateway.restoreOrReport('failed');
    const reason = messageOf(err);
    this.board.status.changes = this.report.changes;
    this.board.finishPhases('failed', reason);
    this.notify('failed', reason);
    await this.settleNotifications();
    throw ApplicationFailure.nonRetryable(
      `Migration ${this.plan.name} failed: ${reason}`,
      FailureType.MigrationFailed,
      this.result('failed', `${reason}; ${this.endState()}`),
    );
  }

  /** One line for every way out: what stays, what was put back, what was deleted. */
  endState(): string {
    const vms = this.report.vms.filter((v) => v.created || v.changes.length).map((v) => v.vmid);
    const deleted = this.report.decommission.deleted;
    return [
      vms.length ? `VMs ${vms.join(', ')} kept` : 'no VM created',
      this.gateway.endState(),
      deleted.length ? `deleted CT ${deleted.join(', ')}` : 'nothing deleted',
    ].join('; ');
  }

  private result(outcome: Outcome, endReason?: string): MigrationReport {
    const { phases, steps } = this.board.status;
    return { ...this.report, outcome, endReason, phases, steps, gateway: this.gateway.report() };
  }

  private async settleNotifications(): Promise<void> {
    await Promise.allSettled(this.pendingNotifications.splice(0));
  }
}

/** Marks runs that keep what they wait for in their memo; runs recorded before it replay without those upserts. */
export const WAITING_FOR_MEMO = 'waiting-for-in-memo';

/**
 * The board's listener: the Web UI checklist on every change, the phase search attribute when the phase moves, and
 * the memo's `waitingFor` when the run starts or stops waiting for someone — which a list of runs (the Web UI, `temporal
 * workflow list`, a fleet's person) shows without a query: every query is a turn of the worker's workflow thread,
 * and a query a second per run starved a fleet's workflow tasks (BENCHMARKS.md).
 */
function publisher(): (status: MigrationStatus, phaseChanged: boolean) => void {
  let published: string | null | undefined;
  return (status, phaseChanged) => {
    setCurrentDetails(renderChecklist(status));
    const phase = (PHASES as readonly string[]).includes(status.phase) ? status.phase : undefined;
    if (phaseChanged && phase) upsertSearchAttributes([{ key: MigrationPhaseKey, value: phase }]);
    const waitingFor = status.waitingFor?.what ?? null;
    // A fresh run waits for nothing: no upsert until it does. A continued run says again what it waits for.
    if (waitingFor !== (published ?? null) && patched(WAITING_FOR_MEMO)) upsertMemo({ waitingFor });
    published = waitingFor;
  };
}
