/**
 * Issue 7: the gateway's own check after the cutover fails (the new Qdrant answers ready to the confirmation's probe,
 * then not any more): the gateway is rolled back, the run asks, and `abort` leaves the end state of docs/end-states.md —
 * VMs kept and reported, gateway on its previous servers, nothing deleted, the result says what was done.
 */
import { abortUpdate, confirmPortainerDeployUpdate, statusQuery } from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { checkedHistory, legacyCtsPresent, mutatingCalls, upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: failed verification → abort', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ durations: { verifyBudget: '2s' } });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('rolls back and ends aborted with VMs kept and nothing deleted', async () => {
    const before = upstreamServers(mw);
    const handle = await mw.start();
    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    await mw.world.deployStack();
    // Ready for the confirmation's one probe, then not ready any more (deterministic: no race with the cutover).
    await mw.world.newQdrant.setReady({ flap: ['ready', ...Array<'not-ready'>(200).fill('not-ready')] });
    await expect(handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] })).resolves.toBe(
      'accepted',
    );

    const choice = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'operator-choice-after-failed-verification');
    expect(choice.steps.find((s) => s.name === 'gateway cutover')?.status).toBe('done');
    expect(choice.steps.find((s) => s.name === 'verification through the gateway')).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/the new Qdrant answers through the gateway but is not ready.*budget of 2000 ms/),
    });
    expect(upstreamServers(mw)).toEqual(before);
    const mutatingBefore = mutatingCalls(mw).length;

    await expect(
      handle.executeUpdate(abortUpdate, { args: [{ by: 'tester', note: 'new Qdrant broken' }] }),
    ).resolves.toMatch(/gateway is put back/);
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('aborted');
    expect(report.endReason).toMatch(
      /aborted by tester after a failed verification \(.*not ready.*\); VMs 100[12], 100[12] kept; gateway back on /,
    );
    expect(report.vms.map((v) => v.vmid).sort()).toEqual([1001, 1002]);
    expect(report.gateway).toMatchObject({
      changed: true,
      rolledBack: true,
      currentServers: before,
      previousServers: before,
    });
    expect(report.decommission.deleted).toEqual([]);
    expect(upstreamServers(mw)).toEqual(before);
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
    expect(mutatingCalls(mw)).toHaveLength(mutatingBefore); // nothing changed in Proxmox after the abort
    for (const vm of mw.world.plan.vms) expect(mw.world.proxmox.guest(vm.vmid)).toBeDefined();
    expect((await handle.query(statusQuery)).outcome).toBe('aborted');
    await checkedHistory(mw, handle, 'abort');
  }, 120_000);
});
