/**
 * A rehearsal of the operator's own homelab (issue 18): the lab world built from a copy of examples/phoenix and the
 * plan `phoenix-migrate init --phoenix-dir … --legacy 950…953 --adopt 1001 --volumes backup` writes, run to the end
 * with auto-confirm on the real Temporal dev server. The gateway serves the LXC 101 script's heredoc, CT 950 stays
 * for qwen_service, qdrant_service moves to the new Qdrant, and not one byte of the checkout changes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initPlan } from '../../src/config/init-plan';
import { driveRun } from '../../src/lab/driver';
import { buildLabReport } from '../../src/lab/lab';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { checkedHistory } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;
const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'phoenix');

/** Every file under `dir` (relative path → sha256), symlinks by their target, directories by their listing. */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    const names = fs.readdirSync(d).sort();
    out[`${path.relative(dir, d) || '.'}/`] = names.join('\n');
    for (const n of names) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      else
        out[path.relative(dir, p)] = st.isSymbolicLink()
          ? `-> ${fs.readlinkSync(p)}`
          : `${(st.mode & 0o7777).toString(8)} ${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

describeIf('lab rehearsal of the operator checkout (--phoenix)', () => {
  let mw: MigrationWorld | undefined;
  let tmp: string;
  let phoenixDir: string;
  let before: Record<string, string>;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-rehearsal-'));
    phoenixDir = path.join(tmp, 'phoenix_hypervisor');
    fs.cpSync(EXAMPLE, phoenixDir, { recursive: true });
    before = treeHashes(phoenixDir);
  });
  afterAll(async () => {
    await mw?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('runs to completion: CT 950 refused for qwen_service, the upstream moved, the heredoc named, DIR unchanged', async () => {
    const init = initPlan({ dir: phoenixDir, legacy: [950, 951, 952, 953], adopt: [1001], volumes: 'backup' });
    if (!init.ok) throw new Error(JSON.stringify(init.problems));
    expect(init.todos).toEqual([]);
    const planFile = path.join(tmp, 'plan.json');
    // sources.write is rehearsed too: on the lab's own copy of the checkout, never on DIR.
    fs.writeFileSync(planFile, JSON.stringify({ ...init.plan, sources: { write: true } }, null, 2));

    mw = await startMigrationWorld({ rehearsal: { phoenixDir, planFile }, standardPorts: true });
    const { world } = mw;
    expect(world.gatewaySiteSource).toEqual({
      kind: 'heredoc',
      file: path.join(phoenixDir, 'bin', 'phoenix_hypervisor_lxc_101.sh'),
      line: 32,
    });
    // The node as the checkout and the homelab facts say: 950–952 run on, 953 is gone; 1001 exists, 1002 not yet.
    expect([950, 951, 952, 953].map((ct) => world.proxmox.guest(ct) !== undefined)).toEqual([true, true, true, false]);
    expect(world.proxmox.guest(1001)?.status).toBe('running');
    expect(world.proxmox.guest(1002)).toBeUndefined();

    const handle = await mw.start();
    const result = await driveRun({
      client: mw.t.client,
      workflowId: handle.workflowId,
      world,
      autoConfirm: true,
      say: () => undefined,
      pollMs: 200,
    });
    const report = buildLabReport(world, handle.workflowId, result);
    expect(report.status).toBe('completed');
    expect(report.gatewaySiteSource?.kind).toBe('heredoc');
    expect(report.gatewayUpstream).toEqual([`127.0.0.102:${world.newQdrant.port}`]);
    if (world.newQdrant.port === 6333) expect(report.gatewayUpstream).toEqual(['127.0.0.102:6333']);
    expect(report.decommission.find((d) => d.ctid === 950)).toMatchObject({
      outcome: 'refused',
      reason: expect.stringMatching(/qwen_service/),
    });
    expect(report.decommission.map((d) => [d.ctid, d.outcome])).toEqual([
      [950, 'refused'],
      [951, 'deleted'],
      [952, 'deleted'],
      [953, 'already-absent'],
    ]);
    expect(report.vms.map((v) => [v.vmid, v.adopted, v.cloned])).toEqual([
      [1001, true, false],
      [1002, false, true],
    ]);
    // The site the lab served kept the heredoc's own lines (its comment) around the moved server.
    expect(fs.readFileSync(world.gateway.realSiteFile, 'utf8')).toContain('# legacy Qdrant on CT 952');
    expect(report.phoenixSources?.stillToUpdate).toEqual([]);
    expect(report.phoenixSources?.updated?.map((u) => u.split(' ')[0]).sort()).toEqual([
      'bin/phoenix_hypervisor_lxc_101.sh',
      'etc/nginx/sites-available/vllm_gateway',
    ]);
    await checkedHistory(mw, handle);

    expect(treeHashes(phoenixDir)).toEqual(before);
  }, 240_000);
});
