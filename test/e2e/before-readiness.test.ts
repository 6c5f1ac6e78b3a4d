/**
 * Issue 6: a confirmation before readiness is refused with the reason (the run waits for readiness, not for the deploy)
 * and the run keeps waiting; `abort` while it waits ends it with nothing downstream changed.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { abortUpdate, confirmPortainerDeployUpdate } from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { legacyCtsPresent, upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: confirmation before readiness', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ durations: { readinessRecheck: '1s' } });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('refuses the confirmation while readiness is missing, keeps waiting, and aborts cleanly', async () => {
    const before = upstreamServers(mw);
    await mw.world.portainer.stop(); // Portainer is not up yet: readiness cannot pass
    const handle = await mw.start();
    const waiting = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'readiness');
    expect(waiting.waitingFor?.items.join('\n')).toMatch(
      /Portainer does not answer .* — fix: start the Portainer server stack/,
    );

    const early = handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] });
    await expect(early).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(early).rejects.toMatchObject({
      cause: {
        message: expect.stringMatching(/not waiting for the Portainer deploy confirmation; it waits for readiness/),
      },
    });
    expect((await mw.waitFor(handle, (s) => s.waitingFor?.what === 'readiness')).phase).toBe(
      'Application Deployment and Cutover',
    );

    await expect(handle.executeUpdate(abortUpdate, { args: [{ by: 'tester' }] })).resolves.toMatch(
      /nothing is deleted/,
    );
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('aborted');
    expect(report.endReason).toMatch(
      /aborted by tester; VMs 100[12], 100[12] kept; gateway never touched; nothing deleted/,
    );
    expect(report.gateway.changed).toBe(false);
    expect(upstreamServers(mw)).toEqual(before);
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
  }, 120_000);
});
