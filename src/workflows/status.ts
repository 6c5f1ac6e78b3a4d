/**
 * The run's progress as data: phases, steps, and what it waits for. Pure (the clock is passed in), so the workflow,
 * the CLI's `status`/`watch` and tests all read the same model, and the Web UI's Markdown checklist is derived from it.
 */
import { continueCommands, type WaitingFor } from './messages';

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
  /** The CLI command that continues the run. */
  command: string;
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

export class StatusBoard {
  readonly status: MigrationStatus;

  constructor(
    init: { planName: string; planDigest: string; workflowId: string; dryRun: boolean },
    private readonly now: () => Date,
  ) {
    this.status = {
      ...init,
      phase: 'Not started',
      phases: PHASES.map((name) => ({ name, status: 'pending' })),
      steps: [],
      waitingFor: null,
    };
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private phaseEntry(name: PhaseName): PhaseStatus {
    const entry = this.status.phases.find((p) => p.name === name);
    if (!entry) throw new Error(`unknown phase ${name}`);
    return entry;
  }

  startPhase(name: PhaseName): void {
    for (const p of this.status.phases) {
      if (p.status === 'running' && p.name !== name) {
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
    return step;
  }

  endStep(name: string, status: 'done' | 'failed' | 'skipped', detail?: string, error?: string): void {
    const step = this.status.steps.find((s) => s.name === name) ?? this.startStep(name);
    step.status = status;
    step.endedAt = this.stamp();
    if (detail !== undefined) step.detail = detail;
    if (error !== undefined) step.error = error;
  }

  setStepWaiting(name: string, detail: string): void {
    const step = this.status.steps.find((s) => s.name === name) ?? this.startStep(name);
    step.status = 'waiting';
    step.detail = detail;
  }

  wait(what: WaitingFor, message: string, items: string[] = []): void {
    const command = `${continueCommands[what]}${what === 'readiness' ? '' : ` --id ${this.status.workflowId}`}`;
    const since = this.status.waitingFor?.what === what ? this.status.waitingFor.since : this.stamp();
    const reminders = this.status.waitingFor?.what === what ? this.status.waitingFor.reminders : undefined;
    this.status.waitingFor = { what, since, message, command, items, ...(reminders ? { reminders } : {}) };
  }

  /** Counts a reminder for the current wait; returns how many were sent. */
  remind(): number {
    const w = this.status.waitingFor;
    if (!w) return 0;
    w.reminders = (w.reminders ?? 0) + 1;
    return w.reminders;
  }

  stopWaiting(): void {
    this.status.waitingFor = null;
  }
}

const stepMarks: Record<StepState, string> = {
  pending: '[ ]',
  running: '[ ] ⏳ running —',
  waiting: '[ ] ✋ waiting —',
  done: '[x]',
  failed: '[ ] ❌ failed —',
  skipped: '[x] (skipped)',
};

const phaseMarks: Record<PhaseState, string> = { pending: '', running: ' ⏳', done: ' ✅', failed: ' ❌' };

/** The Markdown checklist shown on the run's page in the Temporal Web UI (`setCurrentDetails`). */
export function renderChecklist(status: MigrationStatus): string {
  const lines: string[] = [];
  const title = status.dryRun ? 'Dry run' : 'Migration';
  lines.push(`### ${title} \`${status.planName}\` — ${status.phase}`);
  if (status.outcome)
    lines.push('', `**Outcome: ${status.outcome}**${status.endReason ? ` — ${status.endReason}` : ''}`);
  const w = status.waitingFor;
  if (w) {
    lines.push('', `**✋ Waiting for a person:** ${w.message}`);
    for (const item of w.items) lines.push(`- ${item}`);
    lines.push('', `Continue with: \`${w.command}\``);
    if (w.reminders) lines.push('', `_Waiting since ${w.since}; ${w.reminders} reminder(s) sent._`);
  }
  // Flat blocks (a heading line, then a top-level list): the Web UI does not render lists nested in numbered items.
  status.phases.forEach((phase, i) => {
    lines.push('', `**${i + 1}. ${phase.name}**${phaseMarks[phase.status]}`);
    const steps = status.steps.filter((s) => s.phase === phase.name);
    if (steps.length) lines.push('');
    for (const step of steps) {
      const text = step.error ?? step.detail;
      lines.push(`- ${stepMarks[step.status]} ${step.name}${text ? ` — ${text}` : ''}`);
    }
  });
  if (status.changes?.length) {
    lines.push('', '**Changes made:**');
    for (const c of status.changes) lines.push(`- ${c.split('\n')[0]}`);
  }
  lines.push('', `Plan digest: \`${status.planDigest.slice(0, 12)}\``);
  return lines.join('\n');
}
