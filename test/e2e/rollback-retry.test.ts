/**
 * Issue 7: a failed verification rolls the gateway back before the run asks; `retryVerification` redoes the cutover
 * and the verification, which then pass. Verification fails here because an expected collection is missing on the new
 * Qdrant; it is created before the retry.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import {
  approveDecommissionUpdate,
  confirmPortainerDeployUpdate,
  retryVerificationUpdate,
} from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { checkedHistory, legacyCtsPresent, upstreamServers } from './support';
import { continueCommandFor } from '../../src/workflows/continue-commands';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: failed verification → rollback → retry', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({
      expectedCollections: [{ name: 'vscode_rag' }],
      // no copy before the cutover: the new Qdrant starts empty, so the first verification fails on the collection
      dataMode: 'none',
      durations: { verifyBudget: '2s' },
    });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('rolls back, waits for the choice, and completes after a retry', async () => {
    const before = upstreamServers(mw);
    const handle = await mw.start();
    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    await mw.world.deployStack();
    await expect(handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] })).resolves.toBe(
      'accepted',
    );

    const choice = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'operator-choice-after-failed-verification');
    expect(choice.waitingFor?.message).toMatch(/vscode_rag/);
    expect(continueCommandFor(choice.waitingFor!.what, choice.workflowId)).toMatch(
      /phoenix-migrate retry-verification .*phoenix-migrate abort/,
    );
    expect(choice.steps.find((s) => s.name === 'verification through the gateway')?.status).toBe('failed');
    expect(choice.steps.find((s) => s.name === 'gateway rollback')?.status).toBe('done');
    expect(upstreamServers(mw)).toEqual(before); // rolled back before the run asks
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
    await expect(handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );

    mw.world.newQdrant.setCollections([{ name: 'vscode_rag', points: 10 }]);
    await expect(handle.executeUpdate(retryVerificationUpdate, { args: [{ by: 'tester' }] })).resolves.toMatch(
      /retrying/,
    );
    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'decommission-approval');
    expect(upstreamServers(mw)).toEqual(mw.world.plan.gateway.newServers);
    await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] });

    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    expect(report.changes.join('\n')).toMatch(/gateway rolled back to .*verification retried \(asked by tester\)/s);
    expect(report.gateway).toMatchObject({
      changed: true,
      rolledBack: false,
      currentServers: mw.world.plan.gateway.newServers,
      previousServers: before,
    });
    // CT 952 holds the legacy Qdrant's data and this run copies none (data mode "none"): the data gate keeps it.
    expect(report.decommission.deleted.sort()).toEqual([951, 953]);
    expect(report.decommission.refused.find((r) => r.ctid === 952)?.reason).toMatch(/collection|data/i);
    await checkedHistory(mw, handle, 'rollback-retry');
  }, 120_000);
});
