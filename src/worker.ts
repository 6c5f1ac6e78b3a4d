/**
 * The worker: the one place that wires real clients into activities and runs them next to the workflow code.
 * Secrets (Proxmox token, SSH key path, Portainer credentials, Qdrant API key) are read here, from this process's
 * environment or files — never from workflow input.
 */
import { keepAliveInterceptor } from './activities/heartbeat';
import { applyHeapGrowth, heapGrowthFlag, ioBoundWorkerOptions } from './worker-tuning';
import fs from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { Context as ActivityContext } from '@temporalio/activity';
import {
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type ActivityInterceptors,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities, defaultActivityDeps, type ActivityDeps } from './activities';
import { workflowBundleInputs } from './build/workflow-bundle-inputs';
import { closeSshPool } from './remote';
import {
  createLogger,
  temporalLoggerFrom,
  withLogContext,
  workflowLogSinks,
  type Logger,
  type RunLogContext,
} from './logging';
import { loadTemporalTarget, TASK_QUEUE, type TemporalTarget } from './temporal/connection';
import { PHASE_HEADER, UNKNOWN_PHASE } from './workflows/phase-header';
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
      ...(metricsPort
        ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } } }
        : {}),
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
  logger.warn(
    'no prebuilt workflow bundle (run `npm run build`): bundling the workflow code now, which takes a few seconds',
  );
  const bundle = await bundleWorkflowCode(workflowBundleInputs());
  return { workflowBundle: bundle };
}

/** The phase the run was in when it scheduled this activity: the header its workflow interceptor set. */
function phaseFromHeaders(headers: Record<string, Payload> | undefined): string | undefined {
  const payload = headers?.[PHASE_HEADER];
  if (!payload) return undefined;
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(payload);
    return typeof value === 'string' && value ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every activity logs its start and end, and every line logged while it runs (ours, the clients', the SDK's activity
 * logger) carries workflowId, activityType and the run's phase: one grep finds a run's story in the worker's log.
 */
export function activityLoggingInterceptor(opts: { logger: Logger }): (ctx: ActivityContext) => ActivityInterceptors {
  return (ctx) => {
    const info = ctx.info;
    const fields: RunLogContext = {
      workflowId: info.workflowExecution?.workflowId,
      runId: info.workflowExecution?.runId,
      activityType: info.activityType,
      activityId: info.activityId,
      attempt: info.attempt,
      phase: UNKNOWN_PHASE,
    };
    return {
      inbound: {
        async execute(input, next) {
          // The phase travels with the activity (header set by src/workflows/interceptors.ts): no RPC to find it.
          // A notification says itself which phase it is about.
          const event = (input.args[0] as { event?: { phase?: unknown } } | undefined)?.event;
          const stated = info.activityType === 'notify' && typeof event?.phase === 'string' ? event.phase : undefined;
          fields.phase = stated ?? phaseFromHeaders(input.headers) ?? UNKNOWN_PHASE;
          return withLogContext(fields, async () => {
            const started = Date.now();
            opts.logger.info('activity started');
            try {
              const result = await next(input);
              opts.logger.info({ durationMs: Date.now() - started, outcome: 'completed' }, 'activity finished');
              return result;
            } catch (err) {
              opts.logger.info(
                { durationMs: Date.now() - started, outcome: 'failed', error: (err as Error)?.message },
                'activity finished',
              );
              throw err;
            }
          });
        },
      },
      outbound: {
        getLogAttributes: (attrs, next) => next({ ...attrs, phase: fields.phase }),
      },
    };
  };
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
  const bundle = opts.workflowBundle
    ? { workflowBundle: opts.workflowBundle }
    : await workflowBundleOption(opts.logger);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    activities: createActivities(opts.deps),
    interceptors: {
      activity: [keepAliveInterceptor, activityLoggingInterceptor({ logger: opts.logger })],
    },
    sinks: workflowLogSinks(opts.logger),
    ...ioBoundWorkerOptions(),
    ...bundle,
  });
}

/** `phoenix-migrate worker`: runs until SIGINT/SIGTERM, then finishes running activities and exits. */
export async function runWorker(opts: WorkerRunOptions = {}): Promise<void> {
  const heapGrowth = heapGrowthFlag(); // checked before anything connects
  const logger = opts.logger ?? createLogger();
  const metricsPort =
    opts.metricsPort ?? (process.env.PHOENIX_METRICS_PORT ? Number(process.env.PHOENIX_METRICS_PORT) : undefined);
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
    // Once the worker exists: bundling the workflow code (without a prebuilt bundle) is a short burst of garbage
    // that gains nothing from earlier full GCs.
    applyHeapGrowth(heapGrowth);
    logger.info(
      {
        address: target.address,
        namespace: target.namespace,
        taskQueue,
        metricsPort,
        heapGrowth,
        mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? "glibc's default",
      },
      'worker started',
    );
    await worker.run();
    logger.info('worker stopped');
  } finally {
    closeSshPool();
    await connection.close();
  }
}
