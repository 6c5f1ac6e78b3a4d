/**
 * `phoenix-migrate sources` on copies of a Phoenix checkout: the committed site and the LXC 101 heredoc differ, and
 * each gets exactly its `qdrant_service` server line rewritten; --write keeps backups and is idempotent.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli } from '../../cli/support';
import { findTool } from '../../harness/tools';
import { copyCheckout, SCRIPT, SITE, writePlan, type Checkout } from './checkout';

/** The lines that differ between two texts of the same length in lines. */
function changedLines(before: string, after: string): { line: number; before: string; after: string }[] {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b.length).toBe(a.length);
  return a.flatMap((l, i) => (l === b[i] ? [] : [{ line: i + 1, before: l, after: b[i] }]));
}

describe('phoenix-migrate sources', () => {
  let c: Checkout;
  beforeEach(() => (c = copyCheckout()));
  afterEach(() => c.remove());

  it('shows, then writes, exactly the qdrant_service server line in the committed site and the heredoc (which differ)', async () => {
    const plan = writePlan(c);
    const before = c.snapshot();
    expect(before[SITE]).not.toBe(before[SCRIPT]); // the committed file is not what the heredoc writes
    const shown = await cli('sources', '--plan', plan);
    expect(shown.code).toBe(0);
    expect(c.snapshot()).toEqual(before); // without --write nothing is touched
    const minus = shown.out.split('\n').filter((l) => /^-[^-]/.test(l));
    const plus = shown.out.split('\n').filter((l) => /^\+[^+]/.test(l));
    expect(minus).toEqual(['-upstream qdrant_service { server 10.0.0.152:6333; }', '-    server 10.0.0.152:6333;']);
    expect(plus).toEqual(['+upstream qdrant_service { server 10.0.0.102:6333; }', '+    server 10.0.0.102:6333;']);
    expect(shown.out).toContain(`--- a/${SITE}`);
    expect(shown.out).toContain(`--- a/${SCRIPT}`);

    const written = await cli('sources', '--plan', plan, '--write');
    expect(written.code).toBe(0);
    const after = c.snapshot();
    expect(changedLines(before[SITE], after[SITE])).toEqual([
      {
        line: 4,
        before: 'upstream qdrant_service { server 10.0.0.152:6333; }',
        after: 'upstream qdrant_service { server 10.0.0.102:6333; }',
      },
    ]);
    expect(changedLines(before[SCRIPT], after[SCRIPT])).toEqual([
      { line: 37, before: '    server 10.0.0.152:6333;', after: '    server 10.0.0.102:6333;' },
    ]);
    const backups = Object.keys(after).filter((f) => !(f in before));
    expect(backups.sort()).toEqual([
      expect.stringMatching(/^bin\/phoenix_hypervisor_lxc_101\.sh\.phoenix-migrate-\d{8}T\d{6}Z\.bak$/),
      expect.stringMatching(/^etc\/nginx\/sites-available\/vllm_gateway\.phoenix-migrate-\d{8}T\d{6}Z\.bak$/),
    ]);
    for (const b of backups) expect(after[b]).toBe(before[b.replace(/\.phoenix-migrate-.*$/, '')]);
    for (const f of Object.keys(before).filter((x) => x !== SITE && x !== SCRIPT)) expect(after[f]).toBe(before[f]);
    expect(fs.statSync(path.join(c.dir, SCRIPT)).mode & 0o777).toBe(0o755);

    const again = await cli('sources', '--plan', plan, '--write');
    expect(again.code).toBe(0);
    expect(again.out).toContain('in step with the plan: nothing to change');
    expect(c.snapshot()).toEqual(after);
  });

  it('a checkout without the LXC 101 script: the committed site alone, and it says so', async () => {
    fs.rmSync(path.join(c.dir, SCRIPT));
    const plan = writePlan(c);
    const r = await cli('sources', '--plan', plan, '--write');
    expect(r.code).toBe(0);
    expect(r.err).toContain(`no ${SCRIPT} in the checkout`);
    expect(r.out).toContain(`wrote ${SITE}`);
    expect(c.read(SITE)).toContain('upstream qdrant_service { server 10.0.0.102:6333; }');
  });

  it('a site defining the upstream twice is refused, named, and nothing is written', async () => {
    c.write(
      SITE,
      c
        .read(SITE)
        .replace('upstream n8n_service', 'upstream qdrant_service { server 10.0.0.152:6334; }\nupstream n8n_service'),
    );
    const plan = writePlan(c);
    const before = c.snapshot();
    const r = await cli('sources', '--plan', plan, '--write');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`refused: ${SITE}: upstream "qdrant_service" is defined 2 times (lines 4, 5)`);
    expect(r.err).toContain('nothing was written');
    expect(c.snapshot()).toEqual(before);
    // validate says it too (as a warning: the run itself does not write these files)
    const v = await cli('validate', '--plan', plan);
    expect(v.code).toBe(0);
    expect(v.err).toContain("Phoenix's gateway sources cannot be rewritten");
  });

  it('--phoenix-dir overrides the plan; a plan without a checkout is told how to name one', async () => {
    const plan = writePlan(c, { phoenix: { dir: 'nowhere' } });
    const r = await cli('sources', '--plan', plan, '--phoenix-dir', c.dir);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`--- a/${SITE}`);
    // Phoenix's own paths (/usr/local/phoenix_hypervisor/…) do not exist here: the plan needs the checkout
    const files = {
      vmConfigs: 'phoenix_hypervisor/etc/phoenix_vm_configs.json',
      lxcConfigs: 'phoenix_hypervisor/etc/phoenix_lxc_configs.json',
    };
    const bare = writePlan(c, { phoenix: files });
    const off = await cli('validate', '--plan', bare);
    expect(off.code).toBe(2);
    expect(off.err).toContain('is a path in the Phoenix checkout on the Proxmox host');
    expect(off.err).toContain('--phoenix-dir DIR');
    expect((await cli('validate', '--plan', bare, '--phoenix-dir', c.dir)).code).toBe(0);
    // a checkout whose compose source is relative resolves without one, but sources has nothing to work on
    c.write(
      'etc/phoenix_vm_configs.json',
      c.read('etc/phoenix_vm_configs.json').replace('/usr/local/phoenix_hypervisor/', '../'),
    );
    const none = await cli('sources', '--plan', bare);
    expect(none.code).toBe(2);
    expect(none.err).toContain('names no Phoenix checkout');
    expect(none.err).toContain('--phoenix-dir');
  });

  const nginx = findTool('nginx');
  (nginx ? it : it.skip)('a committed site that passed nginx -t before the rewrite still passes after it', async () => {
    // the lab's stand-ins for the gateway's certificate paths, so the committed site can pass -t here
    const ssl = path.join(c.root, 'ssl');
    fs.mkdirSync(ssl);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=t',
        '-keyout',
        `${ssl}/k.pem`,
        '-out',
        `${ssl}/c.pem`,
      ],
      { stdio: 'ignore' },
    );
    c.write(
      SITE,
      c
        .read(SITE)
        .replace(/\/etc\/nginx\/ssl\/[^;]+\.crt/, `${ssl}/c.pem`)
        .replace(/\/etc\/nginx\/ssl\/[^;]+\.key/, `${ssl}/k.pem`),
    );
    const prefix = path.join(c.root, 'nginx');
    fs.mkdirSync(path.join(prefix, 'logs'), { recursive: true });
    fs.writeFileSync(
      path.join(prefix, 'nginx.conf'),
      `error_log ${prefix}/logs/error.log; pid ${prefix}/nginx.pid; events {} http { include ${path.join(c.dir, SITE)}; }\n`,
    );
    const test = () =>
      execFileSync(nginx as string, ['-t', '-p', prefix, '-c', path.join(prefix, 'nginx.conf')], { stdio: 'pipe' });
    expect(test).not.toThrow();
    const r = await cli('sources', '--plan', writePlan(c), '--write');
    expect(r.code).toBe(0);
    expect(c.read(SITE)).toContain('server 10.0.0.102:6333;');
    expect(test).not.toThrow();
  });
});
