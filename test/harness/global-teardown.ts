import fs from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__phoenixTemporal as
    { env: TestWorkflowEnvironment; dir: string } | undefined;
  if (!state) return;
  await state.env.teardown();
  fs.rmSync(state.dir, { recursive: true, force: true });
}
