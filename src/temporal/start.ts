/**
 * Starting a migration run, the same way everywhere (CLI, lab, benchmarks, tests): the workflow id derived from the
 * plan name, the search attributes the UI filters on, and the summary and details shown on the run's page.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { MigrationInput } from '../config/resolved-plan';
import { MigrationPhaseKey, PlanNameKey } from '../workflows/search-attributes';
import { TASK_QUEUE } from './connection';

export function workflowIdFor(planName: string): string {
  return `migration-${planName}`;
}

/** What the Temporal Web UI shows for the run before it has done anything (`staticSummary` / `staticDetails`). */
export function runMetadata(input: MigrationInput, note?: string): { staticSummary: string; staticDetails: string } {
  const { plan, digest } = input;
  return {
    staticSummary: `${input.dryRun ? 'Dry run' : 'Migration'} ${plan.name}: Qdrant → VM ${plan.vms.map((v) => v.vmid).join('/')}`,
    staticDetails: [
      `**Plan** \`${plan.name}\` — digest \`${digest}\``,
      `**Targets**: ${plan.vms.map((v) => `VM ${v.vmid} ${v.name} (${v.ip})`).join(', ')}`,
      `**Gateway**: CT ${plan.gateway.ctid} upstream \`${plan.gateway.upstream}\` → ${plan.gateway.newServers.join(', ')}`,
      `**Legacy to decommission**: ${plan.legacyGuests.map((g) => `CT ${g.ctid} ${g.name ?? '(name pinned at preflight)'}`).join(', ')}`,
      ...(note ? [note] : []),
    ].join('\n\n'),
  };
}

/** The workflow task timeout of every run (and, carried by continue-as-new, of the runs after it). */
export const WORKFLOW_TASK_TIMEOUT = '5s';

export function startMigration(
  client: Client,
  input: MigrationInput,
  opts: { workflowId?: string; taskQueue?: string; note?: string } = {},
): Promise<WorkflowHandle> {
  return client.workflow.start('migration', {
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    workflowId: opts.workflowId ?? workflowIdFor(input.plan.name),
    args: [input],
    // A workflow task held by a worker that died is retried elsewhere after this (the server's default is 10 s); our
    // workflow tasks take milliseconds, so 5 s is wide and halves the cost of a crash (BENCHMARKS.md: "Heartbeats").
    workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
    typedSearchAttributes: [
      { key: PlanNameKey, value: input.plan.name },
      { key: MigrationPhaseKey, value: 'Not started' },
    ],
    ...runMetadata(input, opts.note),
  });
}
