/**
 * Issue 11 (3): `reindex` data mode. After the cutover the run waits for the producers to re-index into the new
 * Qdrant; `reindexDone` makes it check the expected collections and minimum counts. Too few points block
 * decommissioning (the run fails, nothing deleted, the gateway stays on the new Qdrant: no rollback); a re-run after
 * the producers finished completes.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { request } from 'undici';
import { reindexDoneUpdate } from '../../src/workflows/messages';
import type { MigrationReport } from '../../src/workflows/report';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { legacyCtsPresent, upstreamServers } from './support';
import { continueCommandFor } from '../../src/workflows/continue-commands';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: reindex data mode', () => {
  let mw: MigrationWorld;
  beforeAll(async () => {
    mw = await startMigrationWorld({
      portainerMode: 'api',
      approvals: false,
      dataMode: 'reindex',
      // One legacy collection, re-indexed here: the data gate then lets CT 952 go once the new one holds as many.
      legacyCollections: [{ name: 'vscode_rag', points: 120 }],
      expectedCollections: [{ name: 'vscode_rag', minCount: 100 }],
      durations: { verifyBudget: '2s' },
    });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  /** A producer re-indexing: writes points through the gateway (which now routes to the new Qdrant). */
  async function qdrant(method: 'PUT', path: string, body: unknown): Promise<void> {
    const res = await request(`${mw.world.plan.qdrant.gatewayUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
  }
  async function upsert(from: number, to: number): Promise<void> {
    const points = [];
    for (let id = from; id <= to; id++) points.push({ id, vector: [id % 7, 1, 0.5, 0.25], payload: { doc: `d${id}` } });
    await qdrant('PUT', '/collections/vscode_rag/points?wait=true', { points });
  }
  const waitForReindex = (handle: WorkflowHandle) =>
    mw.waitFor(handle, (s) => s.waitingFor?.what === 'reindex', 60_000);

  it('waits after the cutover; too few points block decommissioning without a rollback; a re-run with enough completes', async () => {
    const handle = await mw.start();
    const waiting = await waitForReindex(handle);
    expect(waiting.waitingFor?.items).toEqual(['vscode_rag ≥ 100 points']);
    expect(continueCommandFor(waiting.waitingFor!.what, waiting.workflowId)).toContain('phoenix-migrate reindex-done');
    expect(waiting.steps.find((s) => s.name === 'gateway cutover')?.status).toBe('done');
    expect(waiting.steps.some((s) => s.name === 'dependency scan')).toBe(false);
    expect(upstreamServers(mw)).toEqual(mw.world.plan.gateway.newServers);

    // The producers got only part of the way.
    await qdrant('PUT', '/collections/vscode_rag', { vectors: { size: 4, distance: 'Cosine' } });
    await upsert(1, 60);
    await expect(handle.executeUpdate(reindexDoneUpdate, { args: [{ by: 'producers' }] })).resolves.toMatch(/checking/);

    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const message = String((err as WorkflowFailedError).cause?.message);
    expect(message).toMatch(
      /Re-indexed data does not match the plan \(vscode_rag: exact count 60 is below the expected minimum 100\); decommissioning is blocked/,
    );
    const report = (err as WorkflowFailedError & { cause: { details?: unknown[] } }).cause
      .details?.[0] as MigrationReport;
    expect(report.gateway).toMatchObject({
      changed: true,
      rolledBack: false,
      currentServers: mw.world.plan.gateway.newServers,
    });
    expect(report.decommission.deleted).toEqual([]);
    expect(report.steps.some((s) => s.name === 'gateway rollback')).toBe(false);
    expect(upstreamServers(mw)).toEqual(mw.world.plan.gateway.newServers);
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);

    // The producers finish; the operator starts the run again: it converges, waits, checks, completes.
    await upsert(61, 130);
    const again = await mw.start({ workflowId: `${handle.workflowId}-again` });
    await waitForReindex(again);
    await again.executeUpdate(reindexDoneUpdate, { args: [{ by: 'producers' }] });
    const done = (await again.result()) as MigrationReport;
    expect(done.outcome).toBe('completed');
    expect(done.steps.find((s) => s.name === 'check re-indexed collections')).toMatchObject({
      status: 'done',
      detail: expect.stringMatching(/vscode_rag=130/),
    });
    expect(done.decommission.deleted.sort()).toEqual([951, 952, 953]);
    expect(upstreamServers(mw)).toEqual(mw.world.plan.gateway.newServers);
    expect(mw.world.newQdrant.collections()).toEqual([{ name: 'vscode_rag', count: 130 }]);
  }, 150_000);
});
