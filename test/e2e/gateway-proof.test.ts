/**
 * Issue 16 on the real workflow, real Temporal, real sshd (through the SSH gate) and real nginx:
 * - a verification budget of several minutes with the new Qdrant dead behind the gateway: ONE cutover attempt, the
 *   gateway rolled back and the run asking within the budget plus a small margin (server time, from the history) —
 *   no activity timeout killing the cutover and retrying it against the dead backend;
 * - the first cutover attempt stalls past its heartbeat timeout: its retry changes the gateway, the verification fails
 *   and the gateway is rolled back — and when the stalled attempt wakes up it changes nothing (event log).
 */
import fs from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { confirmPortainerDeployUpdate } from '../../src/workflows/messages';
import type { LabEvent } from '../../src/lab/event-log';
import { activityOutcomes } from '../faults/support';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx', 'perl') ? describe : describe.skip;

/** Reloads nginx applied with a site file different from the one before: the gateway changes that took effect. */
function effectiveGatewayChanges(mw: MigrationWorld): { time: string; siteSha: string }[] {
  const events = fs
    .readFileSync(mw.world.events.file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LabEvent & { siteSha?: string; exit?: number });
  const changes: { time: string; siteSha: string }[] = [];
  // what nginx runs: the site as the first `nginx -t` saw it (the preflight, before any change), then each reload's
  let live: string | undefined;
  for (const e of events) {
    if (typeof e.siteSha !== 'string') continue;
    if (e.kind === 'nginx-test' && live === undefined) live = e.siteSha;
    if (e.kind !== 'gateway-reload' || e.exit !== 0) continue;
    if (e.siteSha !== live) changes.push({ time: String(e.time), siteSha: e.siteSha });
    live = e.siteSha;
  }
  return changes;
}

async function eventTimes(
  handle: WorkflowHandle,
  activity: string,
): Promise<{ scheduled: number[]; closed: number[] }> {
  const history = await handle.fetchHistory();
  const ids = new Set<string>();
  const scheduled: number[] = [];
  const closed: number[] = [];
  const ms = (t: unknown) => {
    const ts = t as { seconds?: { toNumber(): number } | number; nanos?: number };
    const seconds = typeof ts.seconds === 'number' ? ts.seconds : (ts.seconds?.toNumber() ?? 0);
    return seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
  };
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === activity) {
      ids.add(String(e.eventId));
      scheduled.push(ms(e.eventTime));
    }
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (done && ids.has(String(done.scheduledEventId))) closed.push(ms(e.eventTime));
  }
  return { scheduled, closed };
}

async function deployAndConfirm(mw: MigrationWorld, handle: WorkflowHandle): Promise<void> {
  await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
  await mw.world.deployStack();
  await expect(handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] })).resolves.toBe(
    'accepted',
  );
}

describeIf('the cutover proves the new instance or rolls back, within timeouts that fit', () => {
  let mw: MigrationWorld | undefined;
  afterEach(async () => {
    await mw?.close();
    mw = undefined;
  });

  it('verifyBudget 3m and a dead new backend: one cutover attempt, rolled back and asking within budget + margin', async () => {
    const budgetMs = 3 * 60_000;
    mw = await startMigrationWorld({
      dataMode: 'none',
      durations: { verifyBudget: '3m' },
      gatewayFaults: { newDeadThroughGateway: true },
    });
    const before = upstreamServers(mw);
    const handle = await mw.start();
    await deployAndConfirm(mw, handle);
    const asking = await mw.waitFor(
      handle,
      (s) => s.waitingFor?.what === 'operator-choice-after-failed-verification',
      budgetMs + 150_000,
    );
    expect(asking.steps.find((s) => s.name === 'verification through the gateway')).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/no Qdrant answer through the gateway.*502.*budget of 180000 ms used up/s),
    });
    expect(upstreamServers(mw)).toEqual(before);

    const outcomes = await activityOutcomes(handle);
    expect(outcomes.filter((o) => o.activity === 'cutoverGateway')).toEqual([
      expect.objectContaining({ attempt: 1, failed: false }),
    ]);
    expect(outcomes.filter((o) => o.activity === 'verifyGatewayIdentity')).toEqual([
      expect.objectContaining({ attempt: 1, failed: false }),
    ]);
    // server time: from scheduling the cutover to the rollback's end, the budget plus a small margin
    const cut = await eventTimes(handle, 'cutoverGateway');
    const rollback = await eventTimes(handle, 'rollbackGateway');
    expect(cut.scheduled).toHaveLength(1);
    expect(rollback.closed).toHaveLength(1);
    expect(rollback.closed[0] - cut.scheduled[0]).toBeLessThan(budgetMs + 60_000);
    expect(effectiveGatewayChanges(mw)).toHaveLength(2); // the cutover and its rollback
  }, 420_000);

  it('a cutover attempt that stalls past its heartbeat timeout changes nothing when it wakes after the rollback', async () => {
    let zombieDone!: () => void;
    const zombieFinished = new Promise<void>((r) => (zombieDone = r));
    mw = await startMigrationWorld({
      dataMode: 'none',
      durations: { verifyBudget: '5s' },
      gatewayFaults: { newDeadThroughGateway: true },
      wrapActivities: (acts) => ({
        ...acts,
        cutoverGateway: async (input) => {
          if (Context.current().info.attempt > 1) return acts.cutoverGateway(input);
          // attempt 1 stalls: the worker's JS thread is stuck (so not even its keep-alive heartbeats go out) past the
          // 5 s heartbeat timeout; the server retries. Then it waits until the retry cut over, the verification
          // failed and the gateway was rolled back — and carries on as if nothing had happened.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 8_000);
          await new Promise((r) => setTimeout(r, 40_000));
          try {
            return await acts.cutoverGateway(input);
          } finally {
            zombieDone();
          }
        },
      }),
    });
    const before = upstreamServers(mw);
    const handle = await mw.start();
    await deployAndConfirm(mw, handle);
    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'operator-choice-after-failed-verification', 120_000);
    const rolledBackAt = effectiveGatewayChanges(mw);
    expect(rolledBackAt).toHaveLength(2);
    await zombieFinished;
    expect(upstreamServers(mw)).toEqual(before);
    const changes = effectiveGatewayChanges(mw);
    // exactly one change to the new servers (by the retry), then the rollback — and nothing after it
    expect(changes).toEqual(rolledBackAt);
    const cutovers = (await activityOutcomes(handle)).filter((o) => o.activity === 'cutoverGateway');
    expect(cutovers).toEqual([expect.objectContaining({ attempt: 2, failed: false })]);
  }, 240_000);
});
