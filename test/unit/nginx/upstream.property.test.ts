/**
 * Property-style: many random site files (seeded, reproducible), random whitespace, comments in awkward
 * places, lookalike text in strings; the rewrite must change only the target block's server statements.
 */
import { readUpstreams, rewriteUpstream } from '../../../src/nginx/upstream';
import { seededRandom as prng } from '../../../src/lab/random';

interface Generated {
  text: string;
  target: string;
  /** Offsets of the target's server statements (`server …;`). */
  servers: { start: number; end: number; address: string }[];
  open: number;
  close: number;
  others: string[];
}

function generate(seed: number): Generated {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const eol = rnd() < 0.15 ? '\r\n' : '\n';
  const sp = () => pick([' ', '  ', '\t', ' \t ']);
  const indent = pick(['  ', '    ', '\t', '        ']);
  const commentText = () =>
    pick([
      'old box',
      'upstream qdrant_service { server 1.1.1.1:1; }',
      'TODO: server 9.9.9.9:9;',
      'quote \' and " and {',
      '',
    ]);
  const addr = () => `10.0.${int(0, 9)}.${int(1, 254)}:${pick([6333, 80, 8080, 5678])}`;
  const params = () =>
    rnd() < 0.4 ? ` ${pick(['weight=5', 'max_fails=3 fail_timeout=30s', 'backup', 'slow_start=10s'])}` : '';

  let text = '';
  const servers: Generated['servers'] = [];
  let open = -1;
  let close = -1;
  const others: string[] = [];
  const target = pick(['qdrant_service', 'q', 'svc_1']);

  const pieces = int(2, 6);
  const targetAt = int(0, pieces);
  for (let p = 0; p <= pieces; p++) {
    if (rnd() < 0.5) text += `#${commentText()}${eol}`;
    if (p === targetAt) {
      const oneLine = rnd() < 0.4;
      const count = int(1, 4);
      text += `upstream${sp()}${target}${sp()}`;
      open = text.length;
      text += '{';
      for (let s = 0; s < count; s++) {
        if (!oneLine && rnd() < 0.3) text += `${eol}${indent}# ${commentText()}`;
        if (!oneLine && rnd() < 0.3)
          text += `${eol}${indent}${pick(['keepalive 16;', 'zone qz 64k;', 'least_conn;', 'keepalive_timeout 60s;'])}`;
        text += oneLine ? sp() : `${eol}${indent}`;
        const address = addr();
        const start = text.length;
        text += `server${sp()}${address}${params()};`;
        servers.push({ start, end: text.length, address });
        if (rnd() < 0.3) text += `${oneLine ? sp() : ' '}# ${commentText()}`.replace(/#.*$/, oneLine ? '' : '$&');
      }
      text += oneLine ? `${sp()}` : eol;
      close = text.length;
      text += `}${rnd() < 0.3 ? ` # end ${target}` : ''}${eol}`;
    } else {
      const kind = int(0, 3);
      if (kind === 0) {
        const name = `other_${p}`;
        others.push(name);
        text += `upstream ${name} { server ${addr()}; }${eol}`;
      } else if (kind === 1) {
        const name = `multi_${p}`;
        others.push(name);
        text += `upstream ${name} {${eol}${indent}server ${addr()}${params()}; # x${eol}${indent}server ${addr()};${eol}}${eol}`;
      } else if (kind === 2) {
        text += `server {${eol}${indent}listen 80;${eol}${indent}location /qdrant/ { proxy_pass http://${target}/; }${eol}${indent}add_header X-A "upstream ${target} { server 1.2.3.4:5; }";${eol}}${eol}`;
      } else {
        text += `map $host $x {${eol}${indent}default '}';${eol}${indent}"~^a#b" 1;${eol}}${eol}`;
      }
    }
    if (rnd() < 0.5) text += eol;
  }
  return { text, target, servers, open, close, others };
}

function newServers(seed: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.${(seed % 200) + 1}.${i + 1}:${6000 + i}`);
}

function isSubsequence(needles: string[], haystack: string[]): boolean {
  let j = 0;
  for (const line of haystack) if (j < needles.length && line === needles[j]) j++;
  return j === needles.length;
}

const SEEDS = Array.from({ length: 400 }, (_, i) => i * 7919 + 1);

describe('rewriteUpstream on random configs', () => {
  it('with as many new servers as old: replaces exactly the server statements, byte for byte elsewhere', () => {
    for (const seed of SEEDS) {
      const g = generate(seed);
      const servers = newServers(seed, g.servers.length);
      const r = rewriteUpstream(g.text, g.target, servers);
      if (!r.ok) throw new Error(`seed ${seed}: ${r.error}\n${g.text}`);
      let expected = g.text;
      for (let i = g.servers.length - 1; i >= 0; i--)
        expected = expected.slice(0, g.servers[i].start) + `server ${servers[i]};` + expected.slice(g.servers[i].end);
      expect({ seed, text: r.text }).toEqual({ seed, text: expected });
      expect(r.previousServers).toEqual(g.servers.map((s) => s.address));
    }
  });

  it('with fewer or more new servers: bytes outside the block and every non-server line stay; other upstreams unchanged', () => {
    for (const seed of SEEDS) {
      const g = generate(seed);
      const count = 1 + (seed % 4);
      const servers = newServers(seed, count);
      const r = rewriteUpstream(g.text, g.target, servers);
      if (!r.ok) throw new Error(`seed ${seed}: ${r.error}`);
      const ctx = `seed ${seed}`;
      expect({ ctx, head: r.text.slice(0, g.open + 1) }).toEqual({ ctx, head: g.text.slice(0, g.open + 1) });
      const tail = g.text.slice(g.close);
      expect({ ctx, tail: r.text.slice(r.text.length - tail.length) }).toEqual({ ctx, tail });

      // lines of the original that hold no target server statement survive whole and in order
      let pos = 0;
      const keptLines: string[] = [];
      for (const line of g.text.split('\n')) {
        const start = pos;
        const end = pos + line.length;
        pos = end + 1;
        if (!g.servers.some((s) => s.start < end + 1 && s.end > start)) keptLines.push(line);
      }
      expect({ ctx, kept: isSubsequence(keptLines, r.text.split('\n')) }).toEqual({ ctx, kept: true });

      const before = readUpstreams(g.text);
      const after = readUpstreams(r.text);
      expect(after.find((u) => u.name === g.target)?.servers.map((s) => s.address)).toEqual(servers);
      // (line numbers may shift when servers are added or removed; names and servers may not)
      for (const name of g.others)
        expect(after.find((u) => u.name === name)?.servers).toEqual(before.find((u) => u.name === name)?.servers);

      // and back: the rewrite is stable (second run changes nothing)
      const again = rewriteUpstream(r.text, g.target, servers);
      expect(again.ok && again.changed).toBe(false);
    }
  });
});
