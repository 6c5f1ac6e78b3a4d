/**
 * The homelab's nightly backup job is running when the decommission starts: Proxmox runs one vzdump job per node at a
 * time, so the run's backups wait for the node's backup lock, and the CTs the nightly job holds locked are waited
 * for. End to end on the real Temporal dev server: the run completes with exactly one backup of its own per CT.
 */
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

const NIGHTLY_MS = 4_000;

describeIf("migration: the node's nightly backup job holds the backup lock at the decommission", () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({
      portainerMode: 'api',
      approvals: false,
      proxmoxFaults: { scheduledBackupJobMs: NIGHTLY_MS },
    });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('waits for the lock, then backs up and deletes each legacy CT once', async () => {
    const handle = await mw.start();
    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    expect(report.decommission.refused.map((r) => r.ctid)).toEqual([950]);

    const jobs = mw.world.proxmox.state.tasks.filter((t) => t.type === 'vzdump');
    const nightly = jobs.filter((t) => t.user === 'root@pam');
    const ours = jobs.filter((t) => t.user !== 'root@pam');
    expect(nightly).toHaveLength(1);
    // One job of ours per CT backed up, each run only after the nightly job ended, one after the other; the first one
    // asked for (the one the nightly job started just before) waited for the lock.
    expect(ours.map((t) => t.id).sort()).toEqual(['951', '952']);
    const ranFrom = (t: (typeof ours)[number]) => t.runsFromMs ?? t.startedAtMs;
    for (const t of ours) {
      expect(t.exitstatus).toBe('OK');
      expect(ranFrom(t)).toBeGreaterThanOrEqual(nightly[0].startedAtMs + NIGHTLY_MS);
    }
    const [asked] = [...ours].sort((a, b) => a.startedAtMs - b.startedAtMs);
    expect(asked.log).toContain('INFO: trying to get global lock - waiting...');
    const [first, second] = [...ours].sort((a, b) => ranFrom(a) - ranFrom(b));
    expect(ranFrom(second)).toBeGreaterThanOrEqual(ranFrom(first) + first.durationMs);

    // The report names the run's own archives, not the nightly job's of the same CTs (a CT that was shutting down
    // when the nightly job reached it has none: the job failed that guest).
    const storage = mw.world.plan.backups.storage;
    const archives = mw.world.proxmox.state.backups[storage] ?? [];
    const byUs = (b: { notes?: string }) => b.notes?.startsWith('phoenix-migrate:') === true;
    expect(archives.some((b) => (b.vmid === 951 || b.vmid === 952) && !byUs(b))).toBe(true);
    for (const ctid of [951, 952]) {
      const mine = archives.filter((b) => b.vmid === ctid && byUs(b));
      expect(mine).toHaveLength(1);
      expect(report.backups.find((b) => b.ctid === ctid)?.volid).toBe(mine[0].volid);
    }
  }, 120_000);
});
