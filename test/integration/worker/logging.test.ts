/**
 * Structured logs: a whole lab run on the real Temporal server, worked by the product's worker wiring, with the
 * worker's pino output captured. Every line written during the run carries the run's workflowId and its phase —
 * activity lines (the interceptor's, the clients') and workflow lines (the log sink) alike.
 */
import {
  approveDecommissionUpdate,
  confirmPortainerDeployUpdate,
  portainerDeployedSignal,
} from '../../../src/workflows/messages';
import { PHASES } from '../../../src/workflows/status';
import type { MigrationReport } from '../../../src/workflows/report';
import { createLogger } from '../../../src/logging';
import { frontendRequests, ISOLATED_NAMESPACE } from '../../harness/server-metrics';
import { requireOrSkip } from '../../harness/tools';
import { startWorkerWorld, type WorkerWorld } from './worker-world';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

interface Line {
  msg: string;
  level: number;
  workflowId?: string;
  phase?: string;
  activityType?: string;
  sdkComponent?: string;
  [k: string]: unknown;
}

describeIf('worker logs', () => {
  const lines: Line[] = [];
  let ww: WorkerWorld;
  beforeAll(async () => {
    const logger = createLogger({
      level: 'info',
      destination: { write: (s: string) => void lines.push(JSON.parse(s) as Line) },
    });
    ww = await startWorkerWorld({
      address: process.env.PHOENIX_TEST_TEMPORAL_ADDRESS ?? '',
      bundlePath: process.env.PHOENIX_TEST_WORKFLOW_BUNDLE ?? '',
      // Its own namespace: the server's per-namespace RPC counts below see only this run's calls.
      namespace: ISOLATED_NAMESPACE,
      logger,
    });
  }, 60_000);
  afterAll(async () => {
    await ww?.close();
  });

  it('every line of a run carries its workflowId and phase, without a DescribeWorkflowExecution per activity', async () => {
    const before = lines.length;
    const describesBefore = await frontendRequests(ISOLATED_NAMESPACE, 'DescribeWorkflowExecution');
    const handle = await ww.start();
    await ww.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    // A premature confirmation by signal: the workflow logs the rejection (a workflow-side line).
    await handle.signal(portainerDeployedSignal, { by: 'tester' });
    await ww.waitFor(
      handle,
      (s) =>
        lines.some((l) => l.msg === 'portainerDeployed signal rejected') && s.waitingFor?.what === 'portainer-deploy',
    );
    await ww.world.deployStack();
    await expect(handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] })).resolves.toBe(
      'accepted',
    );
    await ww.waitFor(handle, (s) => s.waitingFor?.what === 'decommission-approval');
    await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] });
    expect(((await handle.result()) as MigrationReport).outcome).toBe('completed');

    const run = lines.slice(before);
    expect(run.length).toBeGreaterThan(20);
    const known = new Set<string>([...PHASES, 'Not started', 'Finished']);
    const bad = run.filter(
      (l) => l.workflowId !== handle.workflowId || typeof l.phase !== 'string' || !known.has(l.phase),
    );
    expect(bad).toEqual([]);

    // Each phase shows up, with the activities that belong to it.
    const activityPhase = (type: string) => [
      ...new Set(run.filter((l) => l.activityType === type).map((l) => l.phase)),
    ];
    expect(activityPhase('preflight')).toEqual(['Declarative Configuration']);
    expect(activityPhase('provisionComposeFiles')).toEqual(['Orchestrator and File Preparation']);
    expect(activityPhase('ensureVm')).toEqual(['Infrastructure Provisioning']);
    expect(activityPhase('cutoverGateway')).toEqual(['Application Deployment and Cutover']);
    expect(activityPhase('decommissionGuest')).toEqual(['Verification and Decommissioning']);
    // The gateway is read in two phases — its upstream before the cutover, everything nginx loads for the dependency
    // scan — and each line says the phase it ran in.
    expect(activityPhase('readGateway')).toEqual(['Application Deployment and Cutover']);
    expect(activityPhase('readGatewayRoutes')).toEqual(['Verification and Decommissioning']);

    const started = run.filter((l) => l.msg === 'activity started');
    const finished = run.filter((l) => l.msg === 'activity finished');
    expect(started.length).toBeGreaterThanOrEqual(10);
    expect(finished.length).toBe(started.length);
    // The phase travelled with each activity (a header): the server answered no DescribeWorkflowExecution for this
    // run — it used to answer one per activity start. (This test itself only queries and updates the run.)
    expect(await frontendRequests(ISOLATED_NAMESPACE, 'DescribeWorkflowExecution')).toBe(describesBefore);
    // One line's own fields never leak into the next (the ensureVm client logs `dryRun`; the interceptor does not).
    expect(finished.filter((l) => 'dryRun' in l)).toEqual([]);
    expect(run.some((l) => l.activityType === 'ensureVm' && 'dryRun' in l)).toBe(true);
    const rejected = run.find((l) => l.msg === 'portainerDeployed signal rejected');
    expect(rejected).toMatchObject({
      sdkComponent: 'workflow',
      phase: 'Application Deployment and Cutover',
      workflowType: 'migration',
    });
  }, 180_000);
});
