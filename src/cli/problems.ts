import type { Problem } from '../config';
import type { CliIo } from './io';

/** One line per problem: `error  <file> <jsonpath>: <message> (fix: <hint>)`. */
export function formatProblem(p: Problem): string {
  return `${p.severity}  ${p.file} ${p.path}: ${p.message} (fix: ${p.hint})`;
}

/** Warnings `validate --strict` refuses: the ones that can break the run, not the normal-but-notable ones. */
export function strictWarnings(problems: readonly Problem[]): Problem[] {
  return problems.filter((p) => p.severity === 'warning' && p.notable === undefined);
}

/**
 * Ranked, so what matters is not drowned: errors, then warnings that can break the run, then each group of
 * normal-but-notable warnings once, as one line with where it occurs.
 */
export function rankedLines(problems: readonly Problem[]): string[] {
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = strictWarnings(problems);
  const groups = new Map<string, Problem[]>();
  for (const p of problems)
    if (p.severity === 'warning' && p.notable !== undefined)
      groups.set(p.notable, [...(groups.get(p.notable) ?? []), p]);
  const lines = [...errors, ...warnings].map(formatProblem);
  for (const [summary, members] of groups) {
    const where = members.map((p) => `${p.file} ${p.path}`);
    lines.push(
      `note  ${members.length}× ${summary}: ${where.slice(0, 4).join(', ')}${where.length > 4 ? `, … (${where.length - 4} more; --json lists all)` : ''}`,
    );
  }
  return lines;
}

/** Every problem, ranked, then the counts. */
export function printProblems(problems: readonly Problem[], io: CliIo): void {
  for (const line of rankedLines(problems)) io.err(line);
  const errors = problems.filter((p) => p.severity === 'error').length;
  const notes = problems.filter((p) => p.notable !== undefined).length;
  io.err(`${errors} error(s), ${problems.length - errors - notes} warning(s)${notes ? `, ${notes} note(s)` : ''}`);
}
