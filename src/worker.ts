/**
 * The worker: the one place that wires real clients into activities and runs them next to the workflow code.
 * Secrets (Proxmox token, SSH key path, Portainer credentials, Qdrant API key) are read here, from this process's
 * environment or files — never from workflow input.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';
import { createActivities, defaultActivityDeps, type ActivityDeps } from './activities';
import { createLogger, temporalLoggerFrom, type Logger } from './logging';
import { loadTemporalTarget, TASK_QUEUE, type TemporalTarget } from './temporal/connection';
import { requiredSearchAttributes } from './workflows/search-attributes';

export interface WorkerRunOptions {
  profile?: string;
  address?: string;
  namespace?: string;
  taskQueue?: string;
  /** Serve the SDK's Prometheus metrics on 127.0.0.1:<port> (PHOENIX_METRICS_PORT also works). */
  metricsPort?: number;
  deps?: ActivityDeps;
  logger?: Logger;
}

/** Where `npm run build` leaves the prebuilt workflow bundle (no webpack at start). */
export const PREBUILT_BUNDLE = path.join(__dirname, 'workflow-bundle.js');

let runtimeInstalled = false;

function installRuntime(logger: Logger, metricsPort?: number): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: temporalLoggerFrom(logger),
      ...(metricsPort ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } } } : {}),
    });
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'Temporal runtime was already installed in this process; keeping it');
  }
}

/** Search attributes must exist before a run upserts them; otherwise its workflow tasks fail forever. */
export async function checkSearchAttributes(connection: NativeConnection, namespace: string): Promise<void> {
  const res = await connection.operatorService.listSearchAttributes({ namespace });
  const present = new Set(Object.keys(res.customAttributes ?? {}));
  const missing = requiredSearchAttributes.filter((k) => !present.has(k.name));
  if (missing.length) {
    throw new Error(
      `the Temporal namespace "${namespace}" lacks the search attribute(s) ${missing.map((k) => k.name).join(', ')}.\n` +
        `hint: ${missing.map((k) => `temporal operator search-attribute create --namespace ${namespace} --name ${k.name} --type Keyword`).join(' && ')}` +
        ' (the dev server: start it with --search-attribute MigrationPhase=Keyword --search-attribute PlanName=Keyword)',
    );
  }
}

export async function workflowBundleOption(logger: Logger): Promise<Pick<WorkerOptions, 'workflowBundle'>> {
  if (fs.existsSync(PREBUILT_BUNDLE)) return { workflowBundle: { codePath: PREBUILT_BUNDLE } };
  logger.warn('no prebuilt workflow bundle (run `npm run build`): bundling the workflow code now, which takes a few seconds');
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows') });
  return { workflowBundle: bundle };
}

export async function createMigrationWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  deps: ActivityDeps;
  logger: Logger;
  workflowBundle?: WorkerOptions['workflowBundle'];
}): Promise<Worker> {
  await checkSearchAttributes(opts.connection, opts.namespace);
  const bundle = opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : await workflowBundleOption(opts.logger);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    activities: createActivities(opts.deps),
    ...bundle,
  });
}

/** `phoenix-migrate worker`: runs until SIGINT/SIGTERM, then finishes running activities and exits. */
export async function runWorker(opts: WorkerRunOptions = {}): Promise<void> {
  const logger = opts.logger ?? createLogger();
  const metricsPort = opts.metricsPort ?? (process.env.PHOENIX_METRICS_PORT ? Number(process.env.PHOENIX_METRICS_PORT) : undefined);
  installRuntime(logger, metricsPort);
  const target: TemporalTarget = loadTemporalTarget(opts);
  const taskQueue = opts.taskQueue ?? process.env.PHOENIX_TASK_QUEUE ?? TASK_QUEUE;
  const connection = await NativeConnection.connect(target.connectionOptions);
  try {
    const worker = await createMigrationWorker({
      connection,
      namespace: target.namespace,
      taskQueue,
      deps: opts.deps ?? defaultActivityDeps(logger),
      logger,
    });
    logger.info({ address: target.address, namespace: target.namespace, taskQueue, metricsPort }, 'worker started');
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await connection.close();
  }
}
