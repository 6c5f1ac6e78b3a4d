/**
 * The versioning procedure of docs/operations.md, proved: a deliberate change of the workflow behind `patched()`
 * replays the histories recorded before it (so runs waiting at the Portainer step survive the deploy), while the same
 * change without `patched()` fails the replay — which is what CI's replay of the committed fixtures catches.
 *
 * The change is a variant of src/workflows/phases/file-preparation.ts (test/fixtures/workflows/versioning/), swapped in
 * when bundling the real workflows; everything else is the shipped code.
 */
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { planInput, startTimeSkippingServer, StubActivities, withWorker } from '../unit/workflows/support';
import { readFixture } from './fixtures';

const REPO = path.resolve(__dirname, '..', '..');
const ORIGINAL = path.join(REPO, 'src', 'workflows', 'phases', 'file-preparation');
const VARIANTS = path.join(REPO, 'test', 'fixtures', 'workflows', 'versioning');

/** The shipped workflows with Phase 2 replaced by a variant (webpack resolves the phase's import to the variant). */
async function bundleWith(variant: 'patched' | 'unpatched'): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(REPO, 'src', 'workflows'),
    webpackConfigHook: (config) => ({
      ...config,
      resolve: {
        ...config.resolve,
        alias: {
          ...(config.resolve?.alias as Record<string, string> | undefined),
          [ORIGINAL]: path.join(VARIANTS, `file-preparation.${variant}.ts`),
        },
      },
    }),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never,
  });
  return { code };
}

const recorded = readFixture('happy-path.json');
const replay = (bundle: { code: string }) =>
  Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJSON(recorded.history), recorded.workflowId);

describe('shipping a workflow change while runs wait (patched)', () => {
  let patchedBundle: { code: string };
  beforeAll(async () => {
    patchedBundle = await bundleWith('patched');
  });

  it('a history recorded before the change replays on the code with the change behind patched()', async () => {
    expect(patchedBundle.code).toContain('nfs-export-check-before-push');
    await expect(replay(patchedBundle)).resolves.toBeUndefined();
  });

  it('the same change without patched() fails the replay with a non-determinism error', async () => {
    const unpatched = await bundleWith('unpatched');
    await expect(replay(unpatched)).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  });

  describe('new runs take the new path', () => {
    let env: TestWorkflowEnvironment;
    beforeAll(async () => {
      env = await startTimeSkippingServer();
    });
    afterAll(async () => {
      await env?.teardown();
    });

    it('a dry run on the patched code runs the new step before the push', async () => {
      const stubs = new StubActivities();
      const report = await withWorker(
        env,
        stubs,
        async (start) => await (await start(planInput(() => {}, { dryRun: true }))).result(),
        patchedBundle,
      );
      expect(report.outcome).toBe('dry-run');
      // Phase 3 asks for the VMs beside Phase 2 (FILES_BESIDE_VMS): only Phases 1 and 2's order is this test's.
      const phasesOneAndTwo = ['preflight', 'checkReadiness', 'provisionComposeFiles'];
      expect(stubs.names().filter((n) => phasesOneAndTwo.includes(n))).toEqual(phasesOneAndTwo);
      expect(report.steps.map((s) => s.name)).toContain('NFS export reachable');
    });
  });
});
