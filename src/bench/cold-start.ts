/**
 * One worker cold start, measured in a fresh process: `node lib/bench/cold-start.js prebuilt|bundle <address>`.
 * Prints `{"mode","ms"}`: milliseconds from this process's start until the worker is created (connected, search
 * attributes checked, workflow code loaded) — with the prebuilt bundle, or bundling the workflow code right then.
 */
import { performance } from 'node:perf_hooks';
import { NativeConnection, bundleWorkflowCode } from '@temporalio/worker';
import { defaultActivityDeps } from '../activities';
import { workflowBundleInputs } from '../build/workflow-bundle-inputs';
import { createLogger } from '../logging';
import { createMigrationWorker, PREBUILT_BUNDLE } from '../worker';

async function main(): Promise<void> {
  const [mode, address] = process.argv.slice(2);
  if ((mode !== 'prebuilt' && mode !== 'bundle') || !address)
    throw new Error('usage: cold-start.js prebuilt|bundle <host:port>');
  const logger = createLogger({ level: 'warn' });
  const connection = await NativeConnection.connect({ address });
  const workflowBundle =
    mode === 'prebuilt'
      ? { codePath: PREBUILT_BUNDLE }
      : await bundleWorkflowCode({ ...workflowBundleInputs(), logger: undefined });
  const worker = await createMigrationWorker({
    connection,
    namespace: 'default',
    taskQueue: `bench-cold-start-${process.pid}`,
    deps: defaultActivityDeps(logger),
    logger,
    workflowBundle,
  });
  const ms = performance.now();
  process.stdout.write(`${JSON.stringify({ mode, ms: Math.round(ms) })}\n`);
  void worker;
  await connection.close();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`cold-start: ${err.message}\n`);
    process.exit(1);
  },
);
