/**
 * Item 2 of issue 14, in virtual time: the readiness wait has a deadline (ReadinessTimeout, nothing changed
 * downstream), and long waits continue as new — the run's state (status, report, operator records, gateway, the
 * deadlines and reminder rhythm of its waits) carried across, so the migration reads the same from start to end.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { fetchRunChain, historyExportJSON, parseHistoryExport } from '../../../src/temporal/history';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate, statusQuery } from '../../../src/workflows/messages';
import type { MigrationReport } from '../../../src/workflows/report';
import {
  failureOf,
  HOUR,
  MINUTE,
  planInput,
  startTimeSkippingServer,
  StubActivities,
  waitForStatus,
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

const alice = { by: 'alice' };
const DOWNSTREAM = [
  'cutoverGateway',
  'rollbackGateway',
  'verifyQdrant',
  'verifyGatewayIdentity',
  'decommissionGuest',
] as const;
const EventType = temporal.api.enums.v1.EventType;

/** Readiness answers "missing" for the first `notReadyFor` checks, then ready. */
function notReadyFor(notReadyFor: number): StubActivities {
  return new StubActivities().answer('checkReadiness', (_i, before) =>
    before < notReadyFor
      ? { missing: [{ item: 'Docker on VM 1002', fix: 'start docker' }], checked: [] }
      : { missing: [], checked: ['docker', 'portainer', 'agent', 'nfs'] },
  );
}

/** Every activity scheduled in a chain of run histories, in order. */
function scheduledActivities(chain: { history: temporal.api.history.v1.IHistory }[]): string[] {
  return chain.flatMap(({ history }) =>
    (history.events ?? [])
      .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?'),
  );
}

function eventMs(e: temporal.api.history.v1.IHistoryEvent | undefined): number {
  const t = e?.eventTime;
  return Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
}

describe('the readiness wait', () => {
  it('ends at readinessTimeout with ReadinessTimeout, naming what is missing; nothing downstream changed', async () => {
    const stubs = notReadyFor(Infinity);
    await withWorker(env, stubs, async (start) => {
      const handle = await start(
        planInput((plan) => {
          plan.timings.readinessRecheckMs = MINUTE;
          plan.timings.readinessTimeoutMs = 30 * MINUTE;
        }),
      );
      const waiting = await waitForStatus(handle, (s) => s.waitingFor?.what === 'readiness', 'the readiness wait');
      expect(waiting.waitingFor?.items).toEqual(['Docker on VM 1002 — fix: start docker']);
      expect(waiting.waitingFor?.message).toMatch(/re-checked every 1m, for at most 30m/);

      const failure = await failureOf(handle);
      expect(failure.cause?.message).toMatch(
        /Not ready after 30m \(readinessTimeout\): 1 item\(s\) still missing; nothing downstream was changed.*\n- Docker on VM 1002 — fix: start docker/s,
      );
      const report = failure.cause?.details?.[0] as MigrationReport;
      expect(report.outcome).toBe('failed');
      expect(report.gateway).toMatchObject({ changed: false });
      const status = await handle.query(statusQuery);
      expect(status.outcome).toBe('failed');
      expect(status.waitingFor).toBeNull();
    });
    // One check at the start, then one per readinessRecheck until the deadline, where the last one decides.
    expect(stubs.callsOf('checkReadiness')).toHaveLength(30 + 1);
    for (const name of DOWNSTREAM) expect(stubs.callsOf(name)).toEqual([]);
  });

  it('goes on to the Portainer step as soon as everything is there', async () => {
    const stubs = notReadyFor(3);
    await withWorker(env, stubs, async (start) => {
      const handle = await start(planInput((plan) => (plan.timings.readinessRecheckMs = 5 * MINUTE)));
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'readiness', 'the readiness wait');
      await env.sleep(16 * MINUTE);
      const status = await waitForStatus(
        handle,
        (s) => s.waitingFor?.what === 'portainer-deploy',
        'the Portainer step',
      );
      expect(status.steps.find((s) => s.name.startsWith('readiness'))).toMatchObject({
        status: 'done',
        detail: 'Docker, Portainer, agent and NFS ready',
      });
      await handle.cancel();
      await failureOf(handle);
    });
    expect(stubs.callsOf('checkReadiness')).toHaveLength(4);
  });
});

