/**
 * Issue 7: `dryRun: true` runs every read, check and preflight, returns what it would change per phase, skips the
 * human waits (listed as "needs a person here") and makes zero mutating calls.
 */
import fs from 'node:fs';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { legacyCtsPresent, mutatingCalls, upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: dry run', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld();
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('reports the changes it would make and makes none', async () => {
    const before = upstreamServers(mw);
    const site = fs.readFileSync(mw.world.gateway.realSiteFile, 'utf8');
    const handle = await mw.start({ dryRun: true });
    const report = (await handle.result()) as MigrationReport;

    expect(report.outcome).toBe('dry-run');
    expect(mutatingCalls(mw)).toEqual([]);
    expect(fs.readFileSync(mw.world.gateway.realSiteFile, 'utf8')).toBe(site);
    for (const f of mw.world.plan.composeFiles) expect(fs.existsSync(f.hostPath)).toBe(false);
    expect(upstreamServers(mw)).toEqual(before);
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);

    const changes = report.changes.join('\n');
    expect(changes).toMatch(/compose file .*: would-create/);
    expect(changes).toMatch(/VM 1002: clone 9000 → 1002 \(would be\)/);
    expect(changes).toMatch(/nginx upstream qdrant_service: .* → .* \(would change\)/);
    expect(changes).toMatch(/kept \(refused by a gate\): CT 950 .*qwen_service/);
    expect(report.decommission.results.map((r) => [r.ctid, r.outcome])).toEqual(
      expect.arrayContaining([[951, expect.stringMatching(/would/)]]),
    );
    expect(report.needsPerson.join('\n')).toMatch(/Phase 4: deploy the Qdrant stack .*confirm-portainer/);
    expect(report.needsPerson.join('\n')).toMatch(/Phase 5: approve deleting CT 951, 952 .*kept: 950/);
    expect(
      report.steps
        .filter((s) => s.status === 'skipped')
        .map((s) => s.detail)
        .join('\n'),
    ).toMatch(/needs a person here/);
  }, 120_000);
});
