/**
 * A throwaway lab world run by the PRODUCT's worker wiring (`createMigrationWorker`: search-attribute check, activity
 * logging interceptor, workflow log sink) on any Temporal server — the jest one, or a separate one with the Web UI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { defaultActivityDeps } from '../../../src/activities';
import { startWorld, type World, type WorldOptions } from '../../../src/lab/world';
import { createLogger, type Logger } from '../../../src/logging';
import { createMigrationWorker } from '../../../src/worker';
import { statusQuery } from '../../../src/workflows/messages';
import { startMigration } from '../../../src/temporal/start';
import type { MigrationStatus } from '../../../src/workflows/status';

export interface WorkerWorld {
  world: World;
  client: Client;
  taskQueue: string;
  worker: Worker;
  start(): Promise<WorkflowHandle>;
  waitFor(handle: WorkflowHandle, pred: (s: MigrationStatus) => boolean, timeoutMs?: number): Promise<MigrationStatus>;
  close(): Promise<void>;
}

let counter = 0;

export async function startWorkerWorld(opts: {
  address: string;
  bundlePath: string;
  /** Default `default`. */
  namespace?: string;
  logger?: Logger;
  workerEnv?: Record<string, string>;
  world?: Partial<WorldOptions>;
}): Promise<WorkerWorld> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-worker-world-'));
  const planName = opts.world?.planName ?? `ww-${process.pid}-${Date.now().toString(36)}-${counter++}`;
  const world = await startWorld({ dir, planName, agentDelayMs: 200, defaultTaskMs: 100, ...opts.world });
  const logger = opts.logger ?? createLogger({ level: 'warn' });
  const connection = await Connection.connect({ address: opts.address });
  const nativeConnection = await NativeConnection.connect({ address: opts.address });
  const namespace = opts.namespace ?? 'default';
  const client = new Client({ connection, namespace });
  const taskQueue = `worker-world-${planName}`;
  const env = { ...process.env, ...world.workerEnv, ...opts.workerEnv };
  const worker = await createMigrationWorker({
    connection: nativeConnection,
    namespace,
    taskQueue,
    deps: {
      ...defaultActivityDeps(logger, env),
      timings: { readyTimeoutMs: 30_000, lockWaitMs: 30_000, verifyIntervalMs: 200 },
    },
    logger,
    workflowBundle: { codePath: opts.bundlePath },
  });
  const workerRun = worker.run();
  return {
    world,
    client,
    taskQueue,
    worker,
    start: () => startMigration(client, { plan: world.plan, digest: world.digest }, { taskQueue }),
    async waitFor(handle, pred, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: MigrationStatus | undefined;
      while (Date.now() < deadline) {
        last = await handle.query(statusQuery);
        if (pred(last)) return last;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`condition not met within ${timeoutMs} ms; last status: ${JSON.stringify(last, null, 1)}`);
    },
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun.catch(() => undefined);
      await world.stop();
      await nativeConnection.close();
      await connection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
