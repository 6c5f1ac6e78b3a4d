/**
 * Plan `sources.write` inside the real workflow (stubbed activities, time-skipping server): Phoenix's gateway sources
 * are rewritten once, after the verified cutover and before anything is deleted; the report and status say which.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { renderSnapshot } from '../../../src/cli/runs';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate } from '../../../src/workflows/messages';
import type { MigrationReport } from '../../../src/workflows/report';
import { planInput, startTimeSkippingServer, StubActivities, waitForStatus, withWorker } from './support';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkippingServer();
});
afterAll(async () => {
  await env?.teardown();
});

const stale = [
  {
    file: 'etc/nginx/sites-available/vllm_gateway',
    kind: 'committed site' as const,
    line: 4,
    servers: ['10.0.0.152:6333'],
  },
  { file: 'bin/phoenix_hypervisor_lxc_101.sh', kind: 'heredoc' as const, line: 35, servers: ['10.0.0.152:6333'] },
];

async function runToEnd(write: boolean, stubs: StubActivities): Promise<MigrationReport> {
  return withWorker(env, stubs, async (start) => {
    const handle = await start(
      planInput((plan) => {
        plan.phoenixSources = {
          dir: '/srv/phoenix_hypervisor',
          stale,
          current: [],
          problems: [],
          ...(write ? { write } : {}),
        };
      }),
    );
    await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
    await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'alice' }] });
    await waitForStatus(handle, (s) => s.waitingFor?.what === 'decommission-approval', 'the approval');
    await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'alice' }] });
    return (await handle.result()) as MigrationReport;
  });
}

it('with sources.write the run rewrites them after the verified cutover, before any delete; the report and status list them', async () => {
  const stubs = new StubActivities().answer('updatePhoenixSources', () => ({
    updated: stale.map((s) => ({ file: s.file, backup: `${s.file}.phoenix-migrate-20261201T170000Z.bak` })),
    current: [],
    notWritten: [],
  }));
  const report = await runToEnd(true, stubs);
  expect(report.outcome).toBe('completed');
  const names = stubs.names();
  expect(stubs.callsOf('updatePhoenixSources')).toEqual([
    {
      dir: '/srv/phoenix_hypervisor',
      gateway: { ctid: 101, siteFile: expect.any(String), upstream: 'qdrant_service', newServers: ['10.0.0.102:6333'] },
    },
  ]);
  expect(names.indexOf('updatePhoenixSources')).toBeGreaterThan(names.lastIndexOf('cutoverGateway'));
  expect(names.indexOf('updatePhoenixSources')).toBeLessThan(names.indexOf('decommissionGuest'));
  expect(report.phoenixSources?.stillToUpdate).toEqual([]);
  expect(report.phoenixSources?.updated).toEqual([
    'etc/nginx/sites-available/vllm_gateway (backup etc/nginx/sites-available/vllm_gateway.phoenix-migrate-20261201T170000Z.bak)',
    'bin/phoenix_hypervisor_lxc_101.sh (backup bin/phoenix_hypervisor_lxc_101.sh.phoenix-migrate-20261201T170000Z.bak)',
  ]);
  const text = renderSnapshot({ workflowId: 'migration-x', state: 'COMPLETED', report }, 'http://ui');
  expect(text).toContain("Phoenix's sources updated by the run:");
  expect(text).not.toContain('still to update');
});

it('without sources.write nothing is written and the report lists them still to update', async () => {
  const stubs = new StubActivities();
  const report = await runToEnd(false, stubs);
  expect(report.outcome).toBe('completed');
  expect(stubs.names()).not.toContain('updatePhoenixSources');
  expect(report.phoenixSources?.stillToUpdate).toHaveLength(2);
});
