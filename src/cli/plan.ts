/**
 * `phoenix-migrate plan`: a dry run of the real workflow on live state — every read, check and preflight, zero
 * changes, human waits listed instead of awaited — printed as the changes each phase would make.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { PHASES } from '../workflows/status';
import type { MigrationReport } from '../workflows/report';
import { ExitCode, type CliIo } from './io';
import { causeMessage, connect, type ConnectionFlags } from './runs';
import { runStart } from './runs';

export async function runPlan(opts: ConnectionFlags & { plan: string; json?: boolean }, io: CliIo): Promise<number> {
  const id = `plan-${Date.now()}`;
  const quiet: CliIo = { out: () => {}, err: io.err };
  const started = await runStart({ ...opts, dryRun: true, id }, quiet);
  if (started !== ExitCode.ok) return started;
  const { client, close } = await connect(opts);
  try {
    const report = (await client.workflow.getHandle(id).result()) as MigrationReport;
    if (opts.json) io.out(JSON.stringify(report, null, 2));
    else io.out(renderPlan(report));
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      io.err(`the dry run found problems: ${causeMessage(err)}`);
      return ExitCode.failed;
    }
    throw err;
  } finally {
    await close();
  }
}

export function renderPlan(report: MigrationReport): string {
  const lines = [
    `Dry run of plan ${report.planName} (digest ${report.planDigest.slice(0, 12)}): no changes were made.`,
  ];
  PHASES.forEach((phase, i) => {
    lines.push('', `${i + 1}. ${phase}`);
    const steps = report.steps.filter((s) => s.phase === phase);
    if (!steps.length) lines.push('   (nothing to do)');
    for (const s of steps) lines.push(`   - ${s.name}: ${s.detail ?? s.status}`);
  });
  if (report.decommission.refused.length)
    lines.push('', 'Would keep:', ...report.decommission.refused.map((r) => `   - ${r.reason}`));
  if (report.needsPerson.length) lines.push('', 'Needs a person here:', ...report.needsPerson.map((n) => `   - ${n}`));
  lines.push(
    '',
    'Changes a real run would make:',
    ...(report.changes.length
      ? report.changes.map((c) => `   * ${c}`)
      : ['   (none: the world already matches the plan)']),
  );
  return lines.join('\n');
}
