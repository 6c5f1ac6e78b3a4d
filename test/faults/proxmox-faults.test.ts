/**
 * Fault matrix (issue 10 §2), Proxmox: every API call is 200 ms slow, 20 % of them (reads too) fail transiently, some
 * meet a lock that does not clear at once, and some take effect with the answer lost — including, on purpose, the first
 * clone of each VM, the first backup and the first delete of each CT. The run must complete, and the audit log must
 * show each effect exactly once: one clone per VM, one backup and one delete per CT.
 */
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { activityOutcomes, driveToEnd, effectiveCalls, gatewayBackend, param } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('fault matrix: a flaky, slow, lock-contended Proxmox API', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({
      durations: { verifyBudget: '5s', readinessRecheck: '1s', shutdownTimeout: '2s' },
      proxmoxFaults: {
        seed: 10,
        latencyMs: 200,
        transientRate: 0.2,
        lockRate: 0.1,
        lostResponseRate: 0.05,
        includeReads: true,
        scripted: [
          { method: 'POST', path: /\/qemu\/\d+\/clone$/, shape: 'lost-response', times: 2 },
          { method: 'POST', path: /\/vzdump$/, shape: 'lost-response', times: 1 },
          { method: 'DELETE', path: /\/lxc\/\d+$/, shape: 'lost-response', times: 3 },
        ],
      },
    });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('completes with exactly one effective clone per VM and one backup and one delete per CT', async () => {
    const handle = await mw.start();
    const log: string[] = [];
    const result = await driveToEnd(mw, handle, log);
    if (result.state !== 'COMPLETED')
      throw new Error(`run ended ${result.state}: ${result.failure}\n${log.join('\n')}`);
    expect(result.report?.outcome).toBe('completed');

    // The faults really happened (so the counts below mean something).
    const audit = mw.world.proxmox.audit();
    for (const shape of ['transient', 'lock', 'lost-response'])
      expect(audit.filter((e) => e.fault === shape).length).toBeGreaterThan(0);

    for (const vm of mw.world.plan.vms) {
      expect(
        effectiveCalls(mw.world, 'POST', /\/qemu\/\d+\/clone$/).filter((e) => param(e, 'newid') === String(vm.vmid)),
      ).toHaveLength(vm.adopt ? 0 : 1); // VM 1001 exists before the run and is adopted in place, never cloned
    }
    const deleted = result.report?.decommission.deleted.slice().sort() ?? [];
    expect(deleted).toEqual([951, 952, 953]);
    for (const ctid of [951, 952]) {
      expect(effectiveCalls(mw.world, 'DELETE', new RegExp(`/lxc/${ctid}$`))).toHaveLength(1);
      expect(
        effectiveCalls(mw.world, 'POST', /\/vzdump$/).filter((e) => param(e, 'vmid') === String(ctid)),
      ).toHaveLength(1);
      expect(mw.world.proxmox.guest(ctid)).toBeUndefined();
    }
    expect(effectiveCalls(mw.world, 'DELETE', /\/lxc\/953$/)).toHaveLength(0); // already gone before the run
    expect(mw.world.proxmox.guest(950)).toBeDefined();
    expect(result.report?.backups).toHaveLength(2); // 953 is already gone
    expect(await gatewayBackend(mw.world)).toBe('new');
    // Nothing was given up on: no activity failed for good.
    expect((await activityOutcomes(handle)).filter((o) => o.failed)).toEqual([]);
  }, 150_000);
});
