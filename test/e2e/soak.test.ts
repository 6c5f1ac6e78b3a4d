/**
 * Issue 7: the soak probes through the gateway; a failed probe stops the run before deletion (the gateway is rolled
 * back and the run asks), and the approval is never asked for.
 */
import { abortSignal, confirmPortainerDeployUpdate } from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { legacyCtsPresent, upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: a failed soak probe', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ durations: { soak: '30s', soakProbeEvery: '1s', verifyBudget: '2s' } });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('stops before deletion', async () => {
    const before = upstreamServers(mw);
    const handle = await mw.start();
    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    await mw.world.deployStack();
    await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] });
    await mw.waitFor(handle, (s) =>
      s.steps.some((st) => st.name.startsWith('soak') && st.status === 'running' && Date.parse(st.startedAt ?? '') > 0),
    );
    await mw.world.newQdrant.setReady('not-ready');

    const choice = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'operator-choice-after-failed-verification');
    expect(choice.waitingFor?.message).toMatch(/soak probe \d+ through the gateway failed/);
    expect(choice.steps.some((s) => s.name === 'decommission approval')).toBe(false);
    expect(upstreamServers(mw)).toEqual(before);
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);

    await handle.signal(abortSignal, { by: 'tester' });
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('aborted');
    expect(report.decommission.deleted).toEqual([]);
  }, 120_000);
});
