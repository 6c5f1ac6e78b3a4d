/**
 * The docs keep the CLI honest and the CLI keeps the docs honest: every `phoenix-migrate …` command (and
 * `npm run lab -- …`) shown in README.md, docs/ and deploy/README.md — in code blocks, inline code and the README's
 * command table — is checked against the program's own commander definitions. An unknown command or flag fails,
 * naming the doc line. The examples in every command's --help are checked the same way, and every exit code in the
 * README's table must be one the CLI has and one a test asserts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/main';
import { ExitCode } from '../../../src/cli/io';

const ROOT = path.join(__dirname, '../../..');
const DOCS = [
  'README.md',
  'deploy/README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface Use {
  where: string; // file:line
  text: string; // the command as written
  words: string[]; // command words, e.g. ['lab', 'deploy-stack']
  flags: string[]; // --long and -s flags as written
}

/** The commander tree: command path → its flags. */
function cliDefinitions(): Map<string, Set<string>> {
  const program = buildProgram({ out: () => {}, err: () => {} }, () => {});
  const defs = new Map<string, Set<string>>();
  const walk = (cmd: Command, prefix: string[], inherited: string[]) => {
    const flags = new Set([...inherited, '--help', '-h']);
    for (const o of cmd.options) {
      if (o.long) flags.add(o.long);
      if (o.short) flags.add(o.short);
    }
    defs.set(prefix.join(' '), flags);
    // `lab deploy-stack --dir X`: commander hands --dir to `lab`, so a subcommand accepts its parent's flags too.
    for (const sub of cmd.commands) walk(sub, [...prefix, sub.name()], prefix.length ? [...flags] : []);
  };
  walk(program, [], []);
  return defs;
}

