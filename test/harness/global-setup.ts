/**
 * Starts ONE real Temporal dev server for the whole jest run and bundles the workflow code once.
 * Tests find both through environment variables (see test/harness/temporal.ts). If the server cannot start, the
 * run fails: there is no silent skip.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleInputs } from '../../src/build/workflow-bundle-inputs';
import { freePort } from './sshd';
import { ISOLATED_NAMESPACE } from './server-metrics';
import { requiredSearchAttributes } from '../../src/workflows/search-attributes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureTemporalCli } = require('../../scripts/ensure-temporal-cli.js') as { ensureTemporalCli: () => string };

export default async function globalSetup(): Promise<void> {
  const cliPath = ensureTemporalCli();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-test-temporal-'));
  // The server's Prometheus metrics (per namespace and RPC) let a test count the RPCs a worker makes; the isolated
  // namespace keeps other test files' calls out of that count.
  const metricsPort = await freePort('127.0.0.1');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cliPath },
      dbFilename: path.join(dir, 'temporal.db'),
      searchAttributes: requiredSearchAttributes,
      extraArgs: [
        '--headless',
        '--log-level',
        'error',
        '--metrics-port',
        String(metricsPort),
        '--namespace',
        ISOLATED_NAMESPACE,
      ],
    },
  });
  const address = env.connection.options.address;
  const bundle = await bundleWorkflowCode({
    ...workflowBundleInputs(require.resolve('../fixtures/workflows')),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never,
  });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);

  process.env.PHOENIX_TEST_TEMPORAL_ADDRESS = address;
  process.env.PHOENIX_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.PHOENIX_TEST_TEMPORAL_CLI = cliPath;
  process.env.PHOENIX_TEST_TEMPORAL_METRICS = `http://127.0.0.1:${metricsPort}/metrics`;
  (globalThis as Record<string, unknown>).__phoenixTemporal = { env, dir };
}
