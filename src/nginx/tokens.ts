/**
 * A small nginx config tokenizer that keeps byte positions, so a rewrite can touch only what it means to.
 * Mirrors nginx's own rules closely enough for upstream blocks: `#` starts a comment only where a token
 * could start, quotes and backslashes protect `;{}#` and spaces, `${var}` braces belong to the word.
 * Besides the upstream blocks it lists every block with its direct statements (e.g. to find a `server` by `listen`).
 */

export interface Word {
  /** The word as nginx sees it (quotes removed, escapes resolved). */
  value: string;
  /** Offsets of the raw text in the config (end exclusive). */
  start: number;
  end: number;
  quoted: boolean;
}

export interface Statement {
  words: Word[];
  /** From the first word to just after the `;` (or the `{` for a block). */
  start: number;
  end: number;
}

export interface UpstreamBlock {
  name: string;
  /** 1-based line of the `upstream` keyword. */
  line: number;
  start: number;
  /** Offsets of the `{` and the `}`. */
  open: number;
  close: number;
  statements: Statement[];
  /** Reasons a rewrite would not be safe (nested blocks); empty when fine. */
  nestedBlocks: string[];
}

/** Any block (`server {`, `location /x {`, `upstream n {`, `http {` …), in the order its `{` appears. */
export interface Block {
  /** The words before the `{`, e.g. `server` or `location /qdrant/`. */
  words: Word[];
  start: number;
  /** Offsets of the `{` and the `}`. */
  open: number;
  close: number;
  /** 0 for a block at the top of the text, 1 for one inside it, … */
  depth: number;
  /** The statements directly inside (not those of nested blocks). */
  statements: Statement[];
}

export type ParseResult =
  | {
      ok: true;
      upstreams: UpstreamBlock[];
      blocks: Block[];
      /** The statements outside every block (e.g. `js_import` at the top of a conf.d file). */
      statements: Statement[];
    }
  | { ok: false; error: string };

export function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * `lineOf` for positions asked in increasing order (a parse's), counting each newline once: a fleet's gateway has
 * hundreds of upstreams, and counting from the top for each made every parse quadratic in the config's size.
 */
function lineCounter(text: string): (pos: number) => number {
  let at = 0;
  let line = 1;
  return (pos) => {
    if (pos < at) return lineOf(text, pos);
    for (; at < pos; at++) if (text.charCodeAt(at) === 10) line++;
    return line;
  };
}

interface Frame {
  block?: Block;
  upstream?: UpstreamBlock;
  /** The upstream this frame sits inside (a nested block in an upstream). */
  inside?: UpstreamBlock;
}

export function parseUpstreamBlocks(text: string): ParseResult {
  const upstreams: UpstreamBlock[] = [];
  const blocks: Block[] = [];
  const topLevel: Statement[] = [];
  const stack: Frame[] = [{}];
  let words: Word[] = [];
  let i = 0;
  const n = text.length;
  const lineAt = lineCounter(text);

  const top = () => stack[stack.length - 1];

  while (i < n) {
    const ch = text[i];
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
      i++;
      continue;
    }
    if (ch === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (ch === ';') {
      const frame = top();
      if (words.length > 0) {
        const statement = { words, start: words[0].start, end: i + 1 };
        frame.upstream?.statements.push(statement);
        frame.block?.statements.push(statement);
        if (stack.length === 1) topLevel.push(statement);
      }
      words = [];
      i++;
      continue;
    }
    if (ch === '{') {
      const frame = top();
      const owner = frame.upstream ?? frame.inside;
      const block: Block = {
        words,
        start: words[0]?.start ?? i,
        open: i,
        close: -1,
        depth: stack.length - 1,
        statements: [],
      };
      blocks.push(block);
      if (owner) {
        owner.nestedBlocks.push(`a nested block \`${words.map((w) => w.value).join(' ')} {\` at line ${lineAt(i)}`);
        stack.push({ block, inside: owner });
      } else if (words.length >= 1 && words[0].value === 'upstream' && !words[0].quoted) {
        if (words.length !== 2)
          return {
            ok: false,
            error: `the upstream at line ${lineAt(words[0].start)} has ${words.length - 1} names; expected exactly one`,
          };
        const upstream: UpstreamBlock = {
          name: words[1].value,
          line: lineAt(words[0].start),
          start: words[0].start,
          open: i,
          close: -1,
          statements: [],
          nestedBlocks: [],
        };
        upstreams.push(upstream);
        stack.push({ block, upstream });
      } else {
        stack.push({ block });
      }
      words = [];
      i++;
      continue;
    }
    if (ch === '}') {
      if (words.length > 0)
        return { ok: false, error: `unexpected "}" at line ${lineAt(i)}: the statement before it has no ";"` };
      if (stack.length === 1) return { ok: false, error: `unexpected "}" at line ${lineAt(i)}: no block is open` };
      const frame = stack.pop() as Frame;
      if (frame.upstream) frame.upstream.close = i;
      if (frame.block) frame.block.close = i;
      i++;
      continue;
    }
    // a word: quoted or bare
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
      if (i >= n) return { ok: false, error: `unterminated quote starting at line ${lineAt(start)}` };
      i++;
    } else {
      while (i < n) {
        const c = text[i];
        if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === ';' || c === '}') break;
        if (c === '{') {
          if (value.endsWith('$')) {
            // `${name}`: the braces are part of the variable, not a block
            const close = text.indexOf('}', i);
            if (close < 0) return { ok: false, error: `unterminated "\${" at line ${lineAt(i)}` };
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
  if (words.length > 0) return { ok: false, error: `the last statement (line ${lineAt(words[0].start)}) has no ";"` };
  if (stack.length > 1) return { ok: false, error: `a block is not closed: ${stack.length - 1} "{" without "}"` };
  return { ok: true, upstreams, blocks, statements: topLevel };
}

/** Replaces byte ranges of `text` (non-overlapping offsets into it), from the end so earlier offsets stay valid. */
export function applyEdits(text: string, edits: { start: number; end: number; text: string }[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start || b.end - a.end))
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
