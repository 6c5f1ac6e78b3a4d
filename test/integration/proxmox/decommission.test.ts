/**
 * decommissionGuest against the simulator: refusals (each with its message), a clean delete of a running CT with
 * a backup, lost responses during vzdump and DELETE, an already deleted CT, and a dry run.
 */
import { createDecommissionActivities, type DecommissionInput } from '../../../src/activities/decommission';
import { createLegacyScanActivities } from '../../../src/activities/legacy-scan';
import { seedFromPhoenixWorld, startProxmoxSim, type ProxmoxSim } from '../../../src/lab/proxmox-sim';
import { BACKUPS, depsFor, failureOf, mutatingSince, retrying, settingsFor } from './helpers';
import { FailureType } from '../../../src/failure-types';

let sim: ProxmoxSim;
const { decommissionGuest } = createDecommissionActivities(depsFor());

const LEGACY = [
  { ctid: 950, name: 'lxc-vllm-embed' },
  { ctid: 951, name: 'lxc-vllm-chat' },
  { ctid: 952, name: 'qdrant-lxc' },
  { ctid: 953, name: 'api-gateway-lxc' },
];
/** CTs with mount points as the real legacy ones have them: volumes without backup=1, and a bind mount. */
const WITH_VOLUMES = [
  {
    ctid: 955,
    name: 'vllm-with-models',
    config: {
      mp0: 'fastData-shared-bulk-data:subvol-955-disk-1,mp=/vllm_models,size=50G',
      mp1: '/quickOS/shared/logs,mp=/logs',
    },
  },
  {
    ctid: 956,
    name: 'qdrant-with-data',
    config: { mp0: 'quickOS-shared-prod-data-volumes:subvol-956-disk-1,mp=/qdrant/storage,size=20G' },
  },
  {
    ctid: 957,
    name: 'pending-flag',
    config: { mp0: 'quickOS-shared-prod-data-volumes:subvol-957-disk-1,mp=/data,size=2G' },
  },
  {
    ctid: 958,
    name: 'unlisted-backup',
    config: { mp0: 'quickOS-shared-prod-data-volumes:subvol-958-disk-1,mp=/data,size=2G' },
  },
];

beforeAll(async () => {
  sim = await startProxmoxSim({
    worlds: [
      seedFromPhoenixWorld({
        legacy: [
          ...LEGACY.map((l) => ({ ...l, ip: `10.0.0.${l.ctid - 800}` })),
          { ctid: 954, name: 'stubborn-lxc', ip: '10.0.0.154' },
          { ctid: 959, name: 'behind-nightly-backup', ip: '10.0.0.159' },
          ...WITH_VOLUMES.map((c) => ({ ...c, ip: `10.0.0.${c.ctid - 800}` })),
        ],
      }),
    ],
    authDelayMs: 50,
    defaultTaskMs: 30,
    taskDurations: { vzdump: 150, vzdestroy: 80 },
  });
  sim.guest(954)!.ignoresShutdown = true;
});
afterAll(async () => {
  await sim.stop();
});

function input(ctid: number, overrides: Partial<DecommissionInput> = {}): DecommissionInput {
  const name =
    [...LEGACY, ...WITH_VOLUMES].find((l) => l.ctid === ctid)?.name ??
    { 954: 'stubborn-lxc', 959: 'behind-nightly-backup' }[ctid] ??
    'unknown';
  return {
    proxmox: settingsFor(sim, 'PMX_SECRET_D'),
    guest: { ctid, name, node: 'pve' },
    legacyCtids: [950, 951, 952, 953, 954, 955, 956, 957, 958, 959],
    protectedVmids: { template: 9000, gateway: 101, targets: [1001, 1002] },
    backups: BACKUPS,
    shutdownTimeoutMs: 1_000,
    ...overrides,
  };
}

describe('the legacy CTs as the node has them (inspectLegacyGuests)', () => {
  it('tells present CTs from an absent one, reading the cluster guest list once for all of them', async () => {
    const { inspectLegacyGuests } = createLegacyScanActivities({ ...depsFor(), env: process.env });
    const from = sim.audit().length;
    const live = await inspectLegacyGuests({
      proxmox: settingsFor(sim, 'PMX_SECRET_D'),
      guests: [950, 951, 952, 999].map((ctid) => ({ ctid, node: 'pve' })),
    });
    expect(live.map((g) => [g.ctid, g.exists, g.name])).toEqual([
      [950, true, 'lxc-vllm-embed'],
      [951, true, 'lxc-vllm-chat'],
      [952, true, 'qdrant-lxc'],
      [999, false, undefined],
    ]);
    expect(live[0].addresses).toContain('10.0.0.150');
    const lists = sim
      .audit()
      .slice(from)
      .filter((e) => e.path.includes('/cluster/resources'));
    expect(lists).toHaveLength(1);
  });
});

