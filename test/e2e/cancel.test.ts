/**
 * Issue 7: cancelling the run during the soak (after the cutover, before verification passed) restores the gateway in
 * a non-cancellable scope, deletes nothing, and the status (the run has no result when cancelled) says what was done.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { confirmPortainerDeployUpdate, statusQuery } from '../../src/workflows/messages';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { legacyCtsPresent, upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: cancel after the cutover', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ durations: { soak: '60s', soakProbeEvery: '1s' } });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('puts the gateway back and deletes nothing', async () => {
    const before = upstreamServers(mw);
    const handle = await mw.start();
    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    await mw.world.deployStack();
    await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] });
    await mw.waitFor(handle, (s) => s.steps.some((st) => st.name.startsWith('soak') && st.status === 'running'));
    expect(upstreamServers(mw)).toEqual(mw.world.plan.gateway.newServers);

    await handle.cancel();
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(upstreamServers(mw)).toEqual(before);
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
    const status = await handle.query(statusQuery);
    expect(status.outcome).toBe('cancelled');
    expect(status.endReason).toMatch(
      /the run was cancelled; VMs 100[12], 100[12] kept; gateway back on .*; nothing deleted/,
    );
    expect(status.changes?.join('\n')).toMatch(/gateway rolled back to .* \(cancelled\)/);
  }, 120_000);
});
