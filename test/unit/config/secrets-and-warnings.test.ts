/**
 * Inline secrets are refused without being echoed; warnings are shown but do not fail validation; the Phoenix-only
 * mode, JSON output and usage errors behave as documented.
 */
import * as fs from 'node:fs';
import { runValidate } from '../../../src/cli/validate';
import { loadAndResolvePlan, parseDuration, validatePhoenixConfigs } from '../../../src/config';
import { captureIo, makeWorld, type Mutations } from './plan-world';

async function validateWorld(m: Mutations, json = false) {
  const world = makeWorld(m);
  try {
    const io = captureIo();
    const code = await runValidate({ plan: world.planPath, json }, io);
    return { code, io, world };
  } finally {
    fs.rmSync(world.root, { recursive: true, force: true });
  }
}

describe('inline secrets', () => {
  const secret = 'c0ffee00-1234-4abc-9def-0123456789ab';

  test('a token secret pasted into the plan is refused and never repeated in the output', async () => {
    const { code, io } = await validateWorld({ plan: (p) => (p.proxmox.tokenSecret = secret) });
    expect(code).toBe(2);
    expect(io.text()).toContain('$.proxmox.tokenSecret');
    expect(io.text()).toContain('{"env": "VAR_NAME"}');
    expect(io.text()).not.toContain(secret);
  });

  test('nor in JSON output', async () => {
    const { code, io } = await validateWorld({ plan: (p) => (p.qdrant.apiKey = 'qdrant-key-123') }, true);
    expect(code).toBe(2);
    const out = JSON.parse(io.text());
    expect(out.ok).toBe(false);
    expect(out.problems).toContainEqual(expect.objectContaining({ severity: 'error', path: '$.qdrant.apiKey' }));
    expect(io.text()).not.toContain('qdrant-key-123');
  });

  test('a JSON syntax error does not quote the file (which may hold a pasted secret)', async () => {
    const { code, io } = await validateWorld({
      files: (root) =>
        fs.writeFileSync(`${root}/plans/qdrant-to-dr-phoenix.json`, `{"proxmox": {"tokenSecret": ${secret}}}`),
    });
    expect(code).toBe(2);
    expect(io.text()).toMatch(/not valid JSON \(syntax error: unexpected character/);
    expect(io.text()).not.toContain(secret);
  });

  test('secret references are accepted and stay references', () => {
    const world = makeWorld({
      plan: (p) => {
        p.qdrant.apiKey = { file: '/etc/phoenix-migrate/qdrant-api-key' };
        p.portainer.mode = 'api';
        p.portainer.credentials = { apiKey: { env: 'PORTAINER_API_KEY' } };
        p.notify = { webhookUrlEnv: 'PHOENIX_WEBHOOK_URL' };
      },
    });
    try {
      const result = loadAndResolvePlan(world.planPath, { env: {} });
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      expect(result.plan.qdrant.apiKey).toEqual({ file: '/etc/phoenix-migrate/qdrant-api-key' });
      expect(result.plan.portainer.credentials).toEqual({ apiKey: { env: 'PORTAINER_API_KEY' } });
      expect(result.plan.notify).toEqual({ webhookUrlEnv: 'PHOENIX_WEBHOOK_URL' });
      // api mode with an unverified certificate is allowed, loudly
      expect(result.warnings).toContainEqual(expect.objectContaining({ path: '$.portainer.tls' }));
    } finally {
      fs.rmSync(world.root, { recursive: true, force: true });
    }
  });
});

describe('warnings do not fail validation', () => {
  test.each<[string, Mutations, string, RegExp]>([
    [
      'image on the latest tag',
      { compose: (t) => t.replace(/qdrant\/qdrant:v[0-9.]+/, 'qdrant/qdrant:latest') },
      '$.vms[1].docker_compose_files[0].source',
      /latest/,
    ],
    [
      'image without a tag',
      { compose: (t) => t.replace(/qdrant\/qdrant:v[0-9.]+/, 'qdrant/qdrant') },
      '$.vms[1].docker_compose_files[0].source',
      /without a tag/,
    ],
    [
      'no persistent volume for /qdrant/storage',
      { compose: (t) => t.replace('qdrant_storage:/qdrant/storage', '/qdrant/storage') },
      '$.vms[1].docker_compose_files[0].source',
      /no named or bind volume/,
    ],
    [
      'NFS path naming another vmid',
      { vm: (c) => (c.vms[2].volumes[0].path = '/quickOS/vm-persistent-data/1001') },
      '$.vms[2].volumes[0].path',
      /names vmid 1001/,
    ],
    [
      'duplicate boot order (normal-but-notable: one summary line)',
      { lxc: (c) => (c.lxc_configs['801'].boot_order = 5) },
      '$.lxc_configs["801"].boot_order',
      /^note {2}\d+× guests share a boot order/,
    ],
    [
      'a kept guest depends on one being retired',
      { lxc: (c) => (c.lxc_configs['102'].dependencies = ['101', '952']) },
      '$.lxc_configs["102"].dependencies[1]',
      /decommissions/,
    ],
  ])('%s', async (_what, m, at, says) => {
    const { code, io } = await validateWorld(m);
    const line = io
      .lines()
      .find(
        (l) =>
          ((l.startsWith('warning  ') && l.includes(` ${at}: `)) || (l.startsWith('note  ') && l.includes(at))) &&
          says.test(l),
      );
    if (!line) throw new Error(`no warning at ${at} matching ${says}; got:\n${io.text()}`);
    expect(code).toBe(0);
    expect(io.text()).toMatch(/is valid/);
  });
});

describe('validate command', () => {
  test('without a plan or both Phoenix files it is a usage error', async () => {
    const io = captureIo();
    expect(await runValidate({ vmConfigs: 'x.json' }, io)).toBe(2);
    expect(io.text()).toMatch(/--plan/);
  });

  test('Phoenix-only mode reports every problem, not just the first', async () => {
    const world = makeWorld({
      vm: (c) => {
        c.vms[2].name = 'Dr Phoenix';
        c.vms[2].network_config.ip = '10.0.0.101/24';
      },
      lxc: (c) => (c.lxc_configs['801'].network_config.ip = '10.0.0.141'),
    });
    try {
      const io = captureIo();
      expect(await runValidate({ vmConfigs: world.vmPath, lxcConfigs: world.lxcPath }, io)).toBe(2);
      const errors = io.lines().filter((l) => l.startsWith('error  '));
      expect(errors.some((l) => l.includes('$.vms[2].name: '))).toBe(true);
      expect(errors.some((l) => l.includes('$.vms[2].network_config.ip: ') && l.includes('also used by VM 1001'))).toBe(
        true,
      );
      expect(errors.some((l) => l.includes('$.vms[1].network_config.ip: ') && l.includes('also used by VM 1002'))).toBe(
        true,
      );
      expect(errors.some((l) => l.includes('$.lxc_configs["801"].network_config.ip: '))).toBe(true);
      const direct = validatePhoenixConfigs(world.vmPath, world.lxcPath);
      expect(direct.ok).toBe(false);
    } finally {
      fs.rmSync(world.root, { recursive: true, force: true });
    }
  });

  test('JSON output of a valid plan carries the resolved plan and its digest', async () => {
    const { code, io } = await validateWorld({}, true);
    expect(code).toBe(0);
    const out = JSON.parse(io.text());
    expect(out.ok).toBe(true);
    expect(out.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(out.plan.gateway.upstream).toBe('qdrant_service');
  });

  test('a missing plan file is a problem, not a stack trace', async () => {
    const io = captureIo();
    expect(await runValidate({ plan: '/nonexistent/plan.json' }, io)).toBe(2);
    expect(io.text()).toMatch(/^error {2}\/nonexistent\/plan\.json \$: .*does not exist/m);
  });

  test('newServers defaults to the host:port of qdrant.newUrl', () => {
    const world = makeWorld({ plan: (p) => delete p.gateway.newServers });
    try {
      const result = loadAndResolvePlan(world.planPath, { env: {} });
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      expect(result.plan.gateway.newServers).toEqual(['10.0.0.102:6333']);
    } finally {
      fs.rmSync(world.root, { recursive: true, force: true });
    }
  });
});

describe('durations', () => {
  test.each<[string, number | undefined]>([
    ['30s', 30_000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['1h30m', 5_400_000],
    ['0s', 0],
    ['250ms', 250],
    ['2d', 172_800_000],
    ['5', undefined],
    ['5 minutes', undefined],
    ['-1s', undefined],
    ['', undefined],
    ['1.5h', undefined],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