/** Splits a shell-ish command line after `phoenix-migrate` into words and flags, up to a shell operator. */
function parseUse(rest: string, where: string, text: string): Use {
  const tokens = rest
    .replace(/"[^"]*"|'[^']*'/g, 'VALUE')
    .split(/\s+/)
    .filter(Boolean);
  const words: string[] = [];
  const flags: string[] = [];
  for (const t of tokens) {
    if (t === 'or' || (/^(\||&&|;|#|>|2>|\(|\[|\\$)/.test(t) && !/^\[--/.test(t))) break;
    const flag = /^\[?(--?[A-Za-z][A-Za-z0-9-]*)/.exec(t);
    if (flag) flags.push(flag[1]);
    else if (flags.length === 0 && /^[a-z][a-z-]*$/.test(t) && words.length < 2) words.push(t);
    else if (words.length === 0) break; // `phoenix-migrate` followed by a path or prose: not a command
  }
  return { where, text, words, flags };
}

/** True when what precedes `phoenix-migrate` leaves it in command position. */
function atCommandStart(before: string): boolean {
  let b = before.replace(/\S*bin\/$/, '').trimEnd(); // node bin/phoenix-migrate.js
  for (;;) {
    const next = b.replace(/(?:^|\s)(?:npx|sudo|exec|node|[A-Z_][A-Z0-9_]*=\S*)$/, '').trimEnd();
    if (next === b) break;
    b = next;
  }
  return b === '' || /(&&|\|\||;|\||\(|\$|then run:|:|\sor)$/.test(b);
}

/** Every use of the CLI shown in one markdown file. */
function usesIn(file: string): Use[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const uses: Use[] = [];
  let inFence = false;
  let commandTable = false;
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    if (/^\s*```/.test(line)) {
      inFence = !inFence;
      return;
    }
    const snippets = inFence ? [line] : [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    for (const s of snippets) {
      // `phoenix-migrate …` where a command starts (`npx phoenix-migrate`, after `&&`, `VAR=x`, …), not the user,
      // group, token or key comment of that name (`pveum … phoenix-migrate`, `-C phoenix-migrate`, `/etc/phoenix-migrate`).
      for (const m of s.matchAll(/phoenix-migrate(?:\.js)?[ \t]+((?:(?!phoenix-migrate).)*)/g)) {
        if (!atCommandStart(s.slice(0, m.index))) continue;
        const use = parseUse(m[1], where, m[0].trim());
        if (use.words.length > 0 || use.flags.length > 0) uses.push(use);
      }
      for (const m of s.matchAll(/npm run lab\s+--\s+(.*)$/g))
        uses.push({ ...parseUse(m[1], where, m[0]), words: ['lab'] });
    }
    // README's command table: the first column names commands without the program name.
    if (/^\|\s*command\s*\|/.test(line)) commandTable = true;
    else if (!line.startsWith('|')) commandTable = false;
    else if (commandTable && !/^\|\s*-/.test(line)) {
      const first = line.split('|')[1] ?? '';
      for (const m of first.matchAll(/`([^`]+)`/g))
        for (const part of m[1].split(/\s+\/\s+/)) uses.push(parseUse(part.replace(/…/g, ''), where, part));
    }
  });
  return uses;
}

/** The command path a use names (longest known prefix), and what is wrong with it, if anything. */
function check(use: Use, defs: Map<string, Set<string>>): string | undefined {
  let words = use.words;
  while (words.length > 0 && !defs.has(words.join(' '))) words = words.slice(0, -1);
  if (words.length === 0 && use.words.length > 0)
    return `${use.where}: "${use.text}" — unknown command "${use.words[0]}" (commands: ${[...defs.keys()].filter(Boolean).join(', ')})`;
  if (words.length < use.words.length && defs.get(words.join(' '))?.size && use.words.length > words.length) {
    const sub = use.words[words.length];
    const hasSubs = [...defs.keys()].some((k) => k.startsWith(`${words.join(' ')} `));
    if (hasSubs) return `${use.where}: "${use.text}" — unknown subcommand "${sub}" of ${words.join(' ')}`;
  }
  const known = defs.get(words.join(' ')) ?? new Set<string>();
  const global = words.length === 0 ? new Set(['--version', '-V', '--help', '-h']) : known;
  const unknown = use.flags.filter((f) => !global.has(f));
  if (unknown.length)
    return `${use.where}: "${use.text}" — ${words.length ? words.join(' ') : 'phoenix-migrate'} has no ${unknown.join(', ')} (it has: ${[...global].sort().join(' ')})`;
  return undefined;
}

describe('every phoenix-migrate command shown in the docs exists, with those flags', () => {
  const defs = cliDefinitions();

  it.each(DOCS)('%s', (file) => {
    const uses = usesIn(file);
    const problems = uses.map((u) => check(u, defs)).filter((p): p is string => p !== undefined);
    expect(problems).toEqual([]);
  });

  it('the docs show most commands at all (the extractor finds them)', () => {
    const shown = new Set(DOCS.flatMap(usesIn).map((u) => u.words[0]));
    for (const c of [
      'validate',
      'plan',
      'start',
      'status',
      'watch',
      'confirm-portainer',
      'approve-decommission',
      'worker',
      'lab',
    ])
      expect(shown).toContain(c);
  });

  it('the examples in every --help are real commands too', () => {
    const out: string[] = [];
    const program = buildProgram({ out: (t) => out.push(t), err: () => {} }, () => {});
    const problems: string[] = [];
    const visit = (cmd: Command, name: string[]) => {
      out.length = 0;
      cmd.outputHelp();
      const examples = out.join('\n').split('Examples:\n')[1]?.split('\n\n')[0] ?? '';
      for (const line of examples.split('\n').filter(Boolean)) {
        for (const m of line.matchAll(/phoenix-migrate\s+(.*)$/g)) {
          const problem = check(parseUse(m[1], `${['phoenix-migrate', ...name].join(' ')} --help`, line.trim()), defs);
          if (problem) problems.push(problem);
        }
      }
      for (const sub of cmd.commands) visit(sub, [...name, sub.name()]);
    };
    visit(program, []);
    expect(problems).toEqual([]);
  });

  it('a doc line naming an unknown flag is reported by file and line (the check itself works)', () => {
    const use = parseUse('watch --plan x --frobnicate', 'docs/x.md:7', 'phoenix-migrate watch --plan x --frobnicate');
    expect(check(use, defs)).toMatch(
      /^docs\/x\.md:7: "phoenix-migrate watch --plan x --frobnicate" — watch has no --frobnicate/,
    );
    expect(check(parseUse('teleport --id x', 'README.md:1', 'phoenix-migrate teleport'), defs)).toMatch(
      /unknown command "teleport"/,
    );
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to "-", repeats numbered. */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let inFence = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const h = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (!h) continue;
    const base = h[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

describe('links between the docs land on a file and a heading that exist', () => {
  it.each(DOCS)('%s', (file) => {
    const broken: string[] = [];
    fs.readFileSync(path.join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          const [target, anchor] = m[1].split('#');
          if (/^[a-z]+:/.test(target)) continue; // http:, mailto:
          const resolved = target ? path.resolve(path.dirname(path.join(ROOT, file)), target) : path.join(ROOT, file);
          if (!fs.existsSync(resolved)) broken.push(`${file}:${i + 1}: ${m[1]} — no such file`);
          else if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor))
            broken.push(`${file}:${i + 1}: ${m[1]} — no heading with that anchor in ${path.relative(ROOT, resolved)}`);
        }
      });
    expect(broken).toEqual([]);
  });
});

describe("the README's exit codes", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.split('### Exit codes')[1]?.split('\n## ')[0] ?? '';
  const documented = [...table.matchAll(/^\|\s*(\d+)\s*\|/gm)].map((m) => Number(m[1]));

  it('are exactly the codes the CLI has', () => {
    expect(documented.sort()).toEqual(Object.values(ExitCode).sort());
  });

  it.each(Object.entries(ExitCode))('%s (%i) is produced by a CLI test', (name) => {
    // A test that runs a command and asserts this exit code, e.g. expect(r.code).toBe(ExitCode.notFound).
    const tests = fs
      .readdirSync(path.join(ROOT, 'test/cli'))
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => fs.readFileSync(path.join(ROOT, 'test/cli', f), 'utf8'))
      .join('\n');
    expect(tests).toMatch(new RegExp(`\\.code\\)\\.toBe\\(ExitCode\\.${name}\\)`));
  });
});
