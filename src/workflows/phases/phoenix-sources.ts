/**
 * After the verified cutover (plan `sources.write`): Phoenix's own gateway sources in the checkout get the upstream
 * rewrite too, so the next converge of the gateway CT cannot put the legacy Qdrant back. Not a gate: what the worker
 * cannot write is reported with the command that finishes it, and the run goes on.
 */
import { quick } from '../activity-proxies';
import type { MigrationRun } from '../run';

export async function keepPhoenixSourcesInStep(run: MigrationRun): Promise<void> {
  const { plan, report } = run;
  const sources = plan.phoenixSources;
  if (!sources?.write || run.dryRun || !report.phoenixSources || sources.stale.length === 0) return;
  const { ctid, siteFile, upstream, newServers } = plan.gateway;
  const result = await run.step(
    "Phoenix's gateway sources in step",
    () =>
      quick.updatePhoenixSources.executeWithOptions(
        { summary: `rewrite ${upstream} in ${sources.stale.map((s) => s.file).join(', ')}` },
        [{ dir: sources.dir, gateway: { ctid, siteFile, upstream, newServers } }],
      ),
    (r) =>
      [
        r.updated.length ? `updated ${r.updated.map((u) => `${u.file} (backup ${u.backup})`).join(', ')}` : '',
        r.notWritten.length ? `not written: ${r.notWritten.join('; ')}` : '',
      ]
        .filter(Boolean)
        .join('; ') || 'already in step',
  );
  const updated = new Set(result.updated.map((u) => u.file));
  report.phoenixSources = {
    ...report.phoenixSources,
    stillToUpdate: report.phoenixSources.stillToUpdate.filter((s) => ![...updated].some((f) => s.startsWith(`${f} `))),
    updated: result.updated.map((u) => `${u.file} (backup ${u.backup})`),
    ...(result.notWritten.length ? { notWritten: result.notWritten } : {}),
  };
  for (const u of result.updated)
    report.changes.push(`Phoenix source ${u.file}: ${upstream} → ${newServers.join(', ')}`);
}
