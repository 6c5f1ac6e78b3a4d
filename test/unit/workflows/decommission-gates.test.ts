/**
 * The decommission gates inside the real workflow (stubbed activities, time-skipping server): the scan runs again
 * right before each deletion, the operator may keep CTs (and only listed ones), the data gate is always on, and an
 * undecided volume stops the run at preflight with nothing changed.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { onlyRoutesTouching } from '../../../src/activities/legacy-scan';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate } from '../../../src/workflows/messages';
import type { MigrationReport } from '../../../src/workflows/report';
import {
  failureOf,
  planInput,
  startTimeSkippingServer,
  StubActivities,
  waitForStatus,
  withWorker,
  type MigrationHandle,
} from './support';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkippingServer();
});
afterAll(async () => {
  await env?.teardown();
});

const alice = { by: 'alice' };
const SITE = '/etc/nginx/sites-enabled/vllm_gateway';

async function toApproval(handle: MigrationHandle) {
  await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
  expect(await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [alice] })).toBe('accepted');
  return waitForStatus(handle, (s) => s.waitingFor?.what === 'decommission-approval', 'the approval');
}

/**
 * nginx's loaded config: the moved upstream (as the run left it) plus `extra` upstreams — filtered as the activity
 * filters them when the run asks for only the routes touching the legacy CTs' addresses.
 */
function routes(stubs: StubActivities, extra: () => { name: string; address: string }[]) {
  stubs.answer('readGatewayRoutes', (i) => {
    const all = loadedRoutes(stubs, i, extra);
    return i.only ? onlyRoutesTouching(all, i.only) : all;
  });
}

function loadedRoutes(
  stubs: StubActivities,
  i: { gateway: { upstream: string; newServers: string[] } },
  extra: () => { name: string; address: string }[],
) {
  return {
    files: [SITE],
    upstreams: [
      {
        name: i.gateway.upstream,
        file: SITE,
        line: 1,
        servers: stubs.callsOf('cutoverGateway').length
          ? i.gateway.newServers.map((a) => ({ host: a.split(':')[0], port: 6333, address: a }))
          : [{ host: '10.0.0.152', port: 6333, address: '10.0.0.152:6333' }],
      },
      ...extra().map((u, n) => ({
        name: u.name,
        file: SITE,
        line: n + 2,
        servers: [{ host: u.address.split(':')[0], port: Number(u.address.split(':')[1]), address: u.address }],
      })),
    ],
    literals: [],
  };
}

const deletedBy = (stubs: StubActivities) => stubs.callsOf('decommissionGuest').map((i) => i.guest.ctid);

it('a route added while the approval waits refuses that CT at delete time, naming the route', async () => {
  const stubs = new StubActivities();
  let added = false;
  routes(stubs, () => (added ? [{ name: 'rerank_service', address: '10.0.0.151:8001' }] : []));
  const report = await withWorker(env, stubs, async (start) => {
    const handle = await start(planInput());
    const approval = await toApproval(handle);
    expect(approval.waitingFor?.items.join('\n')).toMatch(/delete CT 951/);
    added = true; // someone routes to CT 951 while the approval waits
    await handle.executeUpdate(approveDecommissionUpdate, { args: [alice] });
    return (await handle.result()) as MigrationReport;
  });
  expect(report.outcome).toBe('completed');
  expect(deletedBy(stubs).sort()).toEqual([950, 952]);
  expect(report.decommission.refused).toEqual([
    {
      ctid: 951,
      reason: `CT 951 (vllm-granite-embed-r2): nginx upstream rerank_service (${SITE}:2) still routes to 10.0.0.151:8001`,
    },
  ]);
  expect(report.changes.join('\n')).toMatch(/CT 951: NOT deleted — .*rerank_service/);
  // Each scan asked only for the routes touching its CTs' addresses (the stub filters as the activity does).
  const scans = stubs.callsOf('readGatewayRoutes').map((i) => i.only);
  expect(scans.length).toBeGreaterThanOrEqual(2);
  for (const only of scans) expect(only?.keepUpstream).toBe('qdrant_service');
  expect(scans.some((only) => only?.addresses.includes('10.0.0.151'))).toBe(true);
});

it('--keep: the operator keeps a listed CT (reported apart from refusals); an unknown ctid is rejected', async () => {
  const stubs = new StubActivities();
  routes(stubs, () => []);
  const report = await withWorker(env, stubs, async (start) => {
    const handle = await start(planInput());
    await toApproval(handle);
    const wrong = handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'alice', keep: [951, 4242] }] });
    await expect(wrong).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(wrong).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/cannot keep CT 4242: not among the CTs this approval deletes/) },
    });
    const answer = await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'alice', keep: [951] }] });
    expect(answer).toMatch(/kept by alice: CT 951/);
    return (await handle.result()) as MigrationReport;
  });
  expect(deletedBy(stubs).sort()).toEqual([950, 952]);
  expect(report.decommission.keptByOperator).toEqual([951]);
  expect(report.decommission.refused).toEqual([]);
});

