/** The shipped plan validates and resolves to the seed's world; its digest does not depend on key order. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runValidate } from '../../../src/cli/validate';
import { canonicalJson, loadAndResolvePlan, planDigest } from '../../../src/config';
import { captureIo, makeWorld, reverseKeys, SHIPPED_PLAN } from './plan-world';

const noEnv = {};

describe('the shipped plan', () => {
  test('validate exits 0 and prints a summary', async () => {
    const io = captureIo();
    expect(await runValidate({ plan: SHIPPED_PLAN }, io)).toBe(0);
    expect(io.text()).toMatch(/plan qdrant-to-dr-phoenix is valid \(digest [0-9a-f]{64}\)/);
    expect(io.lines().some((l) => l.startsWith('error'))).toBe(false);
  });

  test("resolves to the seed's values", () => {
    const result = loadAndResolvePlan(SHIPPED_PLAN, { env: noEnv });
    if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
    const { plan, digest } = result;
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.schemaVersion).toBe(1);
    expect(plan.name).toBe('qdrant-to-dr-phoenix');
    expect(plan.templateVmid).toBe(9000);
    expect(plan.proxmox).toEqual({
      node: 'phoenix',
      apiUrl: 'https://10.0.0.13:8006',
      tls: { mode: 'ca', caFile: '/etc/phoenix-migrate/pve-root-ca.pem' },
      tokenId: 'root@pam!phoenix-migrate',
      tokenSecret: { env: 'PHOENIX_PVE_TOKEN_SECRET' },
      ownerTag: 'phoenix-migrate',
      requestTimeoutMs: 30_000,
    });
    expect(plan.proxmoxHost).toEqual({
      host: '10.0.0.13',
      port: 22,
      user: 'root',
      hostKey: { knownHostsFile: '/etc/phoenix-migrate/known_hosts' },
      privateKeyPathEnv: 'PHOENIX_SSH_KEY',
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 120_000,
    });
    // boot order: Portainer (1) before Dr-Phoenix (2)
    expect(plan.vms.map((v) => v.vmid)).toEqual([1001, 1002]);
    const [portainer, drPhoenix] = plan.vms;
    expect(drPhoenix).toEqual({
      vmid: 1002,
      name: 'Dr-Phoenix',
      node: 'phoenix',
      cloneFrom: 9000,
      storage: 'quickOS-vm-disks',
      cores: 4,
      memoryMb: 4096,
      diskSizeGb: 64,
      onboot: true,
      startup: { order: 2, up: 30 },
      ip: '10.0.0.102',
      ipconfig0: 'ip=10.0.0.102/24,gw=10.0.0.1',
      nameserver: '10.0.0.13',
      ciuser: 'phoenix_user',
      tags: ['phoenix-migrate'],
      features: ['base_setup', 'docker'],
      portainerRole: 'agent',
      volumes: [
        {
          type: 'nfs',
          name: 'persistent-storage',
          path: '/quickOS/vm-persistent-data/1002',
          mountPoint: '/persistent-storage',
          server: '10.0.0.13',
        },
      ],
    });
    expect(drPhoenix.sshPublicKeys).toBeUndefined();
    expect(portainer).toMatchObject({
      vmid: 1001,
      name: 'Portainer',
      cores: 4,
      memoryMb: 8192,
      diskSizeGb: 32,
      startup: { order: 1 },
      ipconfig0: 'ip=10.0.0.101/24,gw=10.0.0.1',
      portainerRole: 'primary',
    });

    expect(plan.composeFiles).toHaveLength(1);
    const compose = plan.composeFiles[0];
    const shippedCompose = fs.readFileSync(
      path.resolve(path.dirname(SHIPPED_PLAN), '../examples/phoenix/persistent-storage/qdrant/docker-compose.yml'),
      'utf8',
    );
    expect(compose).toMatchObject({
      vmid: 1001,
      source: '../persistent-storage/qdrant/docker-compose.yml',
      destination: 'qdrant/docker-compose.yml',
      hostPath: '/quickOS/vm-persistent-data/1001/qdrant/docker-compose.yml',
      guestPath: '/persistent-storage/qdrant/docker-compose.yml',
      content: shippedCompose,
    });
    expect(compose.content).toMatch(/image: qdrant\/qdrant:v[0-9.]+/);
    expect(compose.sha256).toMatch(/^[0-9a-f]{64}$/);

    expect(plan.gateway).toEqual({
      ctid: 101,
      name: 'Nginx-Phoenix',
      ip: '10.0.0.153',
      access: { via: 'pct' },
      siteFile: '/etc/nginx/sites-enabled/vllm_gateway',
      upstream: 'qdrant_service',
      newServers: ['10.0.0.102:6333'],
      nginxCommand: ['nginx'],
      backupDir: '/var/backups/phoenix-migrate',
      lockFile: '/run/lock/phoenix-migrate-gateway.lock',
      pidFile: '/run/nginx.pid',
      errorLog: '/var/log/nginx/error.log',
    });
    expect(plan.qdrant).toEqual({
      gatewayUrl: 'http://10.0.0.153/qdrant',
      newUrl: 'http://10.0.0.102:6333',
      legacyUrl: 'http://10.0.0.152:6333',
      expectedCollections: [],
      data: { mode: 'snapshot' },
    });
    expect(plan.legacyGuests).toEqual([
      // gone from the LXC config, still on Proxmox: named (and addressed) in the plan, volumes decided there
      { ctid: 950, name: 'vllm-qwen2.5-7b-awq', node: 'phoenix', ip: '10.0.0.150', volumes: { mp0: 'backup' } },
      { ctid: 951, name: 'vllm-granite-embed-r2', node: 'phoenix', ip: '10.0.0.151', volumes: { mp0: 'backup' } },
      { ctid: 952, name: 'qdrant-VSCodeRag', node: 'phoenix', ip: '10.0.0.152', volumes: { mp0: 'backup' } },
      // already gone from the node too
      { ctid: 953, name: 'Nginx-VscodeRag', node: 'phoenix' },
    ]);
    expect(plan.guestDependencies).toEqual({ '102': [101], '801': [101] });
    expect(plan.portainer).toEqual({
      mode: 'manual',
      url: 'https://10.0.0.101:9443',
      tls: { mode: 'insecure' },
      environmentName: 'Dr-Phoenix',
      agentUrl: 'tcp://10.0.0.102:9001',
      stackName: 'qdrant',
      composeFileIndex: 0,
      allowStackUpdate: false,
    });
    expect(plan.backups).toEqual({
      enabled: true,
      storage: 'fastData-shared-backups',
      mode: 'snapshot',
      compress: 'zstd',
    });
    expect(plan.approvals).toEqual({ decommission: true });
    expect(plan.timings).toEqual({
      remindEveryMs: 3_600_000,
      deployTimeoutMs: 72 * 3_600_000,
      readinessRecheckMs: 60_000,
      // unset in the plan: the deploy timeout
      readinessTimeoutMs: 72 * 3_600_000,
      verifyBudgetMs: 120_000,
      soakMs: 0,
      soakProbeEveryMs: 30_000,
      shutdownTimeoutMs: 60_000,
    });
    expect(plan.notify).toBeUndefined();
    // the resolved plan is the workflow input: it must survive JSON unchanged and hold no undefined values
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(digest).toBe(planDigest(plan));
  });

  test('the digest is stable across key order and file location, and changes with content', () => {
    const a = loadAndResolvePlan(SHIPPED_PLAN, { env: noEnv });
    const shuffled = makeWorld();
    // rewrite every file with reversed keys and another indentation (the helper wrote them in the original order)
    for (const file of [shuffled.planPath, shuffled.vmPath, shuffled.lxcPath]) {
      fs.writeFileSync(file, JSON.stringify(reverseKeys(JSON.parse(fs.readFileSync(file, 'utf8'))), null, 4));
    }
    const changed = makeWorld({ vm: (c) => (c.vms[2].cores = 6) });
    try {
      expect(fs.readFileSync(shuffled.planPath, 'utf8')).not.toBe(fs.readFileSync(SHIPPED_PLAN, 'utf8'));
      const b = loadAndResolvePlan(shuffled.planPath, { env: noEnv });
      const c = loadAndResolvePlan(changed.planPath, { env: noEnv });
      if (!a.ok || !b.ok || !c.ok) throw new Error('expected all three to resolve');
      expect(b.digest).toBe(a.digest);
      expect(c.digest).not.toBe(a.digest);
    } finally {
      fs.rmSync(shuffled.root, { recursive: true, force: true });
      fs.rmSync(changed.root, { recursive: true, force: true });
    }
  });

  test('docs/plan.md shows the shipped plan as its example', () => {
    const doc = fs.readFileSync(path.resolve(path.dirname(SHIPPED_PLAN), '../docs/plan.md'), 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(doc);
    expect(example).not.toBeNull();
    expect(JSON.parse(example![1])).toEqual(JSON.parse(fs.readFileSync(SHIPPED_PLAN, 'utf8')));
  });

  test('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });

  test('the Phoenix example configs validate on their own', async () => {
    const dir = path.resolve(path.dirname(SHIPPED_PLAN), '../examples/phoenix/etc');
    const io = captureIo();
    const code = await runValidate(
      { vmConfigs: path.join(dir, 'phoenix_vm_configs.json'), lxcConfigs: path.join(dir, 'phoenix_lxc_configs.json') },
      io,
    );
    expect(io.text()).toContain('Phoenix configs are valid: 3 VMs, 3 containers');
    expect(code).toBe(0);
  });

  test('public keys are read from the file an env var names, at resolve time', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-keys-'));
    try {
      const keyFile = path.join(dir, 'id_ed25519.pub');
      const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq6cl0Zc0u7m3Y4nq9yPj7m1vJ3x5m0cQj0rVtqk1Yb operator@phoenix';
      fs.writeFileSync(keyFile, `# operator\n${key}\n`);
      const result = loadAndResolvePlan(SHIPPED_PLAN, { env: { PHOENIX_SSH_PUBLIC_KEY_FILE: keyFile } });
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      expect(result.plan.vms.map((v) => v.sshPublicKeys)).toEqual([key, key]);
      expect(result.warnings).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
