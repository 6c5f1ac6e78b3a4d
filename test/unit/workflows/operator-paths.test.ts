/**
 * The ways a person steers a run, on the real workflow with stubbed activities (time-skipping server):
 * a failed verification rolls the gateway back and asks → retry completes; → abort keeps everything; a cancel
 * restores the gateway when it was changed and not yet verified, and leaves it alone otherwise.
 */
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  abortUpdate,
  approveDecommissionUpdate,
  confirmPortainerDeployUpdate,
  retryVerificationUpdate,
  statusQuery,
} from '../../../src/workflows/messages';
import {
  failureOf,
  LEGACY_QDRANT,
  planInput,
  startTimeSkippingServer,
  StubActivities,
  waitForStatus,
  waitUntil,
  withWorker,
  type MigrationHandle,
} from './support';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkippingServer();
});
afterAll(async () => {
  await env?.teardown();
});

const NEW_QDRANT = '10.0.0.102:6333';
const alice = { by: 'alice' };

/** Verification through the gateway fails the first time and passes after that. */
function failingFirstVerification(): StubActivities {
  const answer = (ok: boolean, detail: string) => ({
    ok,
    identitySeen: 'new' as const,
    newId: 'qdrant-new',
    legacyId: 'qdrant-legacy',
    attempts: 3,
    detail,
    collections: [],
  });
  return new StubActivities().answer('verifyGatewayIdentity', (_i, before) =>
    before === 0 ? answer(false, 'collection vscode_rag missing') : answer(true, 'the new Qdrant answered'),
  );
}

async function confirmDeploy(handle: MigrationHandle): Promise<void> {
  await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
  expect(await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [alice] })).toBe('accepted');
}

async function waitForChoice(handle: MigrationHandle) {
  return await waitForStatus(
    handle,
    (s) => s.waitingFor?.what === 'operator-choice-after-failed-verification',
    'the choice after a failed verification',
  );
}

describe('after a failed verification', () => {
  it('rolls the gateway back, asks, and a retry cuts over again, verifies and completes', async () => {
    const stubs = failingFirstVerification();
    const report = await withWorker(env, stubs, async (start) => {
      const handle = await start(planInput());
      await confirmDeploy(handle);
      const asking = await waitForChoice(handle);
      expect(asking.waitingFor?.message).toMatch(/collection vscode_rag missing.*back on 10\.0\.0\.152:6333/);
      expect(stubs.callsOf('rollbackGateway')).toEqual([expect.objectContaining({ previousServers: [LEGACY_QDRANT] })]);
      expect(stubs.callsOf('decommissionGuest')).toEqual([]);

      expect(await handle.executeUpdate(retryVerificationUpdate, { args: [alice] })).toMatch(/retrying/);
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'decommission-approval', 'the approval wait');
      await handle.executeUpdate(approveDecommissionUpdate, { args: [alice] });
      return await handle.result();
    });

    expect(report.outcome).toBe('completed');
    expect(stubs.callsOf('cutoverGateway')).toHaveLength(2);
    expect(stubs.callsOf('verifyGatewayIdentity')).toHaveLength(2);
    expect(stubs.callsOf('rollbackGateway')).toHaveLength(1);
    expect(report.gateway).toMatchObject({ changed: true, rolledBack: false, currentServers: [NEW_QDRANT] });
    expect(report.changes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^gateway rolled back to 10\.0\.0\.152:6333/),
        'verification retried (asked by alice)',
      ]),
    );
    // Nothing but the moved upstream points at a legacy CT here, so the scan refuses none and all four go.
    expect(report.decommission.deleted.sort()).toEqual([950, 951, 952, 953]);
    expect(report.operator.map((o) => o.what)).toEqual(['confirmPortainerDeploy', 'approveDecommission']);
  });

  it('abort: the gateway stays rolled back, the VMs are kept, nothing is deleted', async () => {
    const stubs = failingFirstVerification();
    const report = await withWorker(env, stubs, async (start) => {
      const handle = await start(planInput());
      await confirmDeploy(handle);
      await waitForChoice(handle);
      expect(await handle.executeUpdate(abortUpdate, { args: [alice] })).toMatch(/aborting: nothing is deleted/);
      return await handle.result();
    });

    expect(report.outcome).toBe('aborted');
    expect(report.endReason).toMatch(
      /aborted by alice after a failed verification \(collection vscode_rag missing\); VMs 100[12], 100[12] kept; gateway back on 10\.0\.0\.152:6333; nothing deleted/,
    );
    expect(stubs.callsOf('rollbackGateway')).toHaveLength(1);
    expect(stubs.callsOf('cutoverGateway')).toHaveLength(1);
    expect(stubs.callsOf('decommissionGuest')).toEqual([]);
    expect(report.gateway).toMatchObject({ rolledBack: true, currentServers: [LEGACY_QDRANT] });
  });

  it('abort at the decommission approval: the gateway stays on the verified new servers, nothing deleted', async () => {
    const stubs = new StubActivities();
    await withWorker(env, stubs, async (start) => {
      const handle = await start(planInput());
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
      await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [alice] });
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'decommission-approval', 'the approval wait');
      expect(await handle.executeUpdate(abortUpdate, { args: [alice] })).toMatch(/stays on the verified new servers/);
      const report = await handle.result();
      expect(report.outcome).toBe('aborted');
      expect(report.gateway).toMatchObject({ rolledBack: false, currentServers: [NEW_QDRANT] });
    });
    expect(stubs.callsOf('rollbackGateway')).toEqual([]);
    expect(stubs.callsOf('decommissionGuest')).toEqual([]);
  });
});