it('mode "none" with data on the legacy Qdrant refuses the CT hosting it, listing the collections and the fix', async () => {
  const stubs = new StubActivities().answer('compareQdrantCollections', () => [
    { name: 'docs', legacyCount: 48, newCount: -1 },
    { name: 'vscode_rag', legacyCount: 120, newCount: -1 },
  ]);
  routes(stubs, () => []);
  const report = await withWorker(env, stubs, async (start) => {
    const handle = await start(planInput((plan) => (plan.qdrant.data.mode = 'none')));
    const approval = await toApproval(handle);
    expect(approval.waitingFor?.items.join('\n')).toMatch(/kept: CT 952 .*hosts the legacy Qdrant/);
    await handle.executeUpdate(approveDecommissionUpdate, { args: [alice] });
    return (await handle.result()) as MigrationReport;
  });
  expect(deletedBy(stubs)).not.toContain(952);
  const refusal = report.decommission.refused.find((r) => r.ctid === 952);
  expect(refusal?.reason).toMatch(/docs \(48 points; missing on the new instance\), vscode_rag \(120 points/);
  expect(refusal?.reason).toMatch(/qdrant\.data\.mode is "none": set it to "snapshot"/);
  expect(report.data).toEqual({
    mode: 'none',
    collections: [
      { name: 'docs', legacyCount: 48, newCount: -1 },
      { name: 'vscode_rag', legacyCount: 120, newCount: -1 },
    ],
  });
});

it('an undecided volume stops the run at preflight: nothing changed, the problem names CT, mount point and size', async () => {
  // CT 951 carries a vllm_models volume on the node; the plan does not decide it.
  const stubs = new StubActivities().answer('inspectLegacyGuests', (i) =>
    i.guests.map((g) => ({
      ctid: g.ctid,
      exists: g.ctid !== 953,
      visible: true,
      addresses: g.ip ? [g.ip] : [],
      mountPoints:
        g.ctid === 951
          ? [
              {
                key: 'mp0',
                kind: 'volume' as const,
                source: 'fastData-shared-bulk-data:subvol-951-disk-1',
                path: '/vllm_models',
                sizeGb: 50,
                backup: false,
                raw: 'fastData-shared-bulk-data:subvol-951-disk-1,mp=/vllm_models,size=50G',
              },
            ]
          : [],
    })),
  );
  const failure = await withWorker(env, stubs, async (start) => {
    const handle = await start(
      planInput((plan) => {
        for (const g of plan.legacyGuests) delete g.volumes;
      }),
    );
    return failureOf(handle);
  });
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect(String(failure.cause?.message)).toMatch(
    /Preflight found 1 problem\(s\); nothing was changed:\n- CT 951 \(vllm-granite-embed-r2\): volume mount point mp0 at \/vllm_models \(50 GB, fastData-shared-bulk-data:subvol-951-disk-1\) is in no backup .* — fix: decide it in the plan: legacyGuests\[1\]\.volumes\.mp0 = "backup" .* or "discard"/,
  );
  expect(stubs.names().filter((n) => !['preflight', 'inspectLegacyGuests', 'notify'].includes(n))).toEqual([]);
});

it('a plan without legacy names: preflight pins the names and volumes the node shows; the approval lists them and the delete gets them', async () => {
  const names: Record<number, string> = {
    950: 'vllm-qwen2.5-7b-awq',
    951: 'vllm-granite-embed-r2',
    952: 'qdrant-VSCodeRag',
  };
  const mp0 = (ctid: number) => ({
    key: 'mp0',
    kind: 'volume' as const,
    source: `fastData-shared-bulk-data:subvol-${ctid}-disk-1`,
    path: '/vllm_models',
    sizeGb: 50,
    backup: false,
    raw: `fastData-shared-bulk-data:subvol-${ctid}-disk-1,mp=/vllm_models,size=50G`,
  });
  const stubs = new StubActivities().answer('inspectLegacyGuests', (i) =>
    i.guests.map((g) => ({
      ctid: g.ctid,
      exists: g.ctid !== 953,
      visible: true,
      type: 'lxc' as const,
      node: g.node,
      ...(names[g.ctid] ? { name: names[g.ctid] } : {}),
      status: 'running',
      addresses: g.ip ? [g.ip] : [],
      mountPoints: g.ctid === 953 ? [] : [mp0(g.ctid)],
    })),
  );
  routes(stubs, () => []);
  const report = await withWorker(env, stubs, async (start) => {
    const handle = await start(
      planInput((plan) => {
        for (const g of plan.legacyGuests) {
          delete g.name;
          delete g.volumes;
          g.allVolumes = 'backup';
        }
      }),
    );
    const approval = await toApproval(handle);
    expect(approval.waitingFor?.items.join('\n')).toMatch(/delete CT 950 vllm-qwen2\.5-7b-awq/);
    await handle.executeUpdate(approveDecommissionUpdate, { args: [alice] });
    return (await handle.result()) as MigrationReport;
  });
  expect(report.outcome).toBe('completed');
  const deleted = stubs
    .callsOf('decommissionGuest')
    .map((i) => i.guest)
    .sort((a, b) => a.ctid - b.ctid);
  expect(deleted.map((g) => [g.ctid, g.name, g.volumes, g.allVolumes])).toEqual(
    [950, 951, 952].map((ctid) => [ctid, names[ctid], { mp0: 'backup' }, undefined]),
  );
});
