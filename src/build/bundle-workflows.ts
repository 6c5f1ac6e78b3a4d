/**
 * Build step: bundles the workflow code once, so workers start without webpack (seconds saved on every start).
 * Run by `npm run build` (and so by `npm ci` through `prepare`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundleInputs } from './workflow-bundle-inputs';

async function main(): Promise<void> {
  const out = path.join(__dirname, '..', 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({
    ...workflowBundleInputs(),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  fs.writeFileSync(out, code);
  process.stdout.write(
    `workflow bundle: ${path.relative(process.cwd(), out)} (${Math.round(code.length / 1024)} KiB)\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`bundling the workflow code failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
