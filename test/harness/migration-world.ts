/**
 * An end-to-end world for a test: a throwaway lab world (simulators + real sshd + real nginx on loopback) and a
 * migration worker on the shared Temporal dev server, with helpers to drive and observe the run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { createActivities, defaultActivityDeps } from '../../src/activities';
import { startWorld, type World, type WorldOptions } from '../../src/lab/world';
import { statusQuery } from '../../src/workflows/messages';
import type { MigrationStatus } from '../../src/workflows/status';
import type { ResolvedPlan } from '../../src/config/resolved-plan';
import { startMigration } from '../../src/temporal/start';
import { connectTestTemporal, createTestWorker, type TestTemporal } from './temporal';

export interface MigrationWorld {
  world: World;
  t: TestTemporal;
  taskQueue: string;
  worker: Worker;
  workerRun: Promise<void>;
  /** Starts the run as the CLI does (static summary/details for the Web UI included). */
  start(opts?: StartOptions): Promise<WorkflowHandle>;
  /** Polls the status query until `pred` holds (or fails after `timeoutMs`, showing the last status). */
  waitFor(handle: WorkflowHandle, pred: (s: MigrationStatus) => boolean, timeoutMs?: number): Promise<MigrationStatus>;
  stopWorker(): Promise<void>;
  restartWorker(): Promise<void>;
  close(): Promise<void>;
}

/** `plan`/`digest` start the run on a variant of the world's plan (e.g. a wrong fingerprint; see test/faults). */
export interface StartOptions {
  dryRun?: boolean;
  workflowId?: string;
  plan?: ResolvedPlan;
  digest?: string;
}

let counter = 0;

export interface MigrationWorldOptions extends Partial<WorldOptions> {
  /** Extra worker environment (e.g. a notification webhook URL under the name the plan gives). */
  workerEnv?: Record<string, string>;
  /**
   * The worker's task queue (default: a fresh random one). CLI tests pass TASK_QUEUE, the queue `phoenix-migrate start`
   * uses; only one such world may run at a time on the shared server, or they would take each other's tasks.
   */
  taskQueue?: string;
  /** Wraps the worker's activities (e.g. to stall one attempt past its heartbeat timeout). */
  wrapActivities?: (acts: ReturnType<typeof createActivities>) => ReturnType<typeof createActivities>;
}

export async function startMigrationWorld(options: MigrationWorldOptions = {}): Promise<MigrationWorld> {
  const { workerEnv: extraEnv, taskQueue: fixedQueue, wrapActivities, ...opts } = options;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-e2e-'));
  const planName = opts.planName ?? `e2e-${process.pid}-${Date.now().toString(36)}-${counter++}`;
  const world = await startWorld({ dir, planName, agentDelayMs: 200, defaultTaskMs: 100, ...opts });
  const t = await connectTestTemporal();
  const taskQueue = fixedQueue ?? t.newTaskQueue('migration');
  const env = { ...process.env, ...world.workerEnv, ...extraEnv };
  const makeWorker = () =>
    createTestWorker(t, {
      taskQueue,
      activities: (wrapActivities ?? ((a) => a))(
        createActivities({
          ...defaultActivityDeps(undefined, env),
          timings: { readyTimeoutMs: 30_000, lockWaitMs: 30_000, verifyIntervalMs: 200 },
        }),
      ),
    });
  const mw: MigrationWorld = {
    world,
    t,
    taskQueue,
    worker: await makeWorker(),
    workerRun: Promise.resolve(),
    async start(o = {}) {
      const plan = o.plan ?? world.plan;
      const digest = o.plan ? (o.digest ?? world.digest) : world.digest;
      return startMigration(
        t.client,
        { plan, digest, ...(o.dryRun ? { dryRun: true } : {}) },
        {
          taskQueue,
          workflowId: o.workflowId ?? `migration-${plan.name}${o.dryRun ? '-dry' : ''}`,
          note: 'Started by the e2e harness.',
        },
      );
    },
    async waitFor(handle, pred, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: MigrationStatus | undefined;
      while (Date.now() < deadline) {
        last = await handle.query(statusQuery);
        if (pred(last)) return last;
        const desc = await handle.describe();
        if (desc.status.name !== 'RUNNING')
          throw new Error(
            `run ended (${desc.status.name}) before the condition held; last status: ${JSON.stringify(last, null, 1)}`,
          );
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`condition not met within ${timeoutMs} ms; last status: ${JSON.stringify(last, null, 1)}`);
    },
    async stopWorker() {
      mw.worker.shutdown();
      await mw.workerRun;
    },
    async restartWorker() {
      mw.worker = await makeWorker();
      mw.workerRun = mw.worker.run();
    },
    async close() {
      if (mw.worker.getState() === 'RUNNING') await mw.stopWorker();
      await world.stop();
      await t.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  mw.workerRun = mw.worker.run();
  return mw;
}
