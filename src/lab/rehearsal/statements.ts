/**
 * Every statement of an nginx config with the blocks it sits in and the byte offsets of its words, so the rehearsal
 * can rewrite only the words it maps (addresses, ports, paths) and leave every other byte of the operator's site.
 * Pure; the lexing is the gateway rewriter's own (src/nginx/tokens.ts), so both read a site alike.
 */
import { lineOf, parseUpstreamBlocks, type Statement, type Word } from '../../nginx/tokens';

export { applyEdits } from '../../nginx/tokens';

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
  const parsed = parseUpstreamBlocks(text);
  if (!parsed.ok) return parsed;
  const statements: NginxStatement[] = [];
  const add = (s: Statement, blocks: string[]) =>
    statements.push({
      name: s.words[0].value,
      args: s.words.slice(1),
      blocks,
      line: lineOf(text, s.start),
      start: s.start,
      end: s.end,
    });
  for (const s of parsed.statements) add(s, []);
  // Blocks come in the order of their `{`, so the chain of names up to each block's depth is its ancestry.
  const chain: string[] = [];
  for (const b of parsed.blocks) {
    if (b.words.length === 0) return { ok: false, error: `a "{" without a directive at line ${lineOf(text, b.open)}` };
    chain.length = b.depth;
    add({ words: b.words, start: b.start, end: b.open + 1 }, [...chain]);
    chain.push(b.words[0].value);
    for (const s of b.statements) add(s, [...chain]);
  }
  return { ok: true, statements: statements.sort((a, b) => a.start - b.start) };
}
