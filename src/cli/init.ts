/**
 * `phoenix-migrate init`: writes a plan from a Phoenix checkout (src/config/init-plan.ts) and says what it could not
 * decide (TODOs, which `validate` names) and what to review.
 */
import fs from 'node:fs';
import path from 'node:path';
import { initPlan } from '../config/init-plan';
import { CliError, ExitCode, type CliIo } from './io';
import { printProblems } from './problems';
import { selfCommand } from './self';

export interface InitCliOptions {
  phoenixDir: string;
  legacy: string[];
  adopt?: string[];
  volumes?: string;
  out?: string;
}

export async function runInit(opts: InitCliOptions, io: CliIo): Promise<number> {
  const ids = (flag: string, values: string[]) =>
    values.map((v) => {
      if (!/^[1-9][0-9]{2,8}$/.test(v))
        throw new CliError(
          `${flag} ${v} is not a guest id`,
          `write it like ${flag} 950 (repeat the flag for more)`,
          ExitCode.badInput,
        );
      return Number(v);
    });
  if (opts.volumes !== undefined && opts.volumes !== 'backup' && opts.volumes !== 'discard')
    throw new CliError(
      `--volumes must be backup or discard, got ${opts.volumes}`,
      'backup: every legacy volume goes into the vzdump; discard: destroyed with its CT',
      ExitCode.badInput,
    );
  const result = initPlan({
    dir: opts.phoenixDir,
    legacy: ids('--legacy', opts.legacy),
    adopt: ids('--adopt', opts.adopt ?? []),
    ...(opts.volumes !== undefined ? { volumes: opts.volumes as 'backup' | 'discard' } : {}),
  });
  if (!result.ok) {
    printProblems(result.problems, io);
    return ExitCode.badInput;
  }
  const text = `${JSON.stringify(result.plan, null, 2)}\n`;
  if (opts.out !== undefined) {
    fs.writeFileSync(opts.out, text);
    io.out(`wrote ${opts.out}`);
  } else io.out(text);
  for (const n of result.notes) io.err(`found: ${n}`);
  for (const r of result.review) io.err(`review: ${r}`);
  if (result.todos.length > 0) {
    io.err(`TODO (${result.todos.length}) — validate names each until it is decided:`);
    for (const t of result.todos) io.err(`  - ${t}`);
  }
  const plan = opts.out !== undefined ? path.resolve(opts.out) : 'FILE';
  io.err(`next: ${selfCommand()} validate --plan ${plan}`);
  return ExitCode.ok;
}
