/**
 * Issue 11 (2): `snapshot` data mode. The legacy collections (vscode_rag 120, docs 48) are copied by snapshot into the
 * new Qdrant before the cutover — while clients still go to the legacy one — with equal exact counts. A count
 * mismatch blocks the run with a message naming the collection, and nothing changed for clients.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { MigrationReport } from '../../src/workflows/report';
import type { MigrationStatus } from '../../src/workflows/status';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { legacyCtsPresent, upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

const COPY = 'copy Qdrant collections by snapshot';
const CUTOVER = 'gateway cutover';
const stepOf = (s: { steps: MigrationStatus['steps'] }, name: string) => s.steps.find((st) => st.name === name);
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

describeIf('migration: snapshot data mode', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({
      portainerMode: 'api',
      approvals: false,
      dataMode: 'snapshot',
      expectedCollections: [
        { name: 'vscode_rag', minCount: 120 },
        { name: 'docs', minCount: 48 },
      ],
      durations: { verifyBudget: '5s' },
    });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('copies both collections with equal exact counts before the cutover', async () => {
    const legacyServers = upstreamServers(mw);
    expect(legacyServers).toEqual([`${mw.world.legacyQdrant.host}:${mw.world.legacyQdrant.port}`]);
    // Slow recoveries, so the test can look at the world while the copy runs.
    mw.world.newQdrant.setFaults({ recoverDelayMs: 1500 });
    const handle = await mw.start();

    const copying = await mw.waitFor(handle, (s) => stepOf(s, COPY)?.status === 'running');
    expect(stepOf(copying, CUTOVER)).toBeUndefined();
    expect(upstreamServers(mw)).toEqual(legacyServers);

    const report = (await handle.result()) as MigrationReport;
    expect(report.outcome).toBe('completed');
    const names = report.steps.map((s) => s.name);
    expect(names.indexOf(COPY)).toBeGreaterThan(names.indexOf('Qdrant answers on the new VM'));
    expect(names.indexOf(COPY)).toBeLessThan(names.indexOf(CUTOVER));
    const copy = report.steps[names.indexOf(COPY)];
    const cut = report.steps[names.indexOf(CUTOVER)];
    expect(copy).toMatchObject({ status: 'done', detail: 'vscode_rag: 120/120; docs: 48/48' });
    expect(Date.parse(copy.endedAt ?? '')).toBeLessThanOrEqual(Date.parse(cut.startedAt ?? ''));
    expect(report.changes).toEqual(
      expect.arrayContaining([
        'Qdrant collection vscode_rag copied (120 points)',
        'Qdrant collection docs copied (48 points)',
      ]),
    );
    // The copy comes before the gateway change in the report's own order too.
    const changeIndex = (re: RegExp) => report.changes.findIndex((c) => re.test(c));
    expect(changeIndex(/^Qdrant collection docs copied/)).toBeLessThan(changeIndex(/^nginx upstream qdrant_service/));
    expect(report.verification?.detail).toMatch(/vscode_rag=120, docs=48/);

    // The world agrees: the new Qdrant holds the same exact counts; no snapshot is left on the legacy disk.
    expect(mw.world.newQdrant.collections().sort(byName)).toEqual([
      { name: 'docs', count: 48 },
      { name: 'vscode_rag', count: 120 },
    ]);
    expect(mw.world.legacyQdrant.collections().sort(byName)).toEqual(mw.world.newQdrant.collections().sort(byName));
    expect(mw.world.legacyQdrant.snapshotNames('vscode_rag')).toEqual([]);
    expect(mw.world.legacyQdrant.snapshotNames('docs')).toEqual([]);
    expect(upstreamServers(mw)).toEqual(mw.world.plan.gateway.newServers);
  }, 120_000);
});

describeIf('migration: snapshot data mode, counts differ', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({ portainerMode: 'api', approvals: false, dataMode: 'snapshot' });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it('blocks with a message naming the collection; gateway untouched, nothing deleted; a re-run completes', async () => {
    const before = upstreamServers(mw);
    mw.world.newQdrant.setFaults({ dropPointsOnRecover: { docs: 5 } });
    const handle = await mw.start();

    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const message = String((err as WorkflowFailedError).cause?.message);
    expect(message).toMatch(
      /Collection docs: the new Qdrant holds 43 points after recovery but the legacy one holds 48/,
    );
    const report = (err as WorkflowFailedError & { cause: { details?: unknown[] } }).cause
      .details?.[0] as MigrationReport;
    expect(report.endReason).toMatch(/gateway never touched; nothing deleted/);
    expect(report.gateway.changed).toBe(false);
    expect(report.steps.find((s) => s.name === COPY)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/Collection docs/),
    });
    expect(report.steps.some((s) => s.name === CUTOVER)).toBe(false);

    // Clients never noticed: the gateway still routes to the legacy Qdrant, every legacy CT is there, its data too.
    expect(upstreamServers(mw)).toEqual(before);
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
    expect(mw.world.legacyQdrant.collections().sort(byName)).toEqual([
      { name: 'docs', count: 48 },
      { name: 'vscode_rag', count: 120 },
    ]);
    expect(mw.world.proxmox.audit().filter((e) => e.method === 'DELETE')).toEqual([]);

    // What the message says to do: once the cause is gone, re-running copies again (over the short copy) and completes.
    mw.world.newQdrant.setFaults({});
    const again = await mw.start({ workflowId: `${handle.workflowId}-again` });
    const done = (await again.result()) as MigrationReport;
    expect(done.outcome).toBe('completed');
    expect(done.steps.find((s) => s.name === COPY)?.detail).toBe('vscode_rag: 120/120; docs: 48/48');
    expect(mw.world.newQdrant.collections().sort(byName)).toEqual([
      { name: 'docs', count: 48 },
      { name: 'vscode_rag', count: 120 },
    ]);
  }, 120_000);
});