describe('refusals', () => {
  it('refuses a protected CT and says how to lift protection', async () => {
    sim.guest(950)!.config.protection = 1;
    const err = await failureOf(decommissionGuest(input(950)));
    expect(err).toMatchObject({ type: FailureType.GuestProtected, nonRetryable: true });
    expect(err.message).toContain('pct set 950 --protection 0');
    expect(sim.guest(950)).toBeDefined();
    delete sim.guest(950)!.config.protection;
  });

  it('refuses a CT that is not in the legacy list', async () => {
    const err = await failureOf(decommissionGuest(input(951, { legacyCtids: [950, 952] })));
    expect(err).toMatchObject({ type: FailureType.NotALegacyGuest, nonRetryable: true });
    expect(err.message).toContain('CT 951 is not in the plan');
  });

  it('refuses the gateway and a target vmid, even when listed', async () => {
    const gw = await failureOf(
      decommissionGuest(input(101, { guest: { ctid: 101, name: 'nginx-gateway', node: 'pve' }, legacyCtids: [101] })),
    );
    expect(gw).toMatchObject({ type: FailureType.ProtectedGuest, nonRetryable: true });
    expect(gw.message).toContain('is the gateway');
    const target = await failureOf(
      decommissionGuest(input(1002, { guest: { ctid: 1002, name: 'qdrant-vm', node: 'pve' }, legacyCtids: [1002] })),
    );
    expect(target).toMatchObject({ type: FailureType.ProtectedGuest, nonRetryable: true });
    expect(target.message).toContain('target VM');
    expect(sim.guest(101)).toBeDefined();
  });

  it('refuses a CT whose name is not the expected one', async () => {
    const err = await failureOf(
      decommissionGuest(input(951, { guest: { ctid: 951, name: 'something-else', node: 'pve' } })),
    );
    expect(err).toMatchObject({ type: FailureType.GuestNameMismatch, nonRetryable: true });
  });

  it('refuses a CT that has no pinned name (it was absent at preflight) when a guest holds its id now', async () => {
    const from = sim.audit().length;
    const err = await failureOf(decommissionGuest(input(951, { guest: { ctid: 951, node: 'pve' } })));
    expect(err).toMatchObject({ type: FailureType.GuestNameMismatch, nonRetryable: true });
    expect(err.message).toContain('was absent at preflight');
    expect(
      sim
        .audit()
        .slice(from)
        .filter((e) => e.method !== 'GET'),
    ).toEqual([]);
    expect(sim.guest(951)).toBeDefined();
  });
});

