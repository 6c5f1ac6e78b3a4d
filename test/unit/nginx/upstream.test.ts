import { readUpstreams, rewriteUpstream } from '../../../src/nginx/upstream';

const SITE = `# Phoenix gateway
upstream embedding_service { server 10.0.0.151:8000; }
upstream qdrant_service { server 10.0.0.152:6333; }

upstream n8n_service {
    # the workflow engine
    server 10.0.0.154:5678 max_fails=3 fail_timeout=30s; # primary
    keepalive 8;
}

server {
    listen 80;
    server_name _;
    location /qdrant/ { proxy_pass http://qdrant_service/; }
    add_header X-Note "upstream qdrant_service { server 1.2.3.4:1; }";
}
`;

function rewrite(text: string, name: string, servers: string[]) {
  const r = rewriteUpstream(text, name, servers);
  if (!r.ok) throw new Error(r.error);
  return r;
}

describe('readUpstreams', () => {
  it('lists upstreams with their servers, params and lines, ignoring lookalikes in strings and http server blocks', () => {
    expect(readUpstreams(SITE)).toEqual([
      {
        name: 'embedding_service',
        line: 2,
        servers: [{ address: '10.0.0.151:8000', host: '10.0.0.151', port: 8000, params: [] }],
      },
      {
        name: 'qdrant_service',
        line: 3,
        servers: [{ address: '10.0.0.152:6333', host: '10.0.0.152', port: 6333, params: [] }],
      },
      {
        name: 'n8n_service',
        line: 5,
        servers: [
          { address: '10.0.0.154:5678', host: '10.0.0.154', port: 5678, params: ['max_fails=3', 'fail_timeout=30s'] },
        ],
      },
    ]);
  });

  it('parses IPv6, unix sockets and port-less addresses', () => {
    const ups = readUpstreams('upstream u { server [::1]:81; server unix:/run/x.sock; server backend.lan; }');
    expect(ups[0].servers.map((s) => [s.host, s.port])).toEqual([
      ['::1', 81],
      ['unix:/run/x.sock', null],
      ['backend.lan', 80],
    ]);
  });

  it('throws a typed error on a config that does not parse', () => {
    expect(() => readUpstreams('upstream u { server a:1;')).toThrow(expect.objectContaining({ code: 'nginx-parse' }));
  });
  it("gives each upstream's line in a gateway of hundreds, with comments, strings and nested blocks between", () => {
    const parts: string[] = [];
    for (let k = 0; k < 300; k++)
      parts.push(
        k % 7 === 0
          ? `# tenant ${k}\nserver {\n  location /q-${k}/ { return 200 "a;b}\n"; }\n}\n`
          : `upstream u${k} {\n  server 127.1.${k % 250}.1:6333;\n}\n`,
      );
    const text = parts.join('');
    const lines = text.split('\n');
    const found = readUpstreams(text);
    expect(found).toHaveLength(300 - Math.ceil(300 / 7));
    for (const u of found) expect(lines[u.line - 1]).toBe(`upstream ${u.name} {`);
  });
});

