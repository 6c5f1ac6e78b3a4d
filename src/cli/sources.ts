/**
 * `phoenix-migrate sources`: Phoenix's own sources kept in step with the cutover. Shows (and with --write applies,
 * byte-preserving, a backup beside each file) the plan's upstream rewrite in every copy of the gateway site in the
 * checkout — the committed site file and the heredoc in the LXC script — and, given a finished run (--id), removes
 * the CTs that run deleted from phoenix_lxc_configs.json without reformatting the rest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadAndResolvePlan } from '../config';
import { CHECKOUT } from '../config/phoenix-dir';
import { unifiedDiff } from '../nginx/diff';
import { gatewaySources } from '../sources/gateway-sources';
import { memberKeys, removeMembers } from '../sources/json-members';
import { writeWithBackup } from '../sources/write';
import type { MigrationReport } from '../workflows/report';
import { CliError, ExitCode, type CliIo } from './io';
import { printProblems } from './problems';
import { withRun, type ConnectionFlags } from './runs';

export interface SourcesOptions extends ConnectionFlags {
  plan: string;
  phoenixDir?: string;
  /** A finished run whose deleted CTs leave the LXC config. */
  id?: string;
  write?: boolean;
}

interface FileChange {
  file: string;
  relative: string;
  before: string;
  after: string;
  what: string;
}

export async function runSources(opts: SourcesOptions, io: CliIo): Promise<number> {
  const resolved = loadAndResolvePlan(opts.plan, opts.phoenixDir !== undefined ? { phoenixDir: opts.phoenixDir } : {});
  if (!resolved.ok) {
    printProblems(resolved.problems, io);
    return ExitCode.badInput;
  }
  const { plan } = resolved;
  const dir = plan.phoenixSources?.dir;
  if (dir === undefined)
    throw new CliError(
      `the plan ${opts.plan} names no Phoenix checkout`,
      'pass --phoenix-dir DIR (your copy of /usr/local/phoenix_hypervisor), or set phoenix.dir in the plan',
      ExitCode.badInput,
    );

  const found = gatewaySources(dir, plan.gateway);
  for (const note of found.notes) io.err(`note: ${note}`);
  if (found.errors.length > 0) {
    for (const e of found.errors) io.err(`refused: ${e}`);
    io.err(`${found.errors.length} source(s) cannot be rewritten safely: nothing was written`);
    return ExitCode.badInput;
  }
  const changes: FileChange[] = found.edits.map((e) => ({
    file: e.file,
    relative: e.relative,
    before: e.before,
    after: e.after,
    what: e.sources
      .map(
        (s) =>
          `${s.kind} line ${s.line}: ${plan.gateway.upstream} ${s.servers.join(', ')} → ${plan.gateway.newServers.join(', ')}`,
      )
      .join('; '),
  }));
  for (const s of found.sources.filter((x) => !found.edits.some((e) => e.sources.includes(x))))
    io.out(
      `${s.relative} (${s.kind}, line ${s.line}) already routes ${plan.gateway.upstream} to ${s.servers.join(', ')}`,
    );

  if (opts.id !== undefined) {
    const lxc = await deletedCtsChange(opts, dir, io);
    if (lxc) changes.push(lxc);
  }

  if (changes.length === 0) {
    io.out(`Phoenix's sources in ${dir} are in step with the plan: nothing to change`);
    return ExitCode.ok;
  }
  for (const c of changes) {
    io.out(`# ${c.what}`);
    io.out(unifiedDiff(c.before, c.after, `a/${c.relative}`, `b/${c.relative}`));
  }
  if (!opts.write) {
    io.out(`nothing was written; apply with: --write (a backup is kept beside each file)`);
    return ExitCode.ok;
  }
  for (const c of changes) {
    // The file may have changed since we read it (an editor, a git pull): never overwrite what we did not see.
    if (fs.readFileSync(c.file, 'utf8') !== c.before)
      throw new CliError(`${c.file} changed while we read it`, 'run the command again', ExitCode.failed);
    const backup = writeWithBackup(c.file, c.after);
    io.out(`wrote ${c.relative} (backup ${path.relative(dir, backup)})`);
  }
  return ExitCode.ok;
}

/** The LXC config without the CTs the run deleted (those still listed), as a change; undefined when none is listed. */
async function deletedCtsChange(opts: SourcesOptions, dir: string, io: CliIo): Promise<FileChange | undefined> {
  // the run named by --id alone: the plan here is the one whose sources we edit, not a way to name the run
  const run = { id: opts.id, profile: opts.profile, address: opts.address, namespace: opts.namespace };
  const report = await withRun(run, async (handle, { workflowId }) => {
    const state = (await handle.describe()).status.name;
    if (state !== 'COMPLETED')
      throw new CliError(
        `run ${workflowId} has not completed (it is ${state.toLowerCase()})`,
        'pass --id of a completed run: only its deletions are certain',
        ExitCode.conflict,
      );
    return (await handle.result()) as MigrationReport;
  });
  const deleted = report.decommission.deleted;
  const file = path.join(dir, CHECKOUT.lxcConfigs);
  const relative = CHECKOUT.lxcConfigs;
  let before: string;
  try {
    before = fs.readFileSync(file, 'utf8');
    JSON.parse(before);
  } catch (err) {
    throw new CliError(
      `${file} cannot be read as JSON: ${(err as Error).message}`,
      'fix the file first',
      ExitCode.badInput,
    );
  }
  const listed = new Set(memberKeys(before, ['lxc_configs']) ?? []);
  const toRemove = deleted.map(String).filter((k) => listed.has(k));
  if (deleted.length === 0) io.out(`run ${opts.id} deleted no CT`);
  else if (toRemove.length === 0)
    io.out(`${relative} lists none of the CTs run ${opts.id} deleted (${deleted.join(', ')})`);
  if (toRemove.length === 0) return undefined;
  const r = removeMembers(before, ['lxc_configs'], toRemove);
  if (!r.ok) throw new CliError(`${file}: ${r.error}`, 'the file needs an "lxc_configs" object', ExitCode.badInput);
  return { file, relative, before, after: r.text, what: `CTs deleted by ${opts.id}: ${toRemove.join(', ')}` };
}
