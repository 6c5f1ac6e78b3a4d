/**
 * What integration tests use to reach the run's shared Temporal dev server (started in global-setup.ts).
 */
import { keepAliveInterceptor } from '../../src/activities/heartbeat';
import { ioBoundWorkerOptions } from '../../src/worker-tuning';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';

export interface TestTemporal {
  address: string;
  client: Client;
  nativeConnection: NativeConnection;
  workflowBundlePath: string;
  /** A task queue of its own, so tests never pick up each other's tasks. */
  newTaskQueue(prefix?: string): string;
  close(): Promise<void>;
}

export async function connectTestTemporal(): Promise<TestTemporal> {
  const address = process.env.PHOENIX_TEST_TEMPORAL_ADDRESS;
  const workflowBundlePath = process.env.PHOENIX_TEST_WORKFLOW_BUNDLE;
  if (!address || !workflowBundlePath) {
    throw new Error(
      'The Temporal test server is not running: run tests through jest with test/harness/global-setup.ts (npm test).',
    );
  }
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address,
    client: new Client({ connection }),
    nativeConnection,
    workflowBundlePath,
    newTaskQueue: (prefix = 'test') => `${prefix}-${randomUUID()}`,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/**
 * Creates a worker on the shared server with the run's prebuilt workflow bundle, sized and kept alive like the
 * product's worker (src/worker.ts): the workflow's 5 s heartbeat timeout relies on the keep-alive heartbeats.
 */
export async function createTestWorker(
  t: TestTemporal,
  options: Omit<WorkerOptions, 'connection' | 'workflowBundle' | 'workflowsPath'>,
): Promise<Worker> {
  return Worker.create({
    connection: t.nativeConnection,
    workflowBundle: { codePath: t.workflowBundlePath },
    ...ioBoundWorkerOptions(),
    ...options,
    interceptors: {
      ...options.interceptors,
      activity: [keepAliveInterceptor, ...(options.interceptors?.activity ?? [])],
    },
  });
}
