/**
 * Issue 6: the worker is killed while Phase 3 clones (the simulator's qmclone takes 3 s, so the stop lands inside the
 * clone task) and started again: the run completes, and the Proxmox audit log shows exactly one effective clone per VM.
 */
import { approveDecommissionUpdate, confirmPortainerDeployUpdate } from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { effectiveClones, sleepMs } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: worker killed during Phase 3', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ taskDurations: { qmclone: 3000 } });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('completes after a restart with no duplicate clone', async () => {
    const handle = await mw.start();
    await mw.waitFor(
      handle,
      (s) =>
        s.phase === 'Infrastructure Provisioning' &&
        s.steps.some((st) => st.name.startsWith('VM ') && st.status === 'running'),
    );
    // Wait until every clone was requested (VM 1001 exists and is adopted: only 1002 is cloned), so the stop lands
    // inside the clone task.
    const cloned = mw.world.plan.vms.filter((vm) => !vm.adopt).length;
    expect(cloned).toBeGreaterThanOrEqual(1);
    const deadline = Date.now() + 20_000;
    while (
      mw.world.proxmox.audit().filter((e) => e.method === 'POST' && /\/clone$/.test(e.path)).length < cloned &&
      Date.now() < deadline
    )
      await sleepMs(100);
    const running = mw.world.proxmox.audit().filter((e) => e.method === 'POST' && /\/clone$/.test(e.path));
    expect(running.length).toBeGreaterThanOrEqual(cloned);
    // The stop is requested while the 3 s clone tasks run. (The SDK's graceful shutdown lets the in-flight ensureVm
    // finish: activities do not watch cancellation; the new worker then replays the run and carries on.)
    const stopAt = Date.now();
    for (const e of running) expect(stopAt - Date.parse(e.time)).toBeLessThan(3000);
    await mw.stopWorker();
    expect(mw.worker.getState()).toBe('STOPPED');
    await mw.restartWorker();

    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 120_000);
    await mw.world.deployStack();
    await expect(handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] })).resolves.toBe(
      'accepted',
    );
    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'decommission-approval');
    await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] });
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    for (const vm of mw.world.plan.vms) expect(effectiveClones(mw, vm.vmid)).toHaveLength(vm.adopt ? 0 : 1);
    expect(report.vms.map((v) => v.vmid).sort()).toEqual([1001, 1002]);
  }, 180_000);
});
