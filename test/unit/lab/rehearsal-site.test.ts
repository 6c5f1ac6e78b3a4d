/**
 * A rehearsal's gateway site: which copy it serves (an nginx -T dump, else the LXC 101 script's heredocs with their
 * njs config, else the committed file) and how it is mapped onto the lab (addresses, listens, certificates, paths),
 * refusing with file:line what it cannot map. Pure: temp checkouts, no nginx (test/integration/lab runs nginx -t).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mapGatewaySite, type SiteMappingContext } from '../../../src/lab/rehearsal/site-mapping';
import { RehearsalInputError, selectGatewaySite } from '../../../src/lab/rehearsal/site-source';
import { nginxStatements } from '../../../src/lab/rehearsal/statements';

const EXAMPLE = path.join(__dirname, '..', '..', '..', 'examples', 'phoenix');
const SITE = '/etc/nginx/sites-available/vllm_gateway';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rehearsal-site-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function checkout(opts: { script?: string | false; committed?: string | false } = {}): string {
  const dir = path.join(tmp, 'phoenix');
  fs.cpSync(EXAMPLE, dir, { recursive: true });
  const script = path.join(dir, 'bin', 'phoenix_hypervisor_lxc_101.sh');
  if (opts.script === false) fs.rmSync(script);
  else if (opts.script !== undefined) fs.writeFileSync(script, opts.script);
  const committed = path.join(dir, 'etc', 'nginx', 'sites-available', 'vllm_gateway');
  if (opts.committed === false) fs.rmSync(committed);
  else if (opts.committed !== undefined) fs.writeFileSync(committed, opts.committed);
  return dir;
}

function ctx(over: Partial<SiteMappingContext> = {}): SiteMappingContext {
  let next = 20000;
  return {
    gatewayHost: '127.0.0.153',
    ports: { 80: 18080, 443: 18443 },
    allocPort: async () => next++,
    certificate: { cert: '/lab/gateway/ssl/lab.crt', key: '/lab/gateway/ssl/lab.key' },
    root: '/lab/gateway/phoenix-root',
    addressMap: {},
    stockDir: path.join(tmp, 'no-stock'),
    ...over,
  };
}

const DUMP = `nginx: the configuration file /etc/nginx/nginx.conf syntax is ok
nginx: configuration file /etc/nginx/nginx.conf test is successful
# configuration file /etc/nginx/nginx.conf:
user www-data;
pid /run/nginx.pid;
http {
    include /etc/nginx/conf.d/*.conf;
    include /etc/nginx/sites-enabled/*;
}

# configuration file /etc/nginx/conf.d/njs.conf:
js_path "/etc/nginx/scripts/";
js_import http from http.js;

# configuration file /etc/nginx/sites-enabled/vllm_gateway:
upstream qwen_service { server 10.0.0.150:8000; }
upstream qdrant_service { server 10.0.0.152:6333; }
server {
    listen 80 default_server;
    listen [::]:80 default_server;
    include /etc/nginx/snippets/headers.conf;
    access_log /var/log/nginx/gateway.access.log;
    location /v1/chat/completions { js_content http.chat_completions; }
    location /qdrant/ { proxy_pass http://qdrant_service/; }
}

# configuration file /etc/nginx/snippets/headers.conf:
add_header X-Gateway Nginx-Phoenix;
`;

describe('selectGatewaySite: dump, else heredoc, else committed file', () => {
  it('prefers the nginx -T dump and splits it into its files at the "# configuration file" markers', () => {
    const dump = path.join(tmp, 'dump.txt');
    fs.writeFileSync(dump, DUMP);
    const s = selectGatewaySite({ phoenixDir: checkout(), gatewayCtid: 101, siteFile: SITE, dumpFile: dump });
    expect(s.source).toEqual({ kind: 'nginx-T dump', file: dump, line: 15 });
    expect(s.site.path).toBe('/etc/nginx/sites-enabled/vllm_gateway');
    expect(s.site.text).toMatch(/^upstream qwen_service/);
    expect(s.site.origin).toBe(`${dump}:16`);
    expect(s.files.map((f) => f.path)).toEqual([
      '/etc/nginx/nginx.conf',
      '/etc/nginx/conf.d/njs.conf',
      '/etc/nginx/snippets/headers.conf',
      // nginx -T prints no njs scripts: the LXC 101 script's heredoc has it.
      '/etc/nginx/scripts/http.js',
    ]);
    expect(s.httpConfs).toEqual(['/etc/nginx/conf.d/njs.conf']);
  });

  it('refuses a dump that does not show the plan site, naming what it shows', () => {
    const dump = path.join(tmp, 'dump.txt');
    fs.writeFileSync(dump, '# configuration file /etc/nginx/nginx.conf:\nevents {}\n');
    expect(() =>
      selectGatewaySite({ phoenixDir: checkout(), gatewayCtid: 101, siteFile: SITE, dumpFile: dump }),
    ).toThrow(/does not show the site .*vllm_gateway \(it shows: \/etc\/nginx\/nginx\.conf\)/);
    fs.writeFileSync(dump, 'nginx: [emerg] unknown directive\n');
    expect(() =>
      selectGatewaySite({ phoenixDir: checkout(), gatewayCtid: 101, siteFile: SITE, dumpFile: dump }),
    ).toThrow(/not nginx -T output/);
  });

  it('without a dump takes the LXC 101 heredoc — the site the CT serves, not the committed one — with its njs config and script', () => {
    const dir = checkout();
    const s = selectGatewaySite({ phoenixDir: dir, gatewayCtid: 101, siteFile: SITE });
    const script = path.join(dir, 'bin', 'phoenix_hypervisor_lxc_101.sh');
    expect(s.source).toEqual({ kind: 'heredoc', file: script, line: 32 });
    expect(s.site.text).toContain('# legacy Qdrant on CT 952');
    expect(s.site.text).not.toEqual(
      fs.readFileSync(path.join(dir, 'etc', 'nginx', 'sites-available', 'vllm_gateway'), 'utf8'),
    );
    expect(s.files.map((f) => f.path).sort()).toEqual(['/etc/nginx/conf.d/njs.conf', '/etc/nginx/scripts/http.js']);
    expect(s.httpConfs).toEqual(['/etc/nginx/conf.d/njs.conf']);
    expect(s.site.origin).toBe(`${script}:33`);
  });

  it('refuses an unquoted heredoc that the shell would expand, naming script:line', () => {
    const dir = checkout({
      script: 'cat > /etc/nginx/sites-available/vllm_gateway <<EOF\nserver { listen 80; set $x 1; }\nEOF\n',
    });
    expect(() => selectGatewaySite({ phoenixDir: dir, gatewayCtid: 101, siteFile: SITE })).toThrow(
      /phoenix_hypervisor_lxc_101\.sh:1: the heredoc <<EOF is unquoted and the shell expands "\$x"/,
    );
  });

  it('falls back to the committed file on a checkout without the LXC 101 script, and says so', () => {
    const dir = checkout({ script: false });
    const s = selectGatewaySite({ phoenixDir: dir, gatewayCtid: 101, siteFile: SITE });
    expect(s.source).toEqual({
      kind: 'committed file',
      file: path.join(dir, 'etc', 'nginx', 'sites-available', 'vllm_gateway'),
    });
    expect(s.files).toEqual([]);
    expect(s.notes.join('\n')).toMatch(/no bin\/phoenix_hypervisor_lxc_101\.sh/);
  });

  it('falls back to the committed file when the script writes no such site', () => {
    const dir = checkout({ script: '#!/bin/bash\napt-get install -y nginx\n' });
    expect(selectGatewaySite({ phoenixDir: dir, gatewayCtid: 101, siteFile: SITE }).source.kind).toBe('committed file');
  });

  it('with none of the three, says how to take a dump', () => {
    const dir = checkout({ script: false, committed: false });
    expect(() => selectGatewaySite({ phoenixDir: dir, gatewayCtid: 101, siteFile: SITE })).toThrow(
      /pct exec 101 -- nginx -T > gateway-dump\.txt.*--gateway-dump/,
    );
  });
});

describe('mapGatewaySite', () => {
  it('maps addresses, listens, certificates and paths, and leaves every other byte', async () => {
    const s = selectGatewaySite({ phoenixDir: checkout(), gatewayCtid: 101, siteFile: SITE });
    const addressMap = {};
    const m = await mapGatewaySite(s, ctx({ addressMap, serverMap: { '127.0.0.152:6333': '127.0.0.152:41234' } }));
    expect(m.site).toContain('upstream qwen_service { server 127.0.0.150:8000; }');
    expect(m.site).toContain('    # legacy Qdrant on CT 952\n    server 127.0.0.152:41234;');
    expect(m.site).toContain('listen 127.0.0.153:18080 default_server;');
    expect(m.site).toContain('listen 127.0.0.153:18443 ssl;');
    expect(m.site).toContain('ssl_certificate /lab/gateway/ssl/lab.crt;');
    expect(m.site).toContain('ssl_certificate_key /lab/gateway/ssl/lab.key;');
    expect(m.site).not.toMatch(/10\.0\.0\.|\/etc\/nginx/);
    expect(addressMap).toMatchObject({ '10.0.0.150': '127.0.0.150', '10.0.0.152': '127.0.0.152' });
    // The njs config goes to the lab's conf.d with js_path under the prefix; the script is laid out there.
    expect(m.confD['njs.conf']).toBe(
      'js_path /lab/gateway/phoenix-root/etc/nginx/scripts/;\njs_import http from http.js;\n',
    );
    expect(Object.keys(m.files)).toEqual(['/lab/gateway/phoenix-root/etc/nginx/scripts/http.js']);
    expect(m.files['/lab/gateway/phoenix-root/etc/nginx/scripts/http.js']).toContain("internalRedirect('@qwen_chat')");
    expect(m.dirs).toContain('/lab/gateway/phoenix-root/etc/nginx/scripts/');
  });

  it('maps a dump: includes and logs under the prefix, IPv6 listens left out, a stub for the njs module nothing holds', async () => {
    const dump = path.join(tmp, 'dump.txt');
    fs.writeFileSync(dump, DUMP);
    const s = selectGatewaySite({
      phoenixDir: checkout({ script: false }),
      gatewayCtid: 101,
      siteFile: SITE,
      dumpFile: dump,
    });
    const m = await mapGatewaySite(s, ctx());
    expect(m.site).toContain('include /lab/gateway/phoenix-root/etc/nginx/snippets/headers.conf;');
    expect(m.site).toContain('access_log /lab/gateway/phoenix-root/var/log/nginx/gateway.access.log;');
    expect(m.site).toMatch(/# phoenix-migrate lab: IPv6 listen left out: listen \[::\]:80 default_server;/);
    expect(m.files['/lab/gateway/phoenix-root/etc/nginx/snippets/headers.conf']).toBe(
      'add_header X-Gateway Nginx-Phoenix;\n',
    );
    expect(m.dirs).toContain('/lab/gateway/phoenix-root/var/log/nginx');
    const stub = m.files['/lab/gateway/phoenix-root/etc/nginx/scripts/http.js'];
    expect(stub).toMatch(/function chat_completions\(r\) \{ r\.return\(502/);
    expect(stub).toContain('export default { chat_completions };');
    expect(m.notes.join('\n')).toMatch(/http\.js is not in the source: a stub/);
    // nginx.conf itself is not loaded: the lab's own main config stands in for it (its `user`/`pid` never apply).
    expect(Object.keys(m.files).some((f) => f.endsWith('/nginx.conf'))).toBe(false);
  });

  it("takes the njs script a dump lacks from the LXC 101 script's heredoc", async () => {
    const dump = path.join(tmp, 'dump.txt');
    fs.writeFileSync(dump, DUMP);
    const s = selectGatewaySite({ phoenixDir: checkout(), gatewayCtid: 101, siteFile: SITE, dumpFile: dump });
    const m = await mapGatewaySite(s, ctx());
    expect(m.files['/lab/gateway/phoenix-root/etc/nginx/scripts/http.js']).toContain("internalRedirect('@qwen_chat')");
    expect(s.notes.join('\n')).toMatch(
      /scripts\/http\.js \(not in the dump\) from bin\/phoenix_hypervisor_lxc_101\.sh line 13/,
    );
  });

  it('gives other listen ports lab ports of their own', async () => {
    const s = selectGatewaySite({
      phoenixDir: checkout({ script: false, committed: 'server { listen 8080; listen 10.0.0.153:80; }\n' }),
      gatewayCtid: 101,
      siteFile: SITE,
    });
    const m = await mapGatewaySite(s, ctx());
    expect(m.site).toBe('server { listen 127.0.0.153:20000; listen 127.0.0.153:18080; }\n');
    expect(m.ports).toMatchObject({ 80: 18080, 443: 18443, 8080: 20000 });
  });

  const refusals: [string, string, RegExp][] = [
    [
      'an unknown path directive',
      'server {\n  listen 80;\n  ssl_dhparam /etc/nginx/dhparam.pem;\n}\n',
      /vllm_gateway:3: ssl_dhparam \/etc\/nginx\/dhparam\.pem: the rehearsal does not know how to map this path.*Leave the directive out/,
    ],
    [
      'an include the source does not hold',
      'server {\n  include /etc/nginx/snippets/x.conf;\n}\n',
      /vllm_gateway:2: include \/etc\/nginx\/snippets\/x\.conf: the rehearsal's source does not hold .*--gateway-dump/,
    ],
    [
      'an upstream off the mapped network',
      'upstream a {\n  server 192.168.1.5:80;\n}\n',
      /vllm_gateway:2: upstream server 192\.168\.1\.5:80 is not on 10\.0\.0\.0\/24/,
    ],
    [
      'a hostname upstream',
      'upstream a { server qdrant.lan:6333; }\n',
      /vllm_gateway:1: upstream server qdrant\.lan:6333/,
    ],
    [
      'a literal proxy_pass elsewhere',
      'server {\n  listen 80;\n  location / { proxy_pass http://example.com/; }\n}\n',
      /vllm_gateway:3: proxy_pass http:\/\/example\.com\/: example\.com is neither an upstream/,
    ],
    [
      'a variable proxy_pass',
      'server { location / { proxy_pass http://$backend; } }\n',
      /a target the lab cannot check/,
    ],
    ['a unix listen', 'server { listen unix:/run/x.sock; }\n', /listen unix:\/run\/x\.sock: a unix socket/],
    [
      'a certificate by variable',
      'server { ssl_certificate $ssl_server_name.crt; }\n',
      /ssl_certificate \$ssl_server_name\.crt: not a file/,
    ],
  ];
  it.each(refusals)('refuses %s with file:line and what to do', async (_what, site, message) => {
    const s = selectGatewaySite({
      phoenixDir: checkout({ script: false, committed: site }),
      gatewayCtid: 101,
      siteFile: SITE,
    });
    const err = await mapGatewaySite(s, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RehearsalInputError);
    expect((err as Error).message).toMatch(message);
  });

  it('takes an include from this machine stock nginx files when the source lacks it (proxy_params)', async () => {
    const stock = path.join(tmp, 'stock');
    fs.mkdirSync(stock);
    fs.writeFileSync(path.join(stock, 'proxy_params'), 'proxy_set_header Host $http_host;\n');
    const s = selectGatewaySite({
      phoenixDir: checkout({ script: false, committed: 'server { location / { include proxy_params; } }\n' }),
      gatewayCtid: 101,
      siteFile: SITE,
    });
    const m = await mapGatewaySite(s, ctx({ stockDir: stock }));
    expect(m.site).toContain('include /lab/gateway/phoenix-root/etc/nginx/proxy_params;');
    expect(m.files['/lab/gateway/phoenix-root/etc/nginx/proxy_params']).toBe('proxy_set_header Host $http_host;\n');
  });
});

describe('nginxStatements', () => {
  it('gives each statement its blocks, line and word offsets', () => {
    const r = nginxStatements('upstream a {\n  server "10.0.0.1:80"; # c\n}\nserver { listen 80; }\n');
    if (!r.ok) throw new Error(r.error);
    expect(r.statements.map((s) => [s.name, s.blocks.join('/'), s.line])).toEqual([
      ['upstream', '', 1],
      ['server', 'upstream', 2],
      ['server', '', 4],
      ['listen', 'server', 4],
    ]);
    expect(r.statements[1].args[0]).toMatchObject({ value: '10.0.0.1:80', quoted: true });
    expect(nginxStatements('server { listen 80 }').ok).toBe(false);
  });
});
