/**
 * Issue 11 (1): Portainer.
 * - `api` mode: the run deploys the stack itself — agent environment created with a multipart form, stack created
 *   from the compose content (`/string`), container running, Qdrant answering — and completes with no manual step.
 *   A second run on the same world makes no new create call.
 * - `manual` mode with credentials: a confirmation is rejected while the stack does not exist on the Dr-Phoenix
 *   environment, even though Qdrant on the new VM answers; accepted once the stack is deployed.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate } from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { legacyCtsPresent, upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

const isCreate = (r: { method: string; path: string }) =>
  r.method === 'POST' && (r.path === '/api/endpoints' || r.path.startsWith('/api/stacks/create/'));

describeIf('migration: Portainer api mode', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ portainerMode: 'api', approvals: false });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('deploys the stack itself and completes with no manual step; a second run creates nothing', async () => {
    const portainer = mw.world.portainer.state;
    expect(portainer.endpoints).toEqual([]);
    const handle = await mw.start();
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    expect(report.operator).toEqual([]);
    expect(report.steps.find((s) => s.name === 'Portainer deploy')).toMatchObject({ status: 'done' });
    expect(report.steps.find((s) => s.name === 'Portainer deploy')?.detail).toMatch(
      /created agent environment "Dr-Phoenix".*created stack qdrant/,
    );
    expect(report.steps.find((s) => s.name === 'Qdrant answers on the new VM')).toMatchObject({ status: 'done' });
    expect(report.steps.map((s) => s.name).indexOf('Qdrant answers on the new VM')).toBeLessThan(
      report.steps.map((s) => s.name).indexOf('gateway cutover'),
    );

    // What went over the wire to Portainer.
    const creates = portainer.requests.filter(isCreate);
    expect(creates.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/endpoints',
      'POST /api/stacks/create/standalone/string',
    ]);
    expect(creates[0].contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(creates[1].contentType).toMatch(/^application\/json/);
    expect(portainer.endpoints).toEqual([
      expect.objectContaining({ Name: 'Dr-Phoenix', URL: mw.world.plan.portainer.agentUrl }),
    ]);
    expect(portainer.stacks).toHaveLength(1);
    expect(portainer.stacks[0]).toMatchObject({ Name: 'qdrant', EndpointId: portainer.endpoints[0].Id });
    // Created from the plan's compose content, not from a path on Portainer's filesystem.
    expect(portainer.stacks[0].StackFileContent).toBe(
      mw.world.plan.composeFiles[mw.world.plan.portainer.composeFileIndex].content,
    );
    expect(
      portainer.containers
        .filter((c) => c.Labels['com.docker.compose.project'] === 'qdrant')
        .every((c) => c.State === 'running'),
    ).toBe(true);
    expect(upstreamServers(mw)).toEqual(mw.world.plan.gateway.newServers);

    // Again on the same world: it converges on what exists; Portainer sees reads only.
    const seen = portainer.requests.length;
    const again = await mw.start({ workflowId: `${handle.workflowId}-again` });
    const second = (await again.result()) as MigrationReport;
    expect(second.outcome).toBe('completed');
    const later = portainer.requests.slice(seen);
    expect(later.length).toBeGreaterThan(0);
    expect(later.filter(isCreate)).toEqual([]);
    expect(later.filter((r) => r.method !== 'GET' && r.path !== '/api/auth')).toEqual([]);
    expect(second.steps.find((s) => s.name === 'Portainer deploy')?.detail).toBe('already deployed');
    expect(portainer.endpoints).toHaveLength(1);
    expect(portainer.stacks).toHaveLength(1);
  }, 120_000);
});

describeIf('migration: Portainer manual mode with credentials', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ portainerMode: 'manual', portainerCredentials: true });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('rejects a confirmation while the stack does not exist although Qdrant answers, then accepts', async () => {
    const before = upstreamServers(mw);
    const handle = await mw.start();
    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');

    // Something answers on the new VM's Qdrant port, but nobody deployed the stack through Portainer.
    await mw.world.newQdrant.setReady('ready');
    const early = handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] });
    await expect(early).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    const reason = await early.then(
      () => '',
      (e: WorkflowUpdateFailedError) => String(e.cause?.message),
    );
    expect(reason).toMatch(/Portainer has no stack "qdrant" on environment "Dr-Phoenix"/);
    expect(reason).not.toMatch(/does not answer ready/);
    const still = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    expect(still.steps.find((s) => s.name === 'Portainer deploy')?.detail).toMatch(/no stack "qdrant"/);
    expect(upstreamServers(mw)).toEqual(before);
    expect(mw.world.portainer.state.stacks).toEqual([]);

    await mw.world.deployStack();
    await expect(
      handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester', note: 'deployed' }] }),
    ).resolves.toBe('accepted');

    await mw.waitFor(handle, (s) => s.waitingFor?.what === 'decommission-approval');
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
    await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] });
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    expect(report.operator.map((o) => o.what)).toEqual([
      'confirmPortainerDeploy (rejected)',
      'confirmPortainerDeploy',
      'approveDecommission',
    ]);
    expect(report.operator[0].note).toMatch(/no stack "qdrant"/);
  }, 120_000);
});
