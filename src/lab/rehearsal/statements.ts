/**
 * Every statement of an nginx config with the blocks it sits in and the byte offsets of its words, so the rehearsal
 * can rewrite only the words it maps (addresses, ports, paths) and leave every other byte of the operator's site.
 * Pure. Follows nginx's lexing closely enough: `#` starts a comment where a word could start, quotes and backslashes
 * protect `;{}#` and spaces.
 */
import { lineOf, type Word } from '../../nginx/tokens';

export interface NginxStatement {
  /** The directive, e.g. `listen`. */
  name: string;
  args: Word[];
  /** Enclosing blocks from the outside in, e.g. `['server', 'location']`; `upstream` for upstream servers. */
  blocks: string[];
  line: number;
  start: number;
  end: number;
}

export type StatementsResult = { ok: true; statements: NginxStatement[] } | { ok: false; error: string };

export function nginxStatements(text: string): StatementsResult {
  const statements: NginxStatement[] = [];
  const blocks: string[] = [];
  let words: Word[] = [];
  let i = 0;
  const n = text.length;
  const emit = (end: number) => {
    if (words.length > 0)
      statements.push({
        name: words[0].value,
        args: words.slice(1),
        blocks: [...blocks],
        line: lineOf(text, words[0].start),
        start: words[0].start,
        end,
      });
    words = [];
  };
  while (i < n) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (ch === ';') {
      emit(i + 1);
      i++;
      continue;
    }
    if (ch === '{') {
      if (words.length === 0) return { ok: false, error: `a "{" without a directive at line ${lineOf(text, i)}` };
      const name = words[0].value;
      emit(i + 1);
      blocks.push(name);
      i++;
      continue;
    }
    if (ch === '}') {
      if (words.length > 0)
        return { ok: false, error: `unexpected "}" at line ${lineOf(text, i)}: the statement before it has no ";"` };
      if (blocks.length === 0)
        return { ok: false, error: `unexpected "}" at line ${lineOf(text, i)}: no block is open` };
      blocks.pop();
      i++;
      continue;
    }
    const start = i;
    let value = '';
    let quoted = false;
    if (ch === '"' || ch === "'") {
      quoted = true;
      i++;
      while (i < n && text[i] !== ch) {
        if (text[i] === '\\' && i + 1 < n) {
          value += text[i + 1] === ch || text[i + 1] === '\\' ? text[i + 1] : text[i] + text[i + 1];
          i += 2;
          continue;
        }
        value += text[i++];
      }
      if (i >= n) return { ok: false, error: `unterminated quote starting at line ${lineOf(text, start)}` };
      i++;
    } else {
      while (i < n) {
        const c = text[i];
        if (/\s/.test(c) || c === ';' || c === '}') break;
        if (c === '{') {
          // `${var}` belongs to the word; a bare `{` opens a block.
          if (text[i - 1] === '$') {
            const close = text.indexOf('}', i);
            if (close < 0) break;
            value += text.slice(i, close + 1);
            i = close + 1;
            continue;
          }
          break;
        }
        if (c === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
    }
    words.push({ value, start, end: i, quoted });
  }
  if (words.length > 0)
    return { ok: false, error: `the last statement (line ${lineOf(text, words[0].start)}) has no ";"` };
  if (blocks.length > 0) return { ok: false, error: `the block "${blocks[blocks.length - 1]}" is never closed` };
  return { ok: true, statements };
}

/** Applies replacements (offsets into `text`, non-overlapping) from the end, so earlier offsets stay valid. */
export function applyEdits(text: string, edits: { start: number; end: number; text: string }[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
