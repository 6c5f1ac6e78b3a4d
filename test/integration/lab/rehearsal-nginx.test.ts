/**
 * The rehearsal's mapped gateway site under a REAL nginx: `nginx -t` under the lab's prefix only, for each source
 * (heredoc with its njs config and script, committed file, nginx -T dump with a stub for the njs module it lacks),
 * and nginx's own words when the mapped site does not pass. Plus the CLI's refusals before anything starts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testMappedSite, prepareRehearsalGateway } from '../../../src/lab/rehearsal/gateway';
import { RehearsalInputError } from '../../../src/lab/rehearsal/site-source';
import { requireOrSkip } from '../../harness/tools';
import { cli } from '../../cli/support';

const describeIf = requireOrSkip('nginx') ? describe : describe.skip;
const EXAMPLE = path.join(__dirname, '..', '..', '..', 'examples', 'phoenix');
const SITE = '/etc/nginx/sites-available/vllm_gateway';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rehearsal-nginx-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function checkout(edit?: (dir: string) => void): string {
  const dir = path.join(tmp, 'phoenix');
  fs.cpSync(EXAMPLE, dir, { recursive: true });
  edit?.(dir);
  return dir;
}

async function mappedAndTested(dir: string, gatewayDump?: string) {
  const prefix = path.join(tmp, 'gateway');
  let next = 30000;
  const g = await prepareRehearsalGateway({
    checkout: dir,
    phoenixDir: dir,
    gatewayCtid: 101,
    siteFile: SITE,
    gatewayDump,
    prefix,
    gatewayHost: '127.0.0.153',
    ports: { http: 18080, https: 18443 },
    allocPort: async () => next++,
    addressMap: {},
  });
  testMappedSite({ prefix, siteName: 'vllm_gateway', siteText: g.siteText, confD: g.confD, source: g.source });
  return { g, prefix };
}

describeIf('the mapped gateway site passes nginx -t under the lab prefix', () => {
  it('heredoc: the site with its njs config and script', async () => {
    const { g, prefix } = await mappedAndTested(checkout());
    expect(g.source.kind).toBe('heredoc');
    expect(fs.readFileSync(path.join(prefix, 'conf.d', 'njs.conf'), 'utf8')).toContain(`${prefix}/phoenix-root/`);
    expect(fs.existsSync(path.join(prefix, 'phoenix-root', 'etc', 'nginx', 'scripts', 'http.js'))).toBe(true);
    // The lab's own njs config is not laid out beside the CT's (two `js_import http` would clash).
    expect(fs.readdirSync(path.join(prefix, 'conf.d'))).toEqual(['njs.conf']);
  });

  it('committed file (checkout without the LXC 101 script)', async () => {
    const { g } = await mappedAndTested(
      checkout((d) => fs.rmSync(path.join(d, 'bin', 'phoenix_hypervisor_lxc_101.sh'))),
    );
    expect(g.source.kind).toBe('committed file');
  });

  it('nginx -T dump: includes laid out under the prefix, a stub for the njs module', async () => {
    const dump = path.join(tmp, 'dump.txt');
    const heredocSite = /cat > \/etc\/nginx\/sites-available\/vllm_gateway <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(
      fs.readFileSync(path.join(EXAMPLE, 'bin', 'phoenix_hypervisor_lxc_101.sh'), 'utf8'),
    )![1];
    fs.writeFileSync(
      dump,
      [
        '# configuration file /etc/nginx/nginx.conf:',
        'user www-data;',
        'http { include /etc/nginx/conf.d/*.conf; include /etc/nginx/sites-enabled/*; }',
        '',
        '# configuration file /etc/nginx/conf.d/njs.conf:',
        'js_path "/etc/nginx/scripts/";',
        'js_import http from http.js;',
        '',
        '# configuration file /etc/nginx/sites-enabled/vllm_gateway:',
        heredocSite.replace(
          'server_name _;',
          'server_name _;\n    include /etc/nginx/snippets/gw.conf;\n    access_log /var/log/nginx/gw.log;',
        ),
        '',
        '# configuration file /etc/nginx/snippets/gw.conf:',
        'add_header X-Gateway Nginx-Phoenix;',
        '',
      ].join('\n'),
    );
    const { g, prefix } = await mappedAndTested(
      checkout((d) => fs.rmSync(path.join(d, 'bin', 'phoenix_hypervisor_lxc_101.sh'))),
      dump,
    );
    expect(g.source).toMatchObject({ kind: 'nginx-T dump', file: dump, line: 9 });
    expect(fs.readFileSync(path.join(prefix, 'phoenix-root', 'etc', 'nginx', 'scripts', 'http.js'), 'utf8')).toMatch(
      /stand-in/,
    );
  });

  it("reports nginx's own words when the mapped site fails nginx -t", async () => {
    const dir = checkout((d) => {
      fs.rmSync(path.join(d, 'bin', 'phoenix_hypervisor_lxc_101.sh'));
      fs.appendFileSync(path.join(d, 'etc', 'nginx', 'sites-available', 'vllm_gateway'), 'frobnicate on;\n');
    });
    const err = await mappedAndTested(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RehearsalInputError);
    expect((err as Error).message).toMatch(
      /the gateway site from the committed file .*vllm_gateway, mapped onto the lab, fails nginx -t:\n.*unknown directive "frobnicate"/s,
    );
  });
});

describe('phoenix-migrate lab --phoenix: refusals before anything starts', () => {
  it('--phoenix without --plan, and --plan without --phoenix, exit 2 saying what to do', async () => {
    const noPlan = await cli('lab', '--dir', path.join(tmp, 'lab'), '--phoenix', EXAMPLE);
    expect(noPlan.code).toBe(2);
    expect(noPlan.all).toMatch(/--phoenix needs the plan to rehearse: --plan FILE/);
    expect(noPlan.all).toMatch(/init --phoenix-dir .* --legacy CTID/);
    const noDir = await cli('lab', '--dir', path.join(tmp, 'lab'), '--plan', 'x.json');
    expect(noDir.code).toBe(2);
    expect(noDir.all).toMatch(/--plan belongs to a rehearsal/);
  });

  it('a plan that does not validate against the checkout: exit 2 naming the problems; the checkout untouched', async () => {
    const dir = checkout();
    const plan = path.join(tmp, 'plan.json');
    fs.writeFileSync(plan, JSON.stringify({ name: 'x', legacyGuests: [{ ctid: 950, name: 'TODO: its name' }] }));
    const prev = process.env.TEMPORAL_CLI_PATH;
    process.env.TEMPORAL_CLI_PATH = '/bin/false';
    try {
      const r = await cli('lab', '--dir', path.join(tmp, 'lab'), '--phoenix', dir, '--plan', plan);
      expect(r.code).toBe(2);
      expect(r.all).toMatch(/does not validate against the checkout/);
      expect(r.all).toMatch(/phoenix-migrate validate --plan/);
    } finally {
      if (prev === undefined) delete process.env.TEMPORAL_CLI_PATH;
      else process.env.TEMPORAL_CLI_PATH = prev;
    }
  });
});
