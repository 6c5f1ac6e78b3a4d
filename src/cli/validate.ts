/**
 * `phoenix-migrate validate`: checks a plan (and the Phoenix files it names) or Phoenix's two config files alone,
 * listing every problem. Exit 0 when valid (warnings printed), 2 when not.
 */
import path from 'node:path';
import { loadAndResolvePlan, validatePhoenixConfigs, type Problem } from '../config';
import { phoenixFiles } from '../config/phoenix-dir';
import { ExitCode, type CliIo } from './io';
import { formatProblem, rankedLines, strictWarnings } from './problems';

export { formatProblem };

export interface ValidateOptions {
  plan?: string;
  vmConfigs?: string;
  lxcConfigs?: string;
  strict?: boolean;
  /** A copy of the Phoenix checkout: `/usr/local/phoenix_hypervisor/…` paths resolve inside it. */
  phoenixDir?: string;
  json?: boolean;
}

export async function runValidate(opts: ValidateOptions, io: CliIo): Promise<number> {
  if (opts.plan !== undefined && (opts.vmConfigs !== undefined || opts.lxcConfigs !== undefined)) {
    // Silently ignoring them would validate other files than the person thinks.
    io.err(
      `validate: ${opts.vmConfigs !== undefined ? '--vm-configs' : '--lxc-configs'} cannot be used with --plan: the plan names its Phoenix configs (phoenix.vmConfigs, phoenix.lxcConfigs)`,
    );
    io.err('hint: drop it and fix the paths in the plan, or validate the configs alone without --plan');
    return ExitCode.badInput;
  }
  const checkout = opts.phoenixDir !== undefined ? path.resolve(opts.phoenixDir) : undefined;
  if (
    opts.plan === undefined &&
    checkout === undefined &&
    (opts.vmConfigs === undefined || opts.lxcConfigs === undefined)
  ) {
    io.err('validate needs --plan <file>, --phoenix-dir <dir>, or both --vm-configs <file> and --lxc-configs <file>');
    return ExitCode.badInput;
  }
  if (opts.plan !== undefined) {
    const result = loadAndResolvePlan(opts.plan, checkout !== undefined ? { phoenixDir: checkout } : {});
    if (!result.ok) return report(io, opts, result.problems, { ok: false, problems: result.problems });
    const { plan, digest, warnings } = result;
    if (opts.strict && strictWarnings(warnings).length > 0)
      return report(io, opts, warnings, { ok: false, problems: warnings });
    if (opts.json) {
      io.out(JSON.stringify({ ok: true, digest, warnings, plan }, null, 2));
      return ExitCode.ok;
    }
    printProblems(io, warnings);
    io.out(`plan ${plan.name} is valid (digest ${digest})`);
    for (const vm of plan.vms)
      io.out(
        `  ${vm.adopt ? `adopt VM ${vm.vmid} ${vm.name} in place (clone ${vm.cloneFrom} only if absent)` : `create VM ${vm.vmid} ${vm.name} from ${vm.cloneFrom}`}: ${vm.cores} cores, ${vm.memoryMb} MB, ${vm.diskSizeGb} GB, ${vm.ipconfig0}`,
      );
    for (const c of plan.composeFiles) io.out(`  push ${c.source} → ${c.hostPath} (VM ${c.vmid} sees ${c.guestPath})`);
    io.out(
      `  gateway CT ${plan.gateway.ctid} ${plan.gateway.name}: upstream ${plan.gateway.upstream} → ${plan.gateway.newServers.join(', ')}`,
    );
    for (const g of plan.legacyGuests)
      io.out(
        `  retire CT ${g.ctid} ${g.name ?? '(name and volumes read from the node at preflight, then pinned)'}${g.ip ? ` (${g.ip})` : ''}${g.allVolumes ? `: every volume mount point ${g.allVolumes === 'backup' ? 'backed up' : 'discarded'}` : ''}`,
      );
    return ExitCode.ok;
  }
  const files = phoenixFiles({ vmConfigs: opts.vmConfigs, lxcConfigs: opts.lxcConfigs }, process.cwd(), checkout);
  if (!files) {
    io.err('validate needs both --vm-configs <file> and --lxc-configs <file> (or --phoenix-dir <dir>)');
    return ExitCode.badInput;
  }
  const result = validatePhoenixConfigs(files.vmConfigs, files.lxcConfigs, checkout);
  if (!result.ok) return report(io, opts, result.problems, { ok: false, problems: result.problems });
  if (opts.strict && strictWarnings(result.warnings).length > 0)
    return report(io, opts, result.warnings, { ok: false, problems: result.warnings });
  if (opts.json) {
    io.out(JSON.stringify({ ok: true, warnings: result.warnings }, null, 2));
    return ExitCode.ok;
  }
  printProblems(io, result.warnings);
  io.out(`Phoenix configs are valid: ${result.world.vms.size} VMs, ${result.world.containers.size} containers`);
  return ExitCode.ok;
}

function report(io: CliIo, opts: ValidateOptions, problems: Problem[], json: object): number {
  if (opts.json) io.out(JSON.stringify(json, null, 2));
  else {
    printProblems(io, problems);
    const errors = problems.filter((p) => p.severity === 'error').length;
    const refused = strictWarnings(problems).length;
    if (errors === 0 && opts.strict)
      io.err(`${refused} warning${refused === 1 ? '' : 's'}, refused by --strict: nothing was changed`);
    else io.err(`${errors} error${errors === 1 ? '' : 's'}: nothing was changed`);
  }
  return ExitCode.badInput;
}

function printProblems(io: CliIo, problems: Problem[]): void {
  for (const line of rankedLines(problems)) io.err(line);
}