describe('rewriteUpstream', () => {
  it('rewrites the one-line form and nothing else', () => {
    const r = rewrite(SITE, 'qdrant_service', ['10.0.0.102:6333']);
    expect(r.changed).toBe(true);
    expect(r.previousServers).toEqual(['10.0.0.152:6333']);
    expect(r.text).toBe(
      SITE.replace(
        'upstream qdrant_service { server 10.0.0.152:6333; }',
        'upstream qdrant_service { server 10.0.0.102:6333; }',
      ),
    );
  });

  it('keeps comments and other directives in a multi-line block, writes new servers plainly', () => {
    const r = rewrite(SITE, 'n8n_service', ['10.0.0.104:5678']);
    expect(r.text).toBe(
      SITE.replace(
        'server 10.0.0.154:5678 max_fails=3 fail_timeout=30s; # primary',
        'server 10.0.0.104:5678; # primary',
      ),
    );
  });

  it('adds servers in the block indentation style, and in one-line style for one-line blocks', () => {
    const multi = 'upstream q {\n\tserver a:1;\n\tserver b:2 backup;  # spare\n\tkeepalive 4;\n}\n';
    expect(rewrite(multi, 'q', ['x:1', 'y:2', 'z:3']).text).toBe(
      'upstream q {\n\tserver x:1;\n\tserver y:2;  # spare\n\tserver z:3;\n\tkeepalive 4;\n}\n',
    );
    expect(rewrite('upstream q { server a:1; }', 'q', ['x:1', 'y:2']).text).toBe(
      'upstream q { server x:1; server y:2; }',
    );
  });

  it('removes surplus server lines whole, and surplus one-line servers without leaving gaps', () => {
    const multi = 'upstream q {\n  server a:1;\n  # keep me\n  server b:2; # old spare\n  server c:3;\n}\n';
    expect(rewrite(multi, 'q', ['x:9']).text).toBe('upstream q {\n  server x:9;\n  # keep me\n}\n');
    expect(rewrite('upstream q { server a:1; server b:2 weight=2; }', 'q', ['x:9']).text).toBe(
      'upstream q { server x:9; }',
    );
  });

  it('keeps CRLF line endings', () => {
    const crlf = 'upstream q {\r\n    server a:1;\r\n}\r\n';
    expect(rewrite(crlf, 'q', ['x:1', 'y:2']).text).toBe('upstream q {\r\n    server x:1;\r\n    server y:2;\r\n}\r\n');
  });

  it('reports "unchanged" when the block already points at the new servers (any order)', () => {
    const text = 'upstream q {\n  server x:1;\n  server y:2 weight=3;\n}\n';
    const r = rewrite(text, 'q', ['y:2', 'x:1']);
    expect(r).toEqual({ ok: true, text, previousServers: ['x:1', 'y:2'], changed: false });
    // a backup or down server is not "pointing at" it
    expect(rewrite('upstream q { server x:1 backup; }', 'q', ['x:1']).changed).toBe(true);
  });

  it.each([
    [
      'missing',
      SITE,
      'nope',
      /upstream "nope" not found; the file defines embedding_service, qdrant_service, n8n_service/,
    ],
    [
      'defined twice',
      'upstream q { server a:1; }\nupstream q { server b:1; }\n',
      'q',
      /defined 2 times \(lines 1, 2\)/,
    ],
    [
      'include inside',
      'upstream q {\n  include /etc/nginx/q-servers.conf;\n  server a:1;\n}\n',
      'q',
      /cannot be rewritten safely: it uses `include`/,
    ],
    ['variables', 'upstream q { server $backend; }', 'q', /uses variables/],
    ['nested block', 'upstream q { server a:1; weird { x; } }', 'q', /nested block/],
    ['no server lines', 'upstream q { keepalive 2; }', 'q', /no server lines/],
    ['unbalanced', 'upstream q { server a:1;', 'q', /cannot parse the config: a block is not closed/],
  ])('refuses with a clear message: %s', (_label, text, name, message) => {
    const r = rewriteUpstream(text, name, ['10.0.0.102:6333']);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  it.each([[[]], [['10.0.0.102']], [['a:1; server evil:2']], [['$x:1']], [['a:1', 'a:1']]])(
    'refuses bad new servers %j',
    (servers) => {
      const r = rewriteUpstream(SITE, 'qdrant_service', servers);
      expect(r.ok).toBe(false);
    },
  );

  it('is not fooled by braces, quotes and # inside strings or variables', () => {
    const text = [
      'map $x $y { default "}"; }',
      "log_format f '# not a comment { ;';",
      'set $v "${host}upstream";',
      'upstream q { server a:1; } # upstream q { server z:1; }',
      '',
    ].join('\n');
    const r = rewrite(text, 'q', ['b:2']);
    expect(r.text).toBe(text.replace('{ server a:1; }', '{ server b:2; }'));
    expect(readUpstreams(text).map((u) => u.name)).toEqual(['q']);
  });
});
