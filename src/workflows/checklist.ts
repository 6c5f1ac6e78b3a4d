/** The Markdown checklist shown on the run's page in the Temporal Web UI (`setCurrentDetails`), derived from the status. */
import { continueCommandFor } from './continue-commands';
import type { MigrationStatus, PhaseState, StepState } from './status';

const stepMarks: Record<StepState, string> = {
  pending: '[ ]',
  running: '[ ] ⏳ running —',
  waiting: '[ ] ✋ waiting —',
  done: '[x]',
  failed: '[ ] ❌ failed —',
  skipped: '[x] (skipped)',
};

const phaseMarks: Record<PhaseState, string> = { pending: '', running: ' ⏳', done: ' ✅', failed: ' ❌' };

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
    lines.push('', `Continue with: \`${continueCommandFor(w.what, status.workflowId)}\``);
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
