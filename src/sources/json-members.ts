/**
 * Removing members of one JSON object without reformatting the rest of the file: the operator's Phoenix configs are
 * hand-kept (their own indentation, key order, spacing), and a diff of our edit must show only the members removed.
 * Pure: no I/O. The text must be valid JSON (callers parse it first).
 */

interface Member {
  key: string;
  /** From the key's opening quote to the end of its value. */
  start: number;
  end: number;
}

interface ObjectSpan {
  open: number;
  close: number;
  members: Member[];
}

/** `text` without the members `keys` of the object at `at` (e.g. `['lxc_configs']`); keys not there are ignored. */
export function removeMembers(
  text: string,
  at: string[],
  keys: readonly string[],
): { ok: true; text: string; removed: string[] } | { ok: false; error: string } {
  let out = text;
  const removed: string[] = [];
  for (const key of keys) {
    const span = findObject(out, at);
    if (!span) return { ok: false, error: `no object at ${['$', ...at].join('.')}` };
    const index = span.members.findIndex((m) => m.key === key);
    if (index < 0) continue;
    const m = span.members[index];
    let start: number;
    let end: number;
    if (span.members.length === 1) {
      start = span.open + 1;
      end = span.close;
    } else if (index < span.members.length - 1) {
      start = m.start;
      end = span.members[index + 1].start;
    } else {
      start = span.members[index - 1].end;
      end = m.end;
    }
    out = out.slice(0, start) + out.slice(end);
    removed.push(key);
  }
  return { ok: true, text: out, removed };
}

/** The keys of the object at `at`, in file order. */
export function memberKeys(text: string, at: string[]): string[] | undefined {
  return findObject(text, at)?.members.map((m) => m.key);
}

function findObject(text: string, at: string[]): ObjectSpan | undefined {
  const scanner = new Scanner(text);
  scanner.ws();
  let span = scanner.object();
  for (const key of at) {
    const m = span?.members.find((x) => x.key === key);
    if (!m) return undefined;
    const s = new Scanner(text, m.start);
    s.string();
    s.ws();
    s.expect(':');
    s.ws();
    if (text[s.pos] !== '{') return undefined;
    span = s.object();
  }
  return span;
}

class Scanner {
  constructor(
    readonly text: string,
    public pos = 0,
  ) {}

  ws(): void {
    while (this.pos < this.text.length && ' \t\r\n'.includes(this.text[this.pos])) this.pos++;
  }

  expect(c: string): void {
    if (this.text[this.pos] !== c) throw new Error(`expected "${c}" at offset ${this.pos}`);
    this.pos++;
  }

  string(): string {
    const start = this.pos;
    this.expect('"');
    while (this.text[this.pos] !== '"') {
      if (this.pos >= this.text.length) throw new Error('unterminated string');
      if (this.text[this.pos] === '\\') this.pos++;
      this.pos++;
    }
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  value(): void {
    const c = this.text[this.pos];
    if (c === '{') this.object();
    else if (c === '[') {
      this.pos++;
      this.ws();
      if (this.text[this.pos] === ']') {
        this.pos++;
        return;
      }
      for (;;) {
        this.ws();
        this.value();
        this.ws();
        if (this.text[this.pos] === ',') this.pos++;
        else break;
      }
      this.expect(']');
    } else if (c === '"') this.string();
    else {
      const m = /^(?:-?[0-9][0-9eE.+-]*|true|false|null)/.exec(this.text.slice(this.pos, this.pos + 64));
      if (!m) throw new Error(`unexpected "${c}" at offset ${this.pos}`);
      this.pos += m[0].length;
    }
  }

  object(): ObjectSpan {
    const open = this.pos;
    this.expect('{');
    const members: Member[] = [];
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return { open, close: this.pos - 1, members };
    }
    for (;;) {
      this.ws();
      const start = this.pos;
      const key = this.string();
      this.ws();
      this.expect(':');
      this.ws();
      this.value();
      members.push({ key, start, end: this.pos });
      this.ws();
      if (this.text[this.pos] === ',') this.pos++;
      else break;
    }
    this.ws();
    const close = this.pos;
    this.expect('}');
    return { open, close, members };
  }
}
