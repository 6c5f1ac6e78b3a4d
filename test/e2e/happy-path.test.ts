/**
 * The seed's five phases end to end on the real Temporal dev server: Proxmox simulator over HTTPS, a real sshd as
 * the Proxmox host (with `pct`), a real nginx as the gateway, Qdrant and Portainer simulators.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { readUpstreams } from '../../src/nginx/upstream';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate } from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import fs from 'node:fs';
import { checkedHistory, currentDetails, legacyCtsPresent } from './support';
import { continueCommandFor } from '../../src/workflows/continue-commands';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: happy path', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld();
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('runs the five phases, waits for the person, and reports every change', async () => {
    const handle = await mw.start();
    const waiting = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy');
    expect(waiting.phase).toBe('Application Deployment and Cutover');
    expect(continueCommandFor(waiting.waitingFor!.what, waiting.workflowId)).toContain(
      'phoenix-migrate confirm-portainer',
    );

    // Too early: the stack is not deployed, Qdrant on the new VM does not answer.
    const early = handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] });
    await expect(early).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(early).rejects.toMatchObject({ cause: { message: expect.stringMatching(/does not answer ready/) } });
    expect((await mw.waitFor(handle, (s) => s.waitingFor?.what === 'portainer-deploy')).phase).toBe(
      'Application Deployment and Cutover',
    );

    await mw.world.deployStack();
    await expect(
      handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester', note: 'deployed' }] }),
    ).resolves.toBe('accepted');

    const approval = await mw.waitFor(handle, (s) => s.waitingFor?.what === 'decommission-approval');
    expect(approval.waitingFor?.items.join('\n')).toMatch(/delete CT 952/);
    expect(approval.waitingFor?.items.join('\n')).toMatch(/kept: CT 950 .*qwen_service/);
    // Nothing is deleted before the approval; the Web UI shows the checklist and the command that continues the run.
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
    const details = await currentDetails(handle);
    expect(details).toMatch(/- \[x\] gateway cutover/);
    expect(details).toMatch(/✋ waiting — decommission approval/);
    expect(details).toContain(`Continue with: \`phoenix-migrate approve-decommission --id ${handle.workflowId}\``);
    await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] });

    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    expect(report.vms.map((v) => v.vmid).sort()).toEqual([1001, 1002]);
    // VM 1001 exists before the run (Phoenix's "Dr-Phoenix" with the Portainer server): adopted, never cloned.
    expect(report.provisioned.map((v) => [v.vmid, v.adopted, v.cloned])).toEqual([
      [1001, true, false],
      [1002, false, true],
    ]);
    expect(report.provisioned[1].features.map((f) => `${f.name}:${f.outcome}`)).toEqual([
      'mount:applied',
      'base_setup:already',
      'docker:applied',
      'portainer_agent:applied',
    ]);
    expect(report.composeFiles[0].outcome).toBe('created');
    expect(report.gateway.currentServers).toEqual(mw.world.plan.gateway.newServers);
    expect(report.decommission.deleted.sort()).toEqual([951, 952, 953]);
    expect(report.decommission.refused.map((r) => r.ctid)).toEqual([950]);
    expect(report.backups).toHaveLength(2); // 953 is already gone
    expect(report.changes.join('\n')).toMatch(/nginx upstream qdrant_service: 127\.0\.0\.152:\d+ → 127\.0\.0\.102:\d+/);

    // The world agrees with the report.
    const site = fs.readFileSync(mw.world.gateway.realSiteFile, 'utf8');
    const qdrant = readUpstreams(site).find((u) => u.name === 'qdrant_service');
    expect(qdrant?.servers.map((s) => s.address)).toEqual(mw.world.plan.gateway.newServers);
    for (const ctid of [951, 952, 953]) expect(mw.world.proxmox.guest(ctid)).toBeUndefined();
    expect(mw.world.proxmox.guest(950)).toBeDefined();
    const clones = mw.world.proxmox
      .audit()
      .filter((e) => e.method === 'POST' && /\/qemu\/\d+\/clone$/.test(e.path) && e.status === 200);
    expect(clones.map((e) => Number(e.params.newid))).toEqual([1002]);

    // The history: activity summaries for the Web UI, no secrets; recorded as a replay fixture on request.
    const history = await checkedHistory(mw, handle, 'happy-path');
    expect(history).toMatch(/clone 9000 → 1002/);
    expect(history).toContain(`nginx upstream qdrant_service → ${mw.world.plan.gateway.newServers[0]}`);
    expect(details).toBeDefined();
  }, 180_000);
});
