/**
 * `history --export` on the real dev server follows the whole chain of a migration that continued as new: every run,
 * oldest first, each continued from the one before, every readiness check of every run in it — and each run's history
 * replays on the built workflow bundle. (The workflow with stubbed activities, fast real-time re-checks.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { migration } from '../../src/workflows/migration';
import { statusQuery } from '../../src/workflows/messages';
import { parseHistoryExport } from '../../src/temporal/history';
import { connectTestTemporal, createTestWorker, type TestTemporal } from '../harness/temporal';
import { planInput, StubActivities } from '../unit/workflows/support';
import { cli } from './support';

const EventType = temporal.api.enums.v1.EventType;
const BUILT_BUNDLE = path.resolve(__dirname, '..', '..', 'lib', 'workflow-bundle.js');

describe('history --export of a migration that continued as new', () => {
  let t: TestTemporal;
  beforeAll(async () => {
    t = await connectTestTemporal();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('writes every run of the chain, oldest first; each replays on lib/workflow-bundle.js', async () => {
    const checks = 30;
    const stubs = new StubActivities().answer('checkReadiness', (_i, before) =>
      before < checks - 1
        ? { missing: [{ item: 'Docker on VM 1002', fix: 'start docker' }], checked: [] }
        : { missing: [], checked: ['docker'] },
    );
    const taskQueue = t.newTaskQueue('history-chain');
    const worker = await createTestWorker(t, { taskQueue, activities: stubs.activities() });
    const workflowId = `migration-history-chain-${randomUUID().slice(0, 8)}`;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-history-')), 'history.json');

    await worker.runUntil(async () => {
      const handle = await t.client.workflow.start<typeof migration>('migration', {
        taskQueue,
        workflowId,
        args: [planInput((plan) => (plan.timings.readinessRecheckMs = 20), { continueAsNewAfterEvents: 100 })],
      });
      const giveUp = Date.now() + 60_000;
      while (
        (await t.client.workflow.getHandle(workflowId).query(statusQuery)).waitingFor?.what !== 'portainer-deploy'
      ) {
        if (Date.now() > giveUp) throw new Error('the run never reached the Portainer step');
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await cli('history', '--id', workflowId, '--export', file, '--address', t.address);
      expect(r.code).toBe(0);
      await t.client.workflow.getHandle(workflowId).cancel();
      await handle.result().catch(() => undefined);
    });

    const runs = parseHistoryExport(fs.readFileSync(file, 'utf8'));
    expect(runs.length).toBeGreaterThanOrEqual(3);
    runs.forEach(({ history }, i) => {
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      expect(started?.continuedExecutionRunId || undefined).toBe(i ? runs[i - 1].runId : undefined);
    });
    const readinessChecks = runs.flatMap(({ history }) =>
      (history.events ?? []).filter(
        (e) =>
          e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
          e.activityTaskScheduledEventAttributes?.activityType?.name === 'checkReadiness',
      ),
    );
    expect(readinessChecks).toHaveLength(checks);
    for (const { runId, history } of runs.slice(0, -1))
      await Worker.runReplayHistory({ workflowBundle: { codePath: BUILT_BUNDLE } }, history, workflowId).catch(
        (err: Error) => {
          throw new Error(`run ${runId} does not replay: ${err.message}`);
        },
      );
  });
});