describe('cancel', () => {
  it('during the verification (gateway changed, not yet verified): the gateway is restored, nothing deleted', async () => {
    // The verification through the gateway is in flight (it answers only when the test lets it) when the cancel comes.
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    const stubs = new StubActivities().answer('verifyGatewayIdentity', async () => {
      await released;
      return {
        ok: true,
        identitySeen: 'new' as const,
        newId: 'qdrant-new',
        legacyId: 'qdrant-legacy',
        attempts: 1,
        detail: 'too late',
        collections: [],
      };
    });
    try {
      await withWorker(env, stubs, async (start) => {
        const handle = await start(planInput());
        await confirmDeploy(handle);
        await waitUntil(async () => stubs.callsOf('verifyGatewayIdentity').length === 1, 'the verification');
        await handle.cancel();
        const failure = await failureOf(handle);
        expect(failure).toBeInstanceOf(WorkflowFailedError);
        expect(failure.cause).toBeInstanceOf(CancelledFailure);
        const status = await handle.query(statusQuery);
        expect(status.outcome).toBe('cancelled');
        expect(status.endReason).toMatch(
          /the run was cancelled; .*gateway back on 10\.0\.0\.152:6333; nothing deleted/,
        );
        expect(status.changes).toEqual(
          expect.arrayContaining([expect.stringMatching(/^gateway rolled back to 10\.0\.0\.152:6333 \(cancelled\)/)]),
        );
        release(); // before the worker shuts down: it waits for the activities it runs
      });
    } finally {
      release();
    }
    expect(stubs.callsOf('rollbackGateway')).toEqual([expect.objectContaining({ previousServers: [LEGACY_QDRANT] })]);
    expect(stubs.callsOf('decommissionGuest')).toEqual([]);
  });

  it('while waiting for the deploy (gateway never touched): no rollback, nothing deleted', async () => {
    const stubs = new StubActivities();
    await withWorker(env, stubs, async (start) => {
      const handle = await start(planInput());
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
      await handle.cancel();
      expect((await failureOf(handle)).cause).toBeInstanceOf(CancelledFailure);
    });
    expect(stubs.callsOf('cutoverGateway')).toEqual([]);
    expect(stubs.callsOf('rollbackGateway')).toEqual([]);
    expect(stubs.callsOf('decommissionGuest')).toEqual([]);
  });
});
