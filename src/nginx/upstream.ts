/**
 * Read and rewrite nginx `upstream` blocks as text, touching only the `server` statements of the one block
 * being changed: every other byte (comments, other upstreams, the TLS servers, whitespace) stays as it was,
 * so the operator's diff shows exactly the cutover and nothing else. Pure: no I/O.
 */
import { applyEdits, parseUpstreamBlocks, type Statement, type UpstreamBlock } from './tokens';

export interface UpstreamServer {
  /** As written, e.g. `10.0.0.152:6333`. */
  address: string;
  host: string;
  /** null for `unix:` sockets; 80 when the address has no port (nginx's default). */
  port: number | null;
  /** Everything after the address, e.g. `['weight=5', 'backup']`. */
  params: string[];
}

export interface UpstreamInfo {
  name: string;
  servers: UpstreamServer[];
  /** 1-based line of the `upstream` keyword. */
  line: number;
}

export type RewriteResult =
  { ok: true; text: string; previousServers: string[]; changed: boolean } | { ok: false; error: string };

export interface NginxParseError extends Error {
  code: 'nginx-parse';
}

/** Every upstream in the text with its servers. Throws (code 'nginx-parse') when the text does not parse. */
export function readUpstreams(configText: string): UpstreamInfo[] {
  const parsed = parseUpstreamBlocks(configText);
  if (!parsed.ok) {
    const err = new Error(`cannot read upstreams: ${parsed.error}`) as NginxParseError;
    err.code = 'nginx-parse';
    throw err;
  }
  return parsed.upstreams.map((b) => ({ name: b.name, line: b.line, servers: serverStatements(b).map(toServer) }));
}

export function parseServerAddress(address: string): { host: string; port: number | null } {
  if (address.startsWith('unix:')) return { host: address, port: null };
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : 80 };
  const m = /^([^:]+)(?::(\d+))?$/.exec(address);
  if (m) return { host: m[1], port: m[2] ? Number(m[2]) : 80 };
  return { host: address, port: null };
}

