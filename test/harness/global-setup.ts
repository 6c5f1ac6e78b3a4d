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
import { requiredSearchAttributes } from '../../src/workflows/search-attributes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureTemporalCli } = require('../../scripts/ensure-temporal-cli.js') as { ensureTemporalCli: () => string };

export default async function globalSetup(): Promise<void> {
  const cliPath = ensureTemporalCli();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-test-temporal-'));
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cliPath },
      dbFilename: path.join(dir, 'temporal.db'),
      searchAttributes: requiredSearchAttributes,
      extraArgs: ['--headless', '--log-level', 'error'],
    },
  });
  const address = env.connection.options.address;
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../fixtures/workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never,
  });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);

  process.env.PHOENIX_TEST_TEMPORAL_ADDRESS = address;
  process.env.PHOENIX_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.PHOENIX_TEST_TEMPORAL_CLI = cliPath;
  (globalThis as Record<string, unknown>).__phoenixTemporal = { env, dir };
}
