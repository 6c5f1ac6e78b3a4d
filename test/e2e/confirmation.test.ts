/**
 * Issue 6: the person's confirmation. Too early (Qdrant on the new VM down) it is rejected with the reason and the run
 * keeps waiting — by Update (the caller gets the reason) and by the `portainerDeployed` signal (the reason shows in
 * the status and in the Web UI's details). Approvals are refused while the run does not wait for them.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import {
  approveDecommissionUpdate,
  decommissionApprovedSignal,
  portainerDeployedSignal,
  retryVerificationUpdate,
} from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { MigrationPhaseKey } from '../../src/workflows/search-attributes';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { checkedHistory, currentDetails, legacyCtsPresent } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: confirmation by signal, rejected while Qdrant is down', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld();
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('rejects a premature signal with its reason, keeps waiting, then accepts it', async () => {
    const handle = await mw.start();
    const waiting = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    expect(waiting.planDigest).toBe(mw.world.digest);
    expect(waiting.steps.find((s) => s.name === 'preflight on live state')).toMatchObject({
      status: 'done',
      startedAt: expect.any(String),
      endedAt: expect.any(String),
    });

    // Not waiting for approval: the validator refuses and says what the run waits for.
    const early = handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] });
    await expect(early).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(early).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/not waiting for decommission approval; it waits for portainer-deploy/) },
    });
    await expect(handle.executeUpdate(retryVerificationUpdate, { args: [{ by: 'tester' }] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );
    await expect(handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: ' ' }] })).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/say who you are/) },
    });

    // The signal, too early: rejected with the reason, visible in the status and the Web UI.
    await handle.signal(portainerDeployedSignal, { by: 'signaller' });
    const rejected = await mw.waitFor(handle, (s) =>
      /rejected/.test(s.steps.find((st) => st.name === 'Portainer deploy')?.detail ?? ''),
    );
    expect(rejected.steps.find((s) => s.name === 'Portainer deploy')?.detail).toMatch(
      /Confirmation by signaller rejected: Qdrant on the new VM .* does not answer ready/,
    );
    expect(rejected.waitingFor?.what).toBe('portainer-deploy');
    expect(await currentDetails(handle)).toMatch(/Confirmation by signaller rejected/);
    expect(await currentDetails(handle)).toMatch(/Continue with: `phoenix-migrate confirm-portainer --id /);

    await mw.world.deployStack();
    await handle.signal(portainerDeployedSignal, { by: 'signaller', note: 'deployed by hand' });
    const approval = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'decommission-approval');
    expect(approval.steps.find((s) => s.name === 'Portainer deploy')).toMatchObject({
      status: 'done',
      detail: 'confirmed by signaller',
    });
    // Nothing is deleted before the approval; what will be deleted and what is refused are listed.
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
    expect(approval.waitingFor?.items).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^delete CT 951/),
        expect.stringMatching(/^kept: CT 950 .*qwen_service/),
      ]),
    );
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(MigrationPhaseKey)).toBe('Verification and Decommissioning');
    expect(await desc.staticSummary()).toMatch(/Migration /);

    await handle.signal(decommissionApprovedSignal, { by: 'signaller' });
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    expect(report.operator.map((o) => o.what)).toEqual([
      'confirmPortainerDeploy (rejected)',
      'confirmPortainerDeploy',
      'approveDecommission',
    ]);
    expect(legacyCtsPresent(mw)).toEqual([950]);
    await checkedHistory(mw, handle, 'rejected-confirmation');
  }, 120_000);
});
