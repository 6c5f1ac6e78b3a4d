/**
 * The waits that can last hours, in virtual time on the time-skipping server: the reminders while the run waits for
 * the manual Portainer deploy, and the deploy timeout that ends it with nothing changed downstream.
 * (Replaces the real-time reminder count of test/e2e/deploy-timeout.test.ts, which flaked on a loaded machine.)
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { MigrationReport } from '../../../src/workflows/report';
import {
  cancelWhenNoActivityPending,
  failureOf,
  HOUR,
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

const DOWNSTREAM = [
  'cutoverGateway',
  'rollbackGateway',
  'readGateway',
  'verifyQdrant',
  'verifyGatewayIdentity',
  'readGatewayRoutes',
  'decommissionGuest',
] as const;

describe('waiting for the manual Portainer deploy', () => {
  const remindEvery = 1 * HOUR;
  const deployTimeout = 6 * HOUR;
  const input = () =>
    planInput((plan) => {
      plan.timings.remindEveryMs = remindEvery;
      plan.timings.deployTimeoutMs = deployTimeout;
      plan.notify = { webhookUrlEnv: 'PHOENIX_TEST_WEBHOOK' };
    });

  it('reminds once every remindEvery before the deadline, then fails with nothing downstream changed', async () => {
    const stubs = new StubActivities();
    await withWorker(env, stubs, async (start) => {
      const handle = await start(input());
      const waiting = await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
      expect(waiting.waitingFor?.reminders).toBeUndefined();

      // 5½ hours later (virtual time): one reminder per full hour so far, in the status and as notifications.
      await env.sleep(deployTimeout - remindEvery / 2);
      const before = await waitForStatus(handle, (s) => (s.waitingFor?.reminders ?? 0) >= 5, 'five reminders');
      expect(before.waitingFor).toMatchObject({ what: 'portainer-deploy', reminders: 5 });

      const failure = await failureOf(handle);
      expect(failure.cause?.message).toMatch(
        /Nobody confirmed the Portainer deploy within 6h; nothing downstream was changed/,
      );
      const report = failure.cause?.details?.[0] as MigrationReport;
      expect(report.outcome).toBe('failed');
      expect(report.gateway).toMatchObject({ changed: false, rolledBack: false });
    });

    // At the deadline the run fails instead of reminding: deployTimeout / remindEvery − 1 reminders, exactly.
    const events = stubs.callsOf('notify').map((n) => n.event.event);
    expect(events.filter((e) => e === 'reminder')).toHaveLength(deployTimeout / remindEvery - 1);
    expect(events).toEqual(['waiting', 'reminder', 'reminder', 'reminder', 'reminder', 'reminder', 'failed']);
    const reminders = stubs.callsOf('notify').filter((n) => n.event.event === 'reminder');
    expect(reminders.map((r) => /\(reminder (\d+),/.exec(r.event.message)?.[1])).toEqual(['1', '2', '3', '4', '5']);
    for (const name of DOWNSTREAM) expect(stubs.callsOf(name)).toEqual([]);
  });

  it('keeps what it waits for in its memo, where a list of runs shows it without a query, and clears it at the end', async () => {
    const stubs = new StubActivities();
    await withWorker(env, stubs, async (start) => {
      const handle = await start(input());
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
      expect((await handle.describe()).memo).toMatchObject({ waitingFor: 'portainer-deploy' });
      await failureOf(handle); // the deploy timeout
      expect((await handle.describe()).memo?.waitingFor).toBeUndefined();
    });
  });

  it('a remindEvery that does not divide the timeout: reminders at every full interval before the deadline', async () => {
    const stubs = new StubActivities();
    await withWorker(env, stubs, async (start) => {
      const handle = await start(
        planInput((plan) => {
          plan.timings.remindEveryMs = 25 * 60_000;
          plan.timings.deployTimeoutMs = HOUR;
          plan.notify = { webhookUrlEnv: 'PHOENIX_TEST_WEBHOOK' };
        }),
      );
      const failure = await failureOf(handle);
      expect(failure.cause?.message).toMatch(/Nobody confirmed the Portainer deploy within 1h/);
    });
    expect(stubs.callsOf('notify').filter((n) => n.event.event === 'reminder')).toHaveLength(2);
  });

  it('a confirmation ends the wait: no further reminder, the run goes on to the cutover', async () => {
    const stubs = new StubActivities();
    await withWorker(env, stubs, async (start) => {
      const handle = await start(input());
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
      await env.sleep(2.5 * HOUR);
      await waitForStatus(handle, (s) => s.waitingFor?.reminders === 2, 'two reminders');
      const { confirmPortainerDeployUpdate } = await import('../../../src/workflows/messages');
      expect(await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'alice' }] })).toBe('accepted');
      await waitForStatus(handle, (s) => s.waitingFor?.what === 'decommission-approval', 'the approval wait');
      await cancelWhenNoActivityPending(handle); // the approval's notice may be on its way
      await failureOf(handle);
    });
    expect(stubs.callsOf('notify').filter((n) => n.event.event === 'reminder')).toHaveLength(2);
    expect(stubs.callsOf('cutoverGateway')).toHaveLength(1);
  });
});