describe('continue-as-new', () => {
  it('a long readiness wait continues as new at least twice; the run completes and status, report and the exported history show every step', async () => {
    const checks = 60;
    const stubs = notReadyFor(checks - 1);
    await withWorker(env, stubs, async (start) => {
      const first = await start(
        planInput((plan) => (plan.timings.readinessRecheckMs = MINUTE), { continueAsNewAfterEvents: 200 }),
      );
      const handle: MigrationHandle = env.client.workflow.getHandle(first.workflowId); // follows the newest run
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'readiness', 'the readiness wait');
      await env.sleep(checks * MINUTE);
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the Portainer step');
      expect(await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [alice] })).toBe('accepted');
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'decommission-approval', 'the approval');
      await handle.executeUpdate(approveDecommissionUpdate, { args: [alice] });
      const report = await handle.result();

      // The report: every phase done, every step there once, every change since the first run.
      expect(report.outcome).toBe('completed');
      expect(report.phases.map((p) => p.status)).toEqual(['done', 'done', 'done', 'done', 'done']);
      const steps = report.steps.map((s) => s.name);
      expect(new Set(steps).size).toBe(steps.length);
      expect(steps).toEqual(
        expect.arrayContaining([
          'preflight on live state',
          'compose files onto the NFS export',
          'VM 1001 Portainer',
          'VM 1002 Dr-Phoenix',
          'readiness of VMs, Docker, Portainer and NFS',
          'Portainer deploy',
          'gateway cutover',
          'verification through the gateway',
          'dependency scan',
          'decommission approval',
        ]),
      );
      expect(report.steps.every((s) => s.status === 'done' || s.status === 'skipped')).toBe(true);
      expect(report.changes).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^VM 1001: clone 9000 → 1001/),
          expect.stringMatching(/^VM 1002: clone 9000 → 1002/),
          expect.stringMatching(/^nginx upstream qdrant_service: 10\.0\.0\.152:6333 → 10\.0\.0\.102:6333$/),
        ]),
      );
      expect(report.operator.map((o) => `${o.what} by ${o.by}`)).toEqual([
        'confirmPortainerDeploy by alice',
        'approveDecommission by alice',
      ]);
      expect(report.decommission.deleted.length).toBeGreaterThan(0);

      // The status of the newest run is the whole migration's.
      const status = await handle.query(statusQuery);
      expect(status.outcome).toBe('completed');
      expect(status.steps.map((s) => s.name)).toEqual(steps);

      // The exported history: the whole chain, oldest first, each run continued from the one before.
      const chain = await fetchRunChain(env.client.workflow, first.workflowId);
      expect(chain.length).toBeGreaterThanOrEqual(3);
      expect(chain[0].runId).toBe(first.firstExecutionRunId);
      const exported = parseHistoryExport(historyExportJSON(first.workflowId, chain));
      expect(exported.map((r) => r.runId)).toEqual(chain.map((r) => r.runId));
      exported.forEach(({ history }, i) => {
        const events = history.events ?? [];
        // A run that continued as new is bounded: the limit plus the wake-up that noticed it. The last run also holds
        // the rest of the runbook (cutover, verification, the decommission scans and deletions), so it gets more room.
        expect(events.length).toBeLessThan(i < exported.length - 1 ? 200 + 30 : 200 + 150);
        const started = events[0].workflowExecutionStartedEventAttributes;
        expect(started?.continuedExecutionRunId || undefined).toBe(i ? exported[i - 1].runId : undefined);
        const last = events[events.length - 1].eventType;
        expect(last).toBe(
          i < exported.length - 1
            ? EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            : EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        );
      });
      const activities = scheduledActivities(exported);
      expect(activities.filter((a) => a === 'checkReadiness')).toHaveLength(checks);
      for (const name of [
        'preflight',
        'provisionComposeFiles',
        'cutoverGateway',
        'verifyGatewayIdentity',
        'readGateway',
      ])
        expect(activities).toContain(name);
      expect(activities.filter((a) => a === 'ensureVm')).toHaveLength(2);
      // 953 is already gone from the node: recorded as deleted (already absent) without a decommission call.
      expect(activities.filter((a) => a === 'decommissionGuest')).toHaveLength(report.decommission.deleted.length - 1);
      // Nothing is done twice across runs: the phases a run finished are skipped by the next.
      expect(activities.filter((a) => a === 'preflight')).toHaveLength(1);
    });
    expect(stubs.callsOf('checkReadiness')).toHaveLength(checks);
    expect(stubs.callsOf('ensureVm')).toHaveLength(2);
  });

  it('the Portainer wait keeps its reminder rhythm and its deadline across runs', async () => {
    const stubs = new StubActivities();
    await withWorker(env, stubs, async (start) => {
      const first = await start(
        planInput(
          (plan) => {
            plan.timings.remindEveryMs = HOUR;
            plan.timings.deployTimeoutMs = 12 * HOUR;
            plan.notify = { webhookUrlEnv: 'PHOENIX_TEST_WEBHOOK' };
          },
          { continueAsNewAfterEvents: 70 },
        ),
      );
      const failure = await failureOf(env.client.workflow.getHandle(first.workflowId));
      expect(failure.cause?.message).toMatch(/Nobody confirmed the Portainer deploy within 12h/);

      const chain = await fetchRunChain(env.client.workflow, first.workflowId);
      expect(chain.length).toBeGreaterThanOrEqual(3);
      // Virtual time from the first run's start to the last run's end: the deadline, not restarted by a new run.
      const began = eventMs(chain[0].history.events?.[0]);
      const lastEvents = chain[chain.length - 1].history.events ?? [];
      const ended = eventMs(lastEvents[lastEvents.length - 1]);
      expect(ended - began).toBeGreaterThanOrEqual(12 * HOUR);
      expect(ended - began).toBeLessThan(12 * HOUR + 5 * MINUTE);
    });
    const reminders = stubs.callsOf('notify').filter((n) => n.event.event === 'reminder');
    expect(reminders.map((r) => /\(reminder (\d+),/.exec(r.event.message)?.[1])).toEqual(
      Array.from({ length: 11 }, (_, i) => String(i + 1)),
    );
    expect(stubs.callsOf('notify').filter((n) => n.event.event === 'waiting')).toHaveLength(1);
  });
});
