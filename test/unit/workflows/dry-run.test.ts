/**
 * A dry run (`phoenix-migrate plan`) runs every read and check of the real workflow and changes nothing: every activity
 * that can change the world is called with `dryRun: true` (it only looks), the rest are never called, and nobody is
 * waited for. Stubbed activities on the time-skipping server.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { planInput, startTimeSkippingServer, StubActivities, withWorker, type ActivityName } from './support';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkippingServer();
});
afterAll(async () => {
  await env?.teardown();
});

/** Activities that change the world unless told `dryRun: true`. */
const LOOK_ONLY_WHEN_DRY: ActivityName[] = [
  'provisionComposeFiles',
  'ensureVm',
  'ensurePortainerDeployment',
  'cutoverGateway',
  'decommissionGuest',
];
/** Activities a dry run must never call: they change the world (or tell people about it) with no dry mode. */
const NEVER_IN_A_DRY_RUN: ActivityName[] = ['rollbackGateway', 'copyQdrantCollections', 'notify'];

function expectNothingChanged(stubs: StubActivities): void {
  for (const call of stubs.calls) {
    if (LOOK_ONLY_WHEN_DRY.includes(call.name))
      expect({ [call.name]: call.input }).toEqual({
        [call.name]: expect.objectContaining({ dryRun: true }),
      });
    expect(NEVER_IN_A_DRY_RUN).not.toContain(call.name);
  }
}

describe('dry run', () => {
  it('manual Portainer mode: reads and checks everything, changes nothing, waits for nobody', async () => {
    const stubs = new StubActivities();
    const report = await withWorker(env, stubs, async (start) => {
      const handle = await start(
        planInput(
          (plan) => {
            plan.notify = { webhookUrlEnv: 'PHOENIX_TEST_WEBHOOK' };
            plan.qdrant.data = { mode: 'snapshot' };
          },
          { dryRun: true },
        ),
      );
      return await handle.result();
    });

    expect(report.outcome).toBe('dry-run');
    expectNothingChanged(stubs);
    expect(new Set(stubs.names())).toEqual(
      new Set([
        'preflight',
        'inspectLegacyGuests',
        'provisionComposeFiles',
        'ensureVm',
        'cutoverGateway',
        'readGatewayRoutes',
        'decommissionGuest',
      ]),
    );
    expect(
      stubs
        .callsOf('ensureVm')
        .map((c) => c.vm.vmid)
        .sort(),
    ).toEqual([1001, 1002]);
    // Readiness is checked once the VMs exist; a dry run does not create them.
    expect(stubs.callsOf('checkReadiness')).toEqual([]);
    expect(report.needsPerson).toEqual([
      expect.stringMatching(/^Phase 4: deploy the Qdrant stack in Portainer/),
      expect.stringMatching(/^Phase 5: approve deleting CT 950, 951, 952 /), // 953 is already gone
    ]);
    expect(report.changes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^VM 100[12]: clone 9000 → 100[12] \(would be\)$/),
        expect.stringMatching(
          /^nginx upstream qdrant_service: 10\.0\.0\.152:6333 → 10\.0\.0\.102:6333 \(would change\)/,
        ),
      ]),
    );
    expect(report.gateway.changed).toBe(false);
    expect(report.decommission.deleted).toEqual([]);
  });

  it('api Portainer mode: the stack deployment is planned, not made', async () => {
    const stubs = new StubActivities();
    const report = await withWorker(env, stubs, async (start) => {
      const handle = await start(planInput((plan) => (plan.portainer.mode = 'api'), { dryRun: true }));
      return await handle.result();
    });
    expect(report.outcome).toBe('dry-run');
    expectNothingChanged(stubs);
    expect(stubs.callsOf('ensurePortainerDeployment')).toEqual([expect.objectContaining({ dryRun: true })]);
    expect(stubs.callsOf('probeQdrant')).toEqual([]);
    expect(report.changes).toContain('Portainer: would create stack (would be)');
  });
});
