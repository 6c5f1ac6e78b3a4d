/**
 * ensureVm against the simulator over real HTTPS: from nothing, a second run, a half-made VM, faults of both
 * shapes, a foreign guest, pending changes, and credentials/TLS that must fail fast.
 */
import { createVmActivities } from '../../../src/activities/vms';
import { createProxmoxApi, decodeSshKeys, waitForTask } from '../../../src/proxmox';
import { seedFromPhoenixWorld, startProxmoxSim, type ProxmoxSim } from '../../../src/lab/proxmox-sim';
import { depsFor, failureOf, mutatingSince, OWNER_TAG, settingsFor, SSH_KEYS, vmSpec } from './helpers';
import { FailureType } from '../../../src/failure-types';

let sim: ProxmoxSim;
const deps = depsFor();
const { ensureVm } = createVmActivities(deps);

beforeAll(async () => {
  sim = await startProxmoxSim({
    worlds: [seedFromPhoenixWorld({ templateDiskGb: 32 })],
    authDelayMs: 50,
    defaultTaskMs: 40,
    agentDelayMs: 150,
    taskDurations: { qmclone: 150 },
    faults: { seed: 7 },
  });
});
afterAll(async () => {
  await sim.stop();
});

describe('from nothing', () => {
  it('creates 1002 and 1001, configured, resized, running and ready', async () => {
    const proxmox = settingsFor(sim, 'PMX_SECRET_A');
    const [r2, r1] = await Promise.all([
      ensureVm({ proxmox, vm: vmSpec(1002, 'qdrant-vm') }),
      ensureVm({
        proxmox,
        vm: vmSpec(1001, 'portainer-vm', {
          cores: 2,
          memoryMb: 4096,
          diskSizeGb: 40,
          startup: { order: 1 },
          tags: [OWNER_TAG, 'portainer'],
        }),
      }),
    ]);
    expect(r2).toMatchObject({ vmid: 1002, created: true, rebootRequired: false, ready: true });
    expect(r2.changes).toEqual(
      expect.arrayContaining([
        'clone 9000 → 1002',
        'set cores 4',
        'set memory 8192',
        'resize scsi0 32G → 64G',
        'start',
      ]),
    );
    expect(r1).toMatchObject({ vmid: 1001, created: true, ready: true });
    const g = sim.guest(1002)!;
    expect(g.status).toBe('running');
    expect(g.lock).toBeUndefined();
    expect(g.config).toMatchObject({
      cores: 4,
      memory: '8192',
      onboot: 1,
      startup: 'order=2,up=30',
      ipconfig0: 'ip=10.0.0.102/24,gw=10.0.0.1',
      agent: 'enabled=1',
      nameserver: '10.0.0.1',
      ciuser: 'phoenix',
    });
    expect(String(g.config.scsi0)).toContain('size=64G');
    expect(String(g.config.tags).split(';')).toEqual(expect.arrayContaining([OWNER_TAG, 'qdrant']));
    expect(decodeSshKeys(String(g.config.sshkeys))).toEqual(SSH_KEYS.split('\n'));
    expect(String(sim.guest(1001)!.config.scsi0)).toContain('size=40G');
  });

  it('a second run makes zero mutating calls', async () => {
    const proxmox = settingsFor(sim, 'PMX_SECRET_A');
    const from = sim.audit().length;
    const r = await ensureVm({ proxmox, vm: vmSpec(1002, 'qdrant-vm') });
    expect(r).toEqual({
      vmid: 1002,
      created: false,
      adopted: false,
      diskGb: 64,
      changes: [],
      rebootRequired: false,
      ready: true,
    });
    expect(mutatingSince(sim, from)).toEqual([]);
  });
});

describe('half-made and changed VMs', () => {
  it('completes a VM left cloned but not configured, resized or started', async () => {
    const proxmox = settingsFor(sim, 'PMX_SECRET_A');
    const api = createProxmoxApi({
      apiUrl: sim.url,
      tls: { mode: 'fingerprint', sha256: sim.fingerprint },
      tokenId: sim.tokenId,
      tokenSecret: sim.tokenSecret,
    });
    // What a crash right after the clone leaves behind: our marker in the description, nothing else.
    const upid = await api.qemu.clone('pve', 9000, {
      newid: 1003,
      name: 'half-made',
      full: true,
      storage: 'local-lvm',
      description: 'Created by phoenix-migrate (owner tag: phoenix-migrate) from template 9000.',
    });
    await waitForTask(api, upid, { minIntervalMs: 20 });
    await api.close();
    const r = await ensureVm({ proxmox, vm: vmSpec(1003, 'half-made') });
    expect(r.created).toBe(false);
    expect(r.changes).not.toContain('clone 9000 → 1003');
    expect(r.changes).toEqual(expect.arrayContaining(['set cores 4', 'resize scsi0 32G → 64G', 'start']));
    expect(r.ready).toBe(true);
    expect(sim.guest(1003)).toMatchObject({ status: 'running', config: expect.objectContaining({ cores: 4 }) });
  });

  it('reports a changed spec on a running VM as "reboot required" instead of hiding it', async () => {
    const r = await ensureVm({
      proxmox: settingsFor(sim, 'PMX_SECRET_A'),
      vm: vmSpec(1003, 'half-made', { cores: 6 }),
    });
    expect(r.rebootRequired).toBe(true);
    expect(r.changes).toEqual(['set cores 6', 'reboot required (pending: cores)']);
    expect(sim.guest(1003)!.config.cores).toBe(4);
    expect(sim.guest(1003)!.pending.cores).toBe(6);
  });

  it('refuses to shrink a disk, non-retryable', async () => {
    const err = await failureOf(
      ensureVm({ proxmox: settingsFor(sim, 'PMX_SECRET_A'), vm: vmSpec(1002, 'qdrant-vm', { diskSizeGb: 16 }) }),
    );
    expect(err).toMatchObject({ type: FailureType.DiskShrinkRefused, nonRetryable: true });
    expect(err.message).toContain('cannot shrink');
  });

  it('dry run on an absent VM only reads and lists what it would do', async () => {
    const from = sim.audit().length;
    const r = await ensureVm({ proxmox: settingsFor(sim, 'PMX_SECRET_A'), vm: vmSpec(1009, 'dry-vm'), dryRun: true });
    expect(r.changes).toEqual(
      expect.arrayContaining(['clone 9000 → 1009', 'set cores 4', 'resize scsi0 32G → 64G', 'start']),
    );
    expect(r).toMatchObject({ created: false, ready: false });
    expect(mutatingSince(sim, from)).toEqual([]);
    expect(sim.guest(1009)).toBeUndefined();
  });
});

