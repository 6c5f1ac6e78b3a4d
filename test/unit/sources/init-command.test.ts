/** `phoenix-migrate init` on copies of a Phoenix checkout, then `validate` on what it wrote. */
import fs from 'node:fs';
import path from 'node:path';
import { cli } from '../../cli/support';
import { copyCheckout, LXC, type Checkout } from './checkout';

describe('phoenix-migrate init', () => {
  let c: Checkout;
  beforeEach(() => (c = copyCheckout()));
  afterEach(() => c.remove());

  it('on a checkout whose LXC config no longer lists the legacy CTs: no name needed (pinned from the node at preflight), --volumes decides their volumes, validate passes', async () => {
    const lxc = JSON.parse(c.read(LXC)) as { lxc_configs: Record<string, unknown> };
    for (const id of ['950', '951', '952']) delete lxc.lxc_configs[id];
    c.write(LXC, JSON.stringify(lxc, null, 4));
    const out = path.join(c.root, 'p.json');
    const r = await cli(
      'init',
      '--phoenix-dir',
      c.dir,
      '--legacy',
      '951',
      '--legacy',
      '952',
      '--volumes',
      'backup',
      '--out',
      out,
    );
    expect(r.code).toBe(0);
    expect(r.err).not.toContain('TODO');
    expect(r.err).toContain(
      'found: CT 951 is not in etc/phoenix_lxc_configs.json: its name and volume mount points are read from the node at preflight',
    );
    const plan = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(plan.legacyGuests).toEqual([
      { ctid: 951, volumes: 'backup' },
      { ctid: 952, volumes: 'backup' },
    ]);
    // the rest still came from the checkout: the heredoc's upstream, its legacy server, the gateway CT
    expect(plan.gateway).toMatchObject({
      ctid: 101,
      siteFile: '/etc/nginx/sites-available/vllm_gateway',
      upstream: 'qdrant_service',
    });
    expect(plan.qdrant.legacyUrl).toBe('http://10.0.0.152:6333');
    const v = await cli('validate', '--plan', out);
    expect(v.code).toBe(0);
    expect(v.out).toContain(
      'retire CT 951 (name and volumes read from the node at preflight, then pinned): every volume mount point backed up',
    );
  });

  it('on a checkout whose LXC config no longer lists a legacy CT, without --volumes: its volume decision is the one TODO, and validate names exactly it', async () => {
    const lxc = JSON.parse(c.read(LXC)) as { lxc_configs: Record<string, unknown> };
    delete lxc.lxc_configs['952'];
    c.write(LXC, JSON.stringify(lxc, null, 4));
    const out = path.join(c.root, 'p.json');
    const r = await cli('init', '--phoenix-dir', c.dir, '--legacy', '952', '--out', out);
    expect(r.code).toBe(0);
    expect(r.err).toContain('TODO (1)');
    const plan = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(plan.legacyGuests).toEqual([
      { ctid: 952, volumes: expect.stringMatching(/^TODO: CT 952 is not in etc\/phoenix_lxc_configs.json/) },
    ]);
    const v = await cli('validate', '--plan', out);
    expect(v.code).toBe(2);
    const errors = v.err.split('\n').filter((l) => l.startsWith('error'));
    expect(errors).toEqual([expect.stringContaining('$.legacyGuests[0].volumes: left to decide: CT 952 is not in')]);
  });

  it('fills in what the checkout decides: VMs, gateway, upstream, legacy guests with volumes, backup storage', async () => {
    const out = path.join(c.root, 'p.json');
    const r = await cli('init', '--phoenix-dir', c.dir, '--legacy', '950', '--legacy', '952', '--out', out);
    expect(r.code).toBe(0);
    const plan = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(plan.phoenix).toEqual({ dir: c.dir });
    expect(plan.vms).toEqual([1001, 1002]);
    expect(plan.proxmox.apiUrl).toBe('https://10.0.0.13:8006');
    expect(plan.gateway).toEqual({
      ctid: 101,
      access: { via: 'pct' },
      siteFile: '/etc/nginx/sites-available/vllm_gateway',
      upstream: 'qdrant_service',
      newServers: ['10.0.0.102:6333'],
    });
    expect(plan.qdrant).toMatchObject({
      gatewayUrl: 'http://10.0.0.153/qdrant',
      newUrl: 'http://10.0.0.102:6333',
      legacyUrl: 'http://10.0.0.152:6333',
    });
    expect(plan.backups.storage).toBe('fastData-shared-backups');
    // without --volumes, every legacy volume is a TODO
    expect(plan.legacyGuests).toEqual([
      {
        ctid: 950,
        name: 'vllm-qwen2.5-7b-awq',
        ip: '10.0.0.150',
        volumes: { mp0: expect.stringMatching(/^TODO: "backup" or "discard" for volume vllm_models/) },
      },
      {
        ctid: 952,
        name: 'qdrant-VSCodeRag',
        ip: '10.0.0.152',
        volumes: { mp0: expect.stringMatching(/^TODO: "backup" or "discard" for volume qdrant_data/) },
      },
    ]);
    expect(r.err).toContain('TODO (2)');
    expect(r.err).toContain('legacyGuests[0].volumes.mp0');
  });

  it('refuses what cannot be: not a checkout, --adopt of a VM the plan does not create, a bad --volumes', async () => {
    const none = await cli('init', '--phoenix-dir', path.join(c.root, 'nope'), '--legacy', '950');
    expect(none.code).toBe(2);
    expect(none.err).toContain('is not a directory');
    const adopt = await cli('init', '--phoenix-dir', c.dir, '--legacy', '950', '--adopt', '9000');
    expect(adopt.code).toBe(2);
    expect(adopt.err).toContain('--adopt 9000: VM 9000 is not one of the VMs');
    const volumes = await cli('init', '--phoenix-dir', c.dir, '--legacy', '950', '--volumes', 'keep');
    expect(volumes.code).toBe(2);
    expect(volumes.err).toContain('--volumes must be backup or discard');
  });
});
