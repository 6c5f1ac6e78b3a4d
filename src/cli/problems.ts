import type { Problem } from '../config';
import type { CliIo } from './io';
import { formatProblem } from './validate';

/** Every problem, errors first, one line each — the same format `validate` prints. */
export function printProblems(problems: Problem[], io: CliIo): void {
  const ordered = [...problems].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
  for (const p of ordered) io.err(formatProblem(p));
  const errors = problems.filter((p) => p.severity === 'error').length;
  io.err(`${errors} error(s), ${problems.length - errors} warning(s)`);
}