describe('deleting', () => {
  it('dry run changes nothing and says what it would do', async () => {
    const from = sim.audit().length;
    const r = await decommissionGuest(input(952, { dryRun: true }));
    expect(r.outcome).toBe('would-delete');
    expect(r.steps.join('\n')).toMatch(/would shut down, then back up[\s\S]*would delete/);
    expect(mutatingSince(sim, from)).toEqual([]);
  });

  it('backs up and deletes a running CT cleanly, returning the backup volume id', async () => {
    expect(sim.guest(952)!.status).toBe('running');
    const r = await decommissionGuest(input(952));
    expect(r.outcome).toBe('deleted');
    expect(r.backupVolid).toMatch(/^local:backup\/vzdump-lxc-952-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.tar\.zst$/);
    expect(r.steps).toEqual(
      expect.arrayContaining(['shutdown (timeout 1 s)', 'delete (purge, destroy unreferenced disks)', 'verified gone']),
    );
    expect(sim.guest(952)).toBeUndefined();
    const backup = sim.state.backups.local.find((b) => b.volid === r.backupVolid);
    expect(backup).toMatchObject({ vmid: 952, protected: 1 });
    expect(backup!.notes).toContain('phoenix-migrate');
    const del = sim.audit().find((e) => e.method === 'DELETE' && e.path === '/api2/json/nodes/pve/lxc/952');
    expect(del?.params).toEqual({ purge: '1', 'destroy-unreferenced-disks': '1' });
  });

  it('deleting an already deleted CT succeeds as "already absent"', async () => {
    const r = await decommissionGuest(input(952));
    expect(r).toMatchObject({ ctid: 952, outcome: 'already-absent' });
  });

  it('lost responses during vzdump and DELETE make no second backup and no error', async () => {
    sim.setFaults({
      scripted: [
        { method: 'POST', path: '/nodes/pve/vzdump', shape: 'lost-response' },
        { method: 'DELETE', path: '/lxc/951', shape: 'lost-response' },
      ],
    });
    const r = await retrying(() => decommissionGuest(input(951)));
    expect(r.outcome).toBe('deleted');
    expect(sim.state.backups.local.filter((b) => b.vmid === 951)).toHaveLength(1);
    expect(r.backupVolid).toBe(sim.state.backups.local.find((b) => b.vmid === 951)!.volid);
    expect(sim.audit().filter((e) => e.path.endsWith('/vzdump') && e.params.vmid === '951')).toHaveLength(1);
    expect(sim.guest(951)).toBeUndefined();
  });

  it("a later attempt reuses today's backup instead of making another", async () => {
    // The backup exists (made by a previous attempt) but the CT is still there.
    sim.setFaults({ scripted: [{ method: 'DELETE', path: '/lxc/953', shape: 'transient', times: 2 }] });
    const oneTry = createDecommissionActivities({ ...depsFor(), attempts: 2 });
    const first = await failureOf(oneTry.decommissionGuest(input(953)));
    expect(first.nonRetryable).toBe(false);
    sim.setFaults({ scripted: [] });
    const r = await decommissionGuest(input(953));
    expect(r.outcome).toBe('deleted');
    expect(r.steps[1]).toMatch(/^backup exists local:backup\/vzdump-lxc-953-/);
    expect(sim.state.backups.local.filter((b) => b.vmid === 953)).toHaveLength(1);
  });

  it('volumes the plan keeps are in the backup: shut down, backup=1, vzdump (log names mp0), listed, then DELETE', async () => {
    const from = sim.audit().length;
    const r = await decommissionGuest(
      input(955, { guest: { ctid: 955, name: 'vllm-with-models', node: 'pve', volumes: { mp0: 'backup' } } }),
    );
    expect(r.outcome).toBe('deleted');
    expect(r.backup).toMatchObject({ volid: r.backupVolid, mountPointsIncluded: ['mp0'] });
    expect(r.backup!.size).toBeGreaterThan(0);
    // The bind mount is reported (it stays on the host), not backed up.
    expect(r.bindMounts).toEqual([{ key: 'mp1', hostPath: '/quickOS/shared/logs', path: '/logs' }]);
    const calls = sim
      .audit()
      .slice(from)
      .filter((e) => e.method !== 'GET' && e.status < 300);
    const order = calls.map((e) => `${e.method} ${e.path.replace('/api2/json/nodes/pve', '')}`);
    const at = (what: string) => order.findIndex((o) => o.startsWith(what));
    expect(at('POST /lxc/955/status/shutdown')).toBeGreaterThanOrEqual(0);
    expect(at('POST /lxc/955/status/shutdown')).toBeLessThan(at('PUT /lxc/955/config'));
    expect(at('PUT /lxc/955/config')).toBeLessThan(at('POST /vzdump'));
    expect(at('POST /vzdump')).toBeLessThan(at('DELETE /lxc/955'));
    expect(String(calls[at('PUT /lxc/955/config')].params.mp0)).toBe(
      'fastData-shared-bulk-data:subvol-955-disk-1,mp=/vllm_models,size=50G,backup=1',
    );
  });

  it('an undecided volume is refused before anything changes, naming CT, mount point, size and both choices', async () => {
    const from = sim.audit().length;
    const err = await failureOf(decommissionGuest(input(956)));
    expect(err.type).toBe('VolumeUndecided');
    expect(err.message).toMatch(/CT 956 .*mp0 \/qdrant\/storage \(20 GB\).*"backup" or "discard"/);
    expect(mutatingSince(sim, from)).toEqual([]);
    expect(sim.guest(956)).toBeDefined();
  });

  it('a backup=1 change left pending on a running CT is not trusted: applied on the stopped CT before vzdump', async () => {
    const g = sim.guest(957)!;
    // What `pct set 957 --mp0 …,backup=1` does while it runs: pending until the next start.
    g.pending.mp0 = `${String(g.config.mp0)},backup=1`;
    const r = await decommissionGuest(
      input(957, { guest: { ctid: 957, name: 'pending-flag', node: 'pve', volumes: { mp0: 'backup' } } }),
    );
    expect(r.outcome).toBe('deleted');
    expect(r.backup?.mountPointsIncluded).toEqual(['mp0']);
    expect(r.steps.join('\n')).toMatch(/backup=1 on mp0 \(\/data\)/);
  });

  it('a backup missing from the storage listing stops the delete', async () => {
    sim.state.unlistedBackupVmids = [958];
    try {
      const err = await failureOf(
        decommissionGuest(
          input(958, { guest: { ctid: 958, name: 'unlisted-backup', node: 'pve', volumes: { mp0: 'backup' } } }),
        ),
      );
      expect(err.type).toBe('BackupNotVerified');
      expect(err.message).toMatch(/not in the listing of storage local.*CT 958 was NOT deleted/);
      expect(sim.guest(958)).toBeDefined();
      expect(sim.audit().filter((e) => e.method === 'DELETE' && e.path.endsWith('/lxc/958'))).toEqual([]);
    } finally {
      sim.state.unlistedBackupVmids = [];
    }
  });

  it('a lost vzdump answer for a CT with a kept volume makes no second backup: the retry finds the task just ended', async () => {
    // The retry waits for the running vzdump, then proves today's backup from that task's log — the task ended a
    // moment ago, so the node may not have archived it yet (it is still in the active list).
    sim.setFaults({ scripted: [{ method: 'POST', path: '/nodes/pve/vzdump', shape: 'lost-response' }] });
    const r = await retrying(() =>
      decommissionGuest(
        input(956, { guest: { ctid: 956, name: 'qdrant-with-data', node: 'pve', volumes: { mp0: 'backup' } } }),
      ),
    );
    expect(r.outcome).toBe('deleted');
    expect(r.backup?.mountPointsIncluded).toEqual(['mp0']);
    expect(sim.state.backups.local.filter((b) => b.vmid === 956)).toHaveLength(1);
    expect(sim.audit().filter((e) => e.path.endsWith('/vzdump') && e.params.vmid === '956')).toHaveLength(1);
  });

  it("the node's scheduled backup job holds the backup lock past a task wait: the CT's vzdump waits its turn, never a second one", async () => {
    // PVE runs one vzdump job per node at a time: the nightly backup of every guest on the node (the fault starts it
    // just before our vzdump) holds the lock, so ours waits ("trying to get global lock") longer than an attempt
    // waits for a task. The nightly job backs up CT 959 too — an archive that is not ours.
    sim.setFaults({ scheduledBackupJobMs: 1_500 });
    const said: string[] = [];
    const log = { info: (m: string) => said.push(m), warn: () => undefined };
    const patient = createDecommissionActivities({ ...depsFor(), taskTimeoutMs: 300, log });
    const from = sim.audit().length;
    const r = await retrying(() => patient.decommissionGuest(input(959)));
    expect(r.outcome).toBe('deleted');
    const ours = sim
      .audit()
      .slice(from)
      .filter((e) => e.path.endsWith('/vzdump'));
    expect(ours.map((e) => e.params.vmid)).toEqual(['959']);
    const nightly = sim.state.tasks.find((t) => t.type === 'vzdump' && t.user === 'root@pam')!;
    expect(nightly.log[0]).toMatch(/^INFO: starting new backup job: vzdump --all 1 /);
    const job = sim.state.tasks.find((t) => t.type === 'vzdump' && t.id === '959')!;
    expect(job.log).toContain('INFO: trying to get global lock - waiting...');
    expect(job.runsFromMs).toBeGreaterThanOrEqual(nightly.startedAtMs + 1_500);
    expect(said).toContain(
      'backup 959 (queued behind another backup job on pve): the node runs one vzdump job at a time',
    );
    // Two archives of CT 959: the nightly one and ours; the run's is the one it made, with its marker.
    const archives = sim.state.backups.local.filter((b) => b.vmid === 959);
    expect(archives.map((b) => b.notes)).toEqual([
      'behind-nightly-backup',
      'phoenix-migrate: behind-nightly-backup (CT 959) before decommission',
    ]);
    expect(r.backupVolid).toBe(archives[1].volid);
  });

  it('stops a CT that ignores the clean shutdown', async () => {
    const r = await decommissionGuest(input(954, { backups: { ...BACKUPS, enabled: false } }));
    expect(r.outcome).toBe('deleted');
    expect(r.backupVolid).toBeUndefined();
    expect(r.steps).toContain('stop');
  });
});
