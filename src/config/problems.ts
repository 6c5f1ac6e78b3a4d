/**
 * A problem found while reading or checking a plan or Phoenix config file. We collect every problem instead of
 * stopping at the first, so the operator fixes a file in one pass.
 */
import * as path from 'node:path';
import type { z } from 'zod';

export type Severity = 'error' | 'warning';

export interface Problem {
  severity: Severity;
  /** The file the problem is in, as the operator would type it (relative to the current directory when inside it). */
  file: string;
  /** JSON path inside that file, e.g. `$.vms[1].network_config.ip` (`$` = the whole file). */
  path: string;
  message: string;
  /** What to do about it. */
  hint: string;
  /**
   * Set on warnings that are normal for some setups but worth knowing (e.g. guests sharing a boot order, which the
   * real Phoenix configs do on purpose): printed once per group, after the warnings that can break the run, and not
   * refused by `validate --strict`. The value is the group's one-line summary.
   */
  notable?: string;
}

export type PathPart = string | number;

/** `['vms', 1, 'network_config']` → `$.vms[1].network_config`; keys that are not identifiers get brackets. */
export function jsonPath(parts: readonly PathPart[]): string {
  let out = '$';
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

export function displayPath(file: string): string {
  const abs = path.resolve(file);
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/** Collects problems for one file. */
export class ProblemList {
  readonly items: Problem[] = [];

  error(file: string, at: readonly PathPart[], message: string, hint: string): void {
    this.items.push({ severity: 'error', file: displayPath(file), path: jsonPath(at), message, hint });
  }

  warning(file: string, at: readonly PathPart[], message: string, hint: string): void {
    this.items.push({ severity: 'warning', file: displayPath(file), path: jsonPath(at), message, hint });
  }

  /** A normal-but-notable warning; `summary` names its group (see Problem.notable). */
  notable(file: string, at: readonly PathPart[], message: string, hint: string, summary: string): void {
    this.items.push({
      severity: 'warning',
      file: displayPath(file),
      path: jsonPath(at),
      message,
      hint,
      notable: summary,
    });
  }

  add(problems: readonly Problem[]): void {
    this.items.push(...problems);
  }

  get errors(): Problem[] {
    return this.items.filter((p) => p.severity === 'error');
  }

  get warnings(): Problem[] {
    return this.items.filter((p) => p.severity === 'warning');
  }

  hasErrors(): boolean {
    return this.items.some((p) => p.severity === 'error');
  }
}

/**
 * Turns zod issues into problems. Issues at paths already reported (e.g. an inline secret found by the scanner)
 * are skipped so one mistake is reported once.
 */
export function addZodIssues(
  list: ProblemList,
  file: string,
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PathPart[] = [],
  skipPaths: ReadonlySet<string> = new Set(),
): void {
  for (const issue of issues) {
    const at = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (skipPaths.has(jsonPath(at))) continue;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        list.error(
          file,
          [...at, key],
          `unknown field "${key}"`,
          'remove it, or check its spelling against docs/plan.md',
        );
      }
      continue;
    }
    const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
    const last = at[at.length - 1];
    const received = issue.code === 'invalid_type' ? / received (\w+)$/.exec(issue.message)?.[1] : undefined;
    const message = missing
      ? `required field ${typeof last === 'string' ? `"${last}" ` : ''}is missing`
      : issue.code === 'invalid_type'
        ? `must be ${article(issue.expected)}${received ? `, not ${article(received)}` : ''}`
        : issue.message;
    list.error(file, at, message, hintFor(issue, missing));
  }
}

/** How to write a value of each JSON type, for "must be a number, not a string" and the like. */
const TYPE_HINTS: Record<string, string> = {
  number: 'write the number without quotes, e.g. 8006 (not "8006")',
  int: 'write a whole number without quotes, e.g. 8006',
  string: 'put the value in double quotes',
  boolean: 'write true or false, without quotes',
  array: 'write a list: [ … ]',
  object: 'write an object: { … }',
};

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

function hintFor(issue: z.core.$ZodIssue, missing: boolean): string {
  switch (issue.code) {
    case 'custom': {
      const hint = (issue.params as { hint?: unknown } | undefined)?.hint;
      return typeof hint === 'string' ? hint : 'correct the value (see docs/plan.md)';
    }
    case 'invalid_type':
      return missing
        ? `add it (${issue.expected}; see docs/plan.md)`
        : (TYPE_HINTS[issue.expected] ?? 'see docs/plan.md');
    case 'invalid_value':
      return `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
    case 'too_big':
      return 'change the value to fit the limit';
    case 'invalid_format':
      return `write it in the expected format (${issue.format})`;
    default:
      return 'correct the value (see docs/plan.md)';
  }
}
