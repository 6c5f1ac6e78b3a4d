/**
 * The one serializable run state, round-tripped through continue-as-new: a run that continues during the soak (after
 * the cutover and the operator's confirmation) hands the next run a plain-JSON RunState — status, report, operator
 * records, gateway state, the soak's deadline and probe count — and the next run goes on exactly from there.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { MigrationInput } from '../../../src/config/resolved-plan';
import { fetchRunChain } from '../../../src/temporal/history';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate, statusQuery } from '../../../src/workflows/messages';
import {
  HOUR,
  LEGACY_QDRANT,
  MINUTE,
  planInput,
  startTimeSkippingServer,
  StubActivities,
  waitForStatus,
  withWorker,
} from './support';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkippingServer();
});
afterAll(async () => {
  await env?.teardown();
});

describe('RunState across continue-as-new', () => {
  it('is plain JSON and carries the whole run: the continued soak ends after exactly soak / soakProbeEvery probes', async () => {
    const stubs = new StubActivities();
    await withWorker(env, stubs, async (start) => {
      const first = await start(
        planInput(
          (plan) => {
            plan.timings.soakMs = HOUR;
            plan.timings.soakProbeEveryMs = 2 * MINUTE;
          },
          { continueAsNewAfterEvents: 100 },
        ),
      );
      const handle = env.client.workflow.getHandle<(i: MigrationInput) => Promise<unknown>>(first.workflowId);
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
      await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'alice', note: 'v1.12' }] });
      await env.sleep(HOUR + MINUTE);
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'decommission-approval', 'the approval');
      await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'bob' }] });
      await handle.result();

      const chain = await fetchRunChain(env.client.workflow, first.workflowId);
      expect(chain.length).toBeGreaterThanOrEqual(3);
      const carried = chain.slice(1).map(({ history }) => {
        const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        return defaultPayloadConverter.fromPayload<MigrationInput>(payload as never).resume;
      });
      for (const resume of carried) {
        if (!resume) throw new Error('a continued run started without its state');
        // Plain JSON: nothing is lost or changed by serialization (no Set, Map, Date, undefined-only fields…).
        expect(JSON.parse(JSON.stringify(resume))).toEqual(resume);
        expect(resume.gateway).toMatchObject({ changed: true, previousServers: [LEGACY_QDRANT] });
        expect(resume.report.operator).toEqual([
          expect.objectContaining({ what: 'confirmPortainerDeploy', by: 'alice', note: 'v1.12' }),
        ]);
        expect(resume.marks['soak.deadline']).toBeGreaterThan(0);
        expect(resume.status.steps.find((s) => s.name === 'soak 1h')?.status).toBe('running');
        expect(resume.done).toEqual(
          expect.arrayContaining(['Declarative Configuration', 'Infrastructure Provisioning']),
        );
      }
      // One deadline for the whole soak, whichever run carries it.
      expect(new Set(carried.map((r) => r?.marks['soak.deadline'])).size).toBe(1);
      expect(carried.map((r) => r?.runNumber)).toEqual(carried.map((_, i) => i + 1));

      const status = await handle.query(statusQuery);
      expect(status.outcome).toBe('completed');
      expect(status.steps.find((s) => s.name === 'soak 1h')).toMatchObject({
        status: 'done',
        detail: '30 probe(s) passed',
      });
    });
    // Every soak probe (through the gateway) once, none repeated by a continued run; earlier phases never ran again.
    const soakProbes = stubs.callsOf('probeQdrant').filter((p) => p.url === 'http://10.0.0.153/qdrant');
    expect(soakProbes).toHaveLength(30);
    expect(stubs.callsOf('cutoverGateway')).toHaveLength(1);
    expect(stubs.callsOf('ensureVm')).toHaveLength(2);
  });
});
