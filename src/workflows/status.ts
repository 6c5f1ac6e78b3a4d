/**
 * The run's progress as data: phases, steps, and what it waits for. Pure (the clock and the change listener are passed
 * in), so the workflow, the CLI's `status`/`watch` and tests all read the same model; the Web UI's Markdown checklist
 * (checklist.ts) is derived from it. It holds no CLI command strings: those are the CLI's (continue-commands.ts).
 */

/** What the run is waiting for a person to do. */
export type WaitingFor =
  'readiness' | 'portainer-deploy' | 'operator-choice-after-failed-verification' | 'reindex' | 'decommission-approval';

/**
 * A wait no command answers: the run re-checks the world by itself until it is right (the person fixes what is
 * listed). Every other wait ends only with a person's answer.
 */
export function endsByItself(what: WaitingFor): boolean {
  return what === 'readiness';
}

export const PHASES = [
  'Declarative Configuration',
  'Orchestrator and File Preparation',
  'Infrastructure Provisioning',
  'Application Deployment and Cutover',
  'Verification and Decommissioning',
] as const;
export type PhaseName = (typeof PHASES)[number];

export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'waiting' | 'skipped';
export type PhaseState = 'pending' | 'running' | 'done' | 'failed';
export type Outcome = 'completed' | 'failed' | 'aborted' | 'cancelled' | 'dry-run';

export interface StepStatus {
  name: string;
  phase: PhaseName;
  status: StepState;
  startedAt?: string;
  endedAt?: string;
  detail?: string;
  error?: string;
}

export interface PhaseStatus {
  name: PhaseName;
  status: PhaseState;
  startedAt?: string;
  endedAt?: string;
}

export interface Waiting {
  what: WaitingFor;
  since: string;
  /** What the person should do, in words. */
  message: string;
  /** Open items (readiness problems, the guests about to be deleted, …). */
  items: string[];
  /** Reminders sent so far for this wait (one every `remindEvery`). */
  reminders?: number;
}

export interface MigrationStatus {
  planName: string;
  planDigest: string;
  workflowId: string;
  dryRun: boolean;
  phase: PhaseName | 'Not started' | 'Finished';
  phases: PhaseStatus[];
  steps: StepStatus[];
  waitingFor: Waiting | null;
  outcome?: Outcome;
  /** Set when the run ended without completing: the reason in the operator's words. */
  endReason?: string;
  /** Set when the run ended: every change made (the report's `changes`), also for a cancelled run, which has no result. */
  changes?: string[];
}

export function newStatus(init: {
  planName: string;
  planDigest: string;
  workflowId: string;
  dryRun: boolean;
}): MigrationStatus {
  return {
    ...init,
    phase: 'Not started',
    phases: PHASES.map((name) => ({ name, status: 'pending' })),
    steps: [],
    waitingFor: null,
  };
}

/**
 * The one owner of the run's status. Every change goes through a method, and every method tells the listener once
 * it is done — so whoever shows the status (the Web UI checklist, the phase search attribute) never needs a
 * hand-placed "publish" call.
 */
export class StatusBoard {
  constructor(
    readonly status: MigrationStatus,
    private readonly now: () => Date,
    private readonly changed: (status: MigrationStatus, phaseChanged: boolean) => void = () => {},
  ) {}

  private stamp(): string {
    return this.now().toISOString();
  }

  private phaseEntry(name: PhaseName): PhaseStatus {
    const entry = this.status.phases.find((p) => p.name === name);
    if (!entry) throw new Error(`unknown phase ${name}`);
    return entry;
  }

  /** Starts a phase and ends the one running, unless the new one runs `beside` it (then each ends by `endPhase`). */
  startPhase(name: PhaseName, { beside = false } = {}): void {
    const moved = this.status.phase !== name;
    for (const p of this.status.phases) {
      if (!beside && p.status === 'running' && p.name !== name) {
        p.status = 'done';
        p.endedAt = this.stamp();
      }
    }
    const entry = this.phaseEntry(name);
    if (entry.status !== 'running') {
      entry.status = 'running';
      entry.startedAt ??= this.stamp();
    }
    this.status.phase = name;
    this.changed(this.status, moved);
  }

  /** Ends a phase that ran beside another; the other stays the current phase. */
  endPhase(name: PhaseName): void {
    const entry = this.phaseEntry(name);
    if (entry.status !== 'running' || this.status.phase === name) return;
    entry.status = 'done';
    entry.endedAt = this.stamp();
    this.changed(this.status, false);
  }

  finishPhases(outcome: Outcome, endReason?: string): void {
    for (const p of this.status.phases) {
      if (p.status === 'running') {
        p.status = outcome === 'completed' || outcome === 'dry-run' ? 'done' : 'failed';
        p.endedAt = this.stamp();
      }
    }
    this.status.outcome = outcome;
    this.status.endReason = endReason;
    this.status.phase = 'Finished';
    this.status.waitingFor = null;
    this.changed(this.status, true);
  }

  /** Starts a step (or restarts one with the same name, e.g. when verification is retried). */
  startStep(name: string, detail?: string): StepStatus {
    const phase = this.status.phase;
    if (phase === 'Not started' || phase === 'Finished') throw new Error(`step ${name} outside a phase`);
    let step = this.status.steps.find((s) => s.name === name);
    if (!step) {
      step = { name, phase, status: 'running' };
      this.status.steps.push(step);
    }
    Object.assign(step, { status: 'running', startedAt: this.stamp(), endedAt: undefined, error: undefined, detail });
    this.changed(this.status, false);
    return step;
  }

  endStep(name: string, status: 'done' | 'failed' | 'skipped', detail?: string, error?: string): void {
    const step = this.status.steps.find((s) => s.name === name) ?? this.startStep(name);
    step.status = status;
    step.endedAt = this.stamp();
    if (detail !== undefined) step.detail = detail;
    if (error !== undefined) step.error = error;
    this.changed(this.status, false);
  }

  setStepWaiting(name: string, detail: string): void {
    const step = this.status.steps.find((s) => s.name === name) ?? this.startStep(name);
    step.status = 'waiting';
    step.detail = detail;
    this.changed(this.status, false);
  }

  wait(what: WaitingFor, message: string, items: string[] = []): void {
    const since = this.status.waitingFor?.what === what ? this.status.waitingFor.since : this.stamp();
    const reminders = this.status.waitingFor?.what === what ? this.status.waitingFor.reminders : undefined;
    this.status.waitingFor = { what, since, message, items, ...(reminders ? { reminders } : {}) };
    this.changed(this.status, false);
  }

  /** Counts a reminder for the current wait; returns how many were sent. */
  remind(): number {
    const w = this.status.waitingFor;
    if (!w) return 0;
    w.reminders = (w.reminders ?? 0) + 1;
    this.changed(this.status, false);
    return w.reminders;
  }

  stopWaiting(): void {
    this.status.waitingFor = null;
    this.changed(this.status, false);
  }
}
