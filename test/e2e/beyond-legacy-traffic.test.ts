/**
 * Issue 11 (4): clients that still talk to the legacy Qdrant directly during the soak are reported — in the approval's
 * items (naming the legacy CT) and in report.legacyTraffic — and the person can still approve with that knowledge.
 * A soak without such clients reports nothing (the run's own /metrics reads are not "traffic").
 */
import { request } from 'undici';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate } from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import type { MigrationStatus } from '../../src/workflows/status';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import type { WorkflowHandle } from '@temporalio/client';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

const soakRunning = (s: MigrationStatus) => s.steps.some((st) => st.name.startsWith('soak') && st.status === 'running');

async function deployAndConfirm(mw: MigrationWorld, handle: WorkflowHandle): Promise<void> {
  await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
  await mw.world.deployStack();
  await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] });
}

describeIf('migration: legacy traffic during the soak', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ durations: { soak: '3s', soakProbeEvery: '1s', verifyBudget: '5s' } });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('lists CT 952 as still receiving traffic in the approval and the report, and approval stays possible', async () => {
    const handle = await mw.start();
    await deployAndConfirm(mw, handle);
    await mw.waitFor(handle, soakRunning);

    // A client that bypasses the gateway: it still talks to CT 952's Qdrant directly.
    for (let i = 0; i < 4; i++) {
      const res = await request(`${mw.world.legacyQdrant.url}/collections`);
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    }

    const approval = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'decommission-approval', 30_000);
    const items = approval.waitingFor?.items ?? [];
    const warning = items.find((i) => i.startsWith('⚠'));
    expect(warning).toMatch(/CT 952 \(\S+\) still received \d+ request\(s\) directly during the soak/);
    expect(items.join('\n')).toMatch(/delete CT 952/);
    expect(approval.steps.find((s) => s.name.startsWith('soak'))?.detail).toMatch(/CT 952/);

    // The person decides, knowing it.
    await expect(
      handle.executeUpdate(approveDecommissionUpdate, {
        args: [{ by: 'tester', note: 'the stray client is being retired' }],
      }),
    ).resolves.toMatch(/approved/);
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    expect(report.legacyTraffic).toHaveLength(1);
    expect(report.legacyTraffic[0]).toMatch(
      /^CT 952 \(\S+\) still received ([4-9]|\d{2,}) request\(s\) directly during the soak: some client bypasses the gateway$/,
    );
    expect(report.decommission.deleted).toContain(952);
  }, 120_000);
});

describeIf('migration: a soak without legacy clients', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ durations: { soak: '3s', soakProbeEvery: '1s', verifyBudget: '5s' } });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('reports no legacy traffic (its own counter reads do not count)', async () => {
    const handle = await mw.start();
    await deployAndConfirm(mw, handle);
    const approval = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'decommission-approval', 30_000);
    expect((approval.waitingFor?.items ?? []).filter((i) => i.startsWith('⚠'))).toEqual([]);
    expect(approval.steps.find((s) => s.name.startsWith('soak'))?.detail).toMatch(/^\d+ probe\(s\) passed$/);
    await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] });
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    expect(report.legacyTraffic).toEqual([]);
  }, 120_000);
});
