/**
 * Here-documents in a shell script, with byte offsets: Phoenix's `bin/phoenix_hypervisor_lxc_101.sh` writes the
 * gateway's live site (and its njs config) from heredocs, so that is where the site LXC 101 really serves lives.
 * Pure: no I/O. Reads the common forms (`cat > FILE <<'EOF'`, `<<EOF`, `<<-EOF`, `| tee FILE`, `"EOF"`, `\EOF`).
 */

export interface Heredoc {
  /** The delimiter word, e.g. `EOF`. */
  delimiter: string;
  /** `<<'EOF'`/`<<"EOF"`/`<<\EOF`: the shell expands nothing in the body. */
  quoted: boolean;
  /** `<<-`: leading tabs of body lines are stripped by the shell. */
  stripTabs: boolean;
  /** The file the command writes the body to (`> FILE`, `>> FILE`, `tee FILE`), when it says. */
  target?: string;
  /** 1-based line of the command that opens the heredoc. */
  line: number;
  /** Offsets of the body in the script (end exclusive; the delimiter line is not part of it). */
  bodyStart: number;
  bodyEnd: number;
  body: string;
}

export type HeredocResult = { ok: true; heredocs: Heredoc[] } | { ok: false; error: string };

const OPENER = /<<(-?)[ \t]*(?:'([^'\n]+)'|"([^"\n]+)"|\\([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g;
const TARGET = /(?:>>?[ \t]*|\btee[ \t]+(?:-a[ \t]+)?)(["']?)([^\s"';|&<>()]+)\1/;

export function findHeredocs(script: string): HeredocResult {
  const heredocs: Heredoc[] = [];
  const lines = splitKeepingEnds(script);
  let offset = 0;
  let i = 0;
  while (i < lines.length) {
    const text = lines[i];
    offset += text.length;
    i++;
    const code = withoutComment(stripEol(text));
    const openers: Omit<Heredoc, 'bodyStart' | 'bodyEnd' | 'body'>[] = [];
    for (const m of code.matchAll(OPENER)) {
      const quotedWord = m[2] ?? m[3] ?? m[4];
      const delimiter = quotedWord ?? m[5];
      const target = TARGET.exec(code.slice(m.index + m[0].length))?.[2] ?? TARGET.exec(code.slice(0, m.index))?.[2];
      openers.push({
        delimiter,
        quoted: quotedWord !== undefined,
        stripTabs: m[1] === '-',
        ...(target !== undefined ? { target } : {}),
        line: i,
      });
    }
    for (const opener of openers) {
      const bodyStart = offset;
      let closed = false;
      while (i < lines.length) {
        const bodyLine = stripEol(lines[i]);
        const word = opener.stripTabs ? bodyLine.replace(/^\t+/, '') : bodyLine;
        if (word === opener.delimiter) {
          heredocs.push({ ...opener, bodyStart, bodyEnd: offset, body: script.slice(bodyStart, offset) });
          offset += lines[i].length;
          i++;
          closed = true;
          break;
        }
        offset += lines[i].length;
        i++;
      }
      if (!closed)
        return {
          ok: false,
          error: `the heredoc opened on line ${opener.line} (<<${opener.delimiter}) never ends: no line "${opener.delimiter}" follows`,
        };
    }
  }
  return { ok: true, heredocs };
}

function splitKeepingEnds(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let k = 0; k < text.length; k++) {
    if (text[k] === '\n') {
      out.push(text.slice(start, k + 1));
      start = k + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

function stripEol(line: string): string {
  return line.replace(/\r?\n$/, '');
}

/** The line without a trailing `# comment` (a `#` starting a word, outside quotes). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let k = 0; k < line.length; k++) {
    const c = line[k];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') k++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') k++;
    else if (c === '#' && (k === 0 || /\s/.test(line[k - 1]))) return line.slice(0, k);
  }
  return line;
}