/** `HOST:PORT`, `[v6]:PORT` or `unix:/path`; nothing a config parser could read as syntax. */
const NEW_SERVER =
  /^(?:unix:\/[^\s;{}#'"$\\]+|\[[0-9A-Fa-f:.]+\]:\d{1,5}|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?:\d{1,5})$/;

export function rewriteUpstream(configText: string, upstreamName: string, servers: string[]): RewriteResult {
  if (servers.length === 0)
    return { ok: false, error: `no new servers given for upstream "${upstreamName}": pass at least one HOST:PORT` };
  const bad = servers.find((s) => !NEW_SERVER.test(s));
  if (bad !== undefined)
    return {
      ok: false,
      error: `new server ${JSON.stringify(bad)} for upstream "${upstreamName}" is not HOST:PORT (e.g. 10.0.0.102:6333)`,
    };
  if (new Set(servers).size !== servers.length)
    return {
      ok: false,
      error: `the new servers for upstream "${upstreamName}" list an address twice: ${servers.join(', ')}`,
    };

  const parsed = parseUpstreamBlocks(configText);
  if (!parsed.ok) return { ok: false, error: `cannot parse the config: ${parsed.error}` };
  const blocks = parsed.upstreams.filter((b) => b.name === upstreamName);
  if (blocks.length === 0) {
    const names = parsed.upstreams.map((b) => b.name);
    return {
      ok: false,
      error: `upstream "${upstreamName}" not found; the file defines ${names.length ? names.join(', ') : 'no upstreams'}. Check gateway.upstream in the plan.`,
    };
  }
  if (blocks.length > 1) {
    return {
      ok: false,
      error: `upstream "${upstreamName}" is defined ${blocks.length} times (lines ${blocks.map((b) => b.line).join(', ')}); fix the config by hand first: a rewrite could not know which one nginx uses.`,
    };
  }
  const block = blocks[0];
  const unsafe = unsafeReasons(block);
  if (unsafe.length > 0)
    return {
      ok: false,
      error: `upstream "${upstreamName}" (line ${block.line}) cannot be rewritten safely: ${unsafe.join('; ')}. Change it by hand.`,
    };

  const current = serverStatements(block);
  if (current.length === 0)
    return { ok: false, error: `upstream "${upstreamName}" (line ${block.line}) has no server lines to replace` };
  const previousServers = current.map((s) => s.words[1].value);

  const live = current.map(toServer).filter((s) => !s.params.includes('down') && !s.params.includes('backup'));
  const already = live.length === current.length && sameSet(previousServers, servers);
  if (already) return { ok: true, text: configText, previousServers, changed: false };

  return {
    ok: true,
    text: applyEdits(configText, planEdits(configText, current, servers)),
    previousServers,
    changed: true,
  };
}

function serverStatements(block: UpstreamBlock): Statement[] {
  return block.statements.filter((s) => s.words[0].value === 'server' && !s.words[0].quoted);
}

function toServer(s: Statement): UpstreamServer {
  const address = s.words[1]?.value ?? '';
  return { address, ...parseServerAddress(address), params: s.words.slice(2).map((w) => w.value) };
}

function unsafeReasons(block: UpstreamBlock): string[] {
  const reasons = [...block.nestedBlocks];
  for (const s of block.statements) {
    const directive = s.words[0].value;
    if (directive === 'include') reasons.push(`it uses \`include\` (line-level content we cannot see)`);
    if (directive === 'server') {
      if (s.words.length < 2) reasons.push('a `server` line has no address');
      if (s.words.some((w) => w.value.includes('$'))) reasons.push('a `server` line uses variables');
    }
  }
  return reasons;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The statement is the only thing on its line(s), apart from whitespace and a trailing comment. */
function lineSpan(text: string, s: Statement): { start: number; end: number; indent: string } | undefined {
  let ls = s.start;
  while (ls > 0 && text[ls - 1] !== '\n') ls--;
  const before = text.slice(ls, s.start);
  if (!/^[ \t]*$/.test(before)) return undefined;
  let le = s.end;
  while (le < text.length && (text[le] === ' ' || text[le] === '\t' || text[le] === '\r')) le++;
  if (text[le] === '#') while (le < text.length && text[le] !== '\n') le++;
  if (le < text.length && text[le] !== '\n') return undefined;
  return { start: ls, end: Math.min(le + 1, text.length), indent: before };
}

function planEdits(text: string, current: Statement[], servers: string[]): Edit[] {
  const edits: Edit[] = [];
  const shared = Math.min(current.length, servers.length);
  for (let i = 0; i < shared; i++)
    edits.push({ start: current[i].start, end: current[i].end, text: `server ${servers[i]};` });

  if (servers.length > current.length) {
    const last = current[current.length - 1];
    const extra = servers.slice(current.length);
    const span = lineSpan(text, last);
    if (span && text[span.end - 1] === '\n') {
      const eol = text[span.end - 2] === '\r' ? '\r\n' : '\n';
      edits.push({
        start: span.end,
        end: span.end,
        text: extra.map((s) => `${span.indent}server ${s};${eol}`).join(''),
      });
    } else {
      edits.push({ start: last.end, end: last.end, text: extra.map((s) => ` server ${s};`).join('') });
    }
  }

  for (const s of current.slice(servers.length)) {
    const span = lineSpan(text, s);
    if (span) {
      edits.push({ start: span.start, end: span.end, text: '' });
    } else {
      let ws = s.start;
      while (ws > 0 && (text[ws - 1] === ' ' || text[ws - 1] === '\t')) ws--;
      edits.push({ start: ws, end: s.end, text: '' });
    }
  }
  return edits;
}

/**
 * The `upstream NAME { … }` block exactly as written (from the keyword to the closing brace), and where it sits:
 * what the cutover records before it rewrites, so a rollback can put back the very same bytes — whatever the
 * servers' parameters (`backup`, `weight=`, `max_fails=`, `down`) or host form (no port, `_`, a name).
 */
export function upstreamBlockText(
  configText: string,
  upstreamName: string,
): { ok: true; text: string; start: number; end: number } | { ok: false; error: string } {
  const parsed = parseUpstreamBlocks(configText);
  if (!parsed.ok) return { ok: false, error: `cannot parse the config: ${parsed.error}` };
  const blocks = parsed.upstreams.filter((b) => b.name === upstreamName);
  if (blocks.length !== 1)
    return {
      ok: false,
      error:
        blocks.length === 0
          ? `upstream "${upstreamName}" not found`
          : `upstream "${upstreamName}" is defined ${blocks.length} times`,
    };
  const { start, close } = blocks[0];
  return { ok: true, text: configText.slice(start, close + 1), start, end: close + 1 };
}

/** `configText` with the upstream block replaced by `replacement`, byte for byte; everything else unchanged. */
export function replaceUpstreamBlock(
  configText: string,
  upstreamName: string,
  replacement: string,
): { ok: true; text: string } | { ok: false; error: string } {
  const block = upstreamBlockText(configText, upstreamName);
  if (!block.ok) return block;
  return { ok: true, text: configText.slice(0, block.start) + replacement + configText.slice(block.end) };
}
