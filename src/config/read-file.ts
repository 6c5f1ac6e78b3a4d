/**
 * Reading operator-supplied files without ever throwing: a missing, huge, binary or malformed file becomes a
 * problem that names the file and what to do.
 */
import * as fs from 'node:fs';
import { findDuplicateKeys } from './duplicate-keys';
import { jsonPath, ProblemList, type PathPart } from './problems';

export const MAX_CONFIG_BYTES = 1024 * 1024;

export type ReadResult = { ok: true; text: string; bytes: Buffer } | { ok: false };

/** Reads a UTF-8 text file of at most `maxBytes`; on failure records an error at `$` of that file (or at `at`). */
export function readTextFile(
  file: string,
  maxBytes: number,
  problems: ProblemList,
  report: { file: string; at: (string | number)[]; what: string } = { file, at: [], what: 'the file' },
): ReadResult {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.error(
      report.file,
      report.at,
      `${report.what} ${file} cannot be read (${code === 'ENOENT' ? 'it does not exist' : (code ?? 'unknown error')})`,
      'check the path (relative paths are resolved against the directory of the file that names them) and its permissions',
    );
    return { ok: false };
  }
  if (!stat.isFile()) {
    problems.error(
      report.file,
      report.at,
      `${report.what} ${file} is not a regular file`,
      'point it at a file, not a directory',
    );
    return { ok: false };
  }
  if (stat.size > maxBytes) {
    problems.error(
      report.file,
      report.at,
      `${report.what} ${file} is ${stat.size} bytes, more than the limit of ${maxBytes}`,
      'point it at the right file; configs this large are not expected',
    );
    return { ok: false };
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    problems.error(report.file, report.at, `${report.what} ${file} cannot be read (${code})`, 'check its permissions');
    return { ok: false };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    problems.error(report.file, report.at, `${report.what} ${file} is not valid UTF-8 text`, 'save it as UTF-8 text');
    return { ok: false };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { ok: true, text, bytes };
}

/** Reads and parses a JSON file (≤ 1 MiB); on failure records an error and returns undefined. */
export function readJsonFile(file: string, problems: ProblemList): { value: unknown } | undefined {
  const read = readTextFile(file, MAX_CONFIG_BYTES, problems);
  if (!read.ok) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(read.text) as unknown;
  } catch (err) {
    problems.error(
      file,
      [],
      `${file} is not valid JSON (${jsonErrorWhere(read.text, err)})`,
      'fix the JSON syntax (a JSON linter shows the exact spot)',
    );
    return undefined;
  }
  // JSON.parse copes with any depth, but the checks after it recurse: refuse absurd nesting here, by name.
  const tooDeep = findTooDeep(value, MAX_JSON_DEPTH);
  if (tooDeep) {
    problems.error(
      file,
      tooDeep.slice(0, 1),
      `${file} nests values more than ${MAX_JSON_DEPTH} levels deep (at ${jsonPath(tooDeep.slice(0, 8))}…)`,
      'configs are a few levels deep: this is not the file you meant, or it is broken',
    );
    return undefined;
  }
  const duplicates = findDuplicateKeys(read.text);
  for (const d of duplicates) {
    problems.error(
      file,
      d.at,
      `"${String(d.at[d.at.length - 1])}" appears twice in the same object (line ${d.line}); JSON would silently keep only the last one`,
      'keep one of them: merge the two into one entry',
    );
  }
  // Go on with the parsed value (the last one wins) so the other checks still run: the error above fails the file.
  return { value };
}

export const MAX_JSON_DEPTH = 64;

/** The path of the first value nested deeper than `max` (iterative, so it cannot overflow the stack itself). */
function findTooDeep(root: unknown, max: number): PathPart[] | undefined {
  const stack: { value: unknown; at: PathPart[] }[] = [{ value: root, at: [] }];
  while (stack.length > 0) {
    const { value, at } = stack.pop() as { value: unknown; at: PathPart[] };
    if (typeof value !== 'object' || value === null) continue;
    if (at.length >= max) return at;
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, at: [...at, i] }));
    else for (const [k, v] of Object.entries(value)) stack.push({ value: v, at: [...at, k] });
  }
  return undefined;
}

/**
 * Where the JSON syntax error is, as line and column. We don't echo V8's message: it can quote a piece of the file,
 * and that piece could be a secret someone pasted by mistake.
 */
function jsonErrorWhere(text: string, err: unknown): string {
  const message = (err as Error).message ?? '';
  const match = /position (\d+)/.exec(message);
  if (!match)
    return /end of JSON/.test(message)
      ? 'syntax error: unexpected end of file'
      : 'syntax error: unexpected character (a value must be quoted, a number, true, false or null)';
  const pos = Number(match[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `syntax error at line ${line}, column ${column}`;
}