describe('foreign guests', () => {
  it('refuses a vmid taken by a VM that is not ours', async () => {
    sim.addGuest({ vmid: 1020, type: 'qemu', name: 'someones-vm', node: 'pve', status: 'running' });
    const from = sim.audit().length;
    const err = await failureOf(ensureVm({ proxmox: settingsFor(sim, 'PMX_SECRET_A'), vm: vmSpec(1020, 'qdrant-vm') }));
    expect(err).toMatchObject({ type: FailureType.VmidTakenByForeignGuest, nonRetryable: true });
    expect(err.message).toContain('vmid 1020');
    expect(err.message).toContain('someones-vm');
    expect(mutatingSince(sim, from)).toEqual([]);
  });

  it('refuses a vmid taken by a container', async () => {
    const err = await failureOf(ensureVm({ proxmox: settingsFor(sim, 'PMX_SECRET_A'), vm: vmSpec(952, 'qdrant-vm') }));
    expect(err).toMatchObject({ type: FailureType.VmidTakenByForeignGuest, nonRetryable: true });
    expect(err.message).toContain('lxc');
  });
});

describe('credentials and TLS fail fast', () => {
  it('401: non-retryable, one attempt, names the env var and not the secret', async () => {
    process.env.PMX_BAD_SECRET = 'not-the-secret';
    const proxmox = { ...settingsFor(sim, 'PMX_SECRET_A'), tokenSecret: { env: 'PMX_BAD_SECRET' } };
    const from = sim.audit().length;
    const err = await failureOf(ensureVm({ proxmox, vm: vmSpec(1002, 'qdrant-vm') }));
    expect(err).toMatchObject({ type: FailureType.ProxmoxAuth, nonRetryable: true });
    expect(err.message).toContain('PMX_BAD_SECRET');
    expect(err.message).not.toContain('not-the-secret');
    expect(
      sim
        .audit()
        .slice(from)
        .filter((e) => e.status === 401),
    ).toHaveLength(1);
  });

  it('403: non-retryable with the missing privilege', async () => {
    const denied = await startProxmoxSim({
      worlds: [seedFromPhoenixWorld()],
      tokens: [{ tokenId: 'ro@pve!audit', secret: 'ro', role: 'audit' }],
      authDelayMs: 50,
    });
    try {
      const err = await failureOf(
        ensureVm({ proxmox: settingsFor(denied, 'PMX_SECRET_RO'), vm: vmSpec(1002, 'qdrant-vm') }),
      );
      expect(err).toMatchObject({ type: FailureType.ProxmoxPermission, nonRetryable: true });
      expect(err.message).toContain('Permission check failed (/vms/9000, VM.Clone)');
    } finally {
      await denied.stop();
    }
  });

  it('wrong fingerprint: non-retryable, names both fingerprints, nothing reaches the API', async () => {
    const wrong = 'AA:'.repeat(31) + 'AA';
    const from = sim.audit().length;
    const err = await failureOf(
      ensureVm({
        proxmox: settingsFor(sim, 'PMX_SECRET_A', { tls: { mode: 'fingerprint', sha256: wrong } }),
        vm: vmSpec(1002, 'qdrant-vm'),
      }),
    );
    expect(err).toMatchObject({ type: FailureType.ProxmoxTls, nonRetryable: true });
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(sim.fingerprint);
    expect(sim.audit().length).toBe(from);
  });

  it('a missing secret env var is named, non-retryable', async () => {
    delete process.env.PMX_NOT_SET;
    const proxmox = { ...settingsFor(sim, 'PMX_SECRET_A'), tokenSecret: { env: 'PMX_NOT_SET' } };
    const err = await failureOf(Promise.resolve().then(() => ensureVm({ proxmox, vm: vmSpec(1002, 'qdrant-vm') })));
    expect(err.message).toContain('PMX_NOT_SET');
  });
});
