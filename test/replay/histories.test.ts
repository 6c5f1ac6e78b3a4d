/**
 * Replays the committed histories of real runs (test/fixtures/histories/*.json) against today's workflow bundle: a
 * change to src/workflows that would break a running migration (non-determinism) fails here.
 *
 * The fixtures are recorded by the end-to-end tests on the real Temporal server. Re-record them after an intended,
 * patched() change of the workflow with
 *   PHOENIX_RECORD_HISTORIES=1 npx jest test/e2e
 * (happy-path → happy-path.json, confirmation → rejected-confirmation.json, rollback-retry → rollback-retry.json,
 * abort-after-failed-verification → abort.json), then commit them. Each holds { workflowId, scenario, history }.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';

const dir = path.join(__dirname, '..', 'fixtures', 'histories');
const fixtures = fs.existsSync(dir)
  ? fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

describe('replay of recorded histories', () => {
  it('has the four recorded scenarios', () => {
    expect(fixtures).toEqual(['abort.json', 'happy-path.json', 'rejected-confirmation.json', 'rollback-retry.json']);
  });

  it.each(fixtures)('%s: small, secret-free, the plan names its secrets only by reference', (file) => {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    expect(text.length).toBeLessThan(1_000_000);
    const payloads = JSON.stringify(JSON.parse(text)).match(/"data":"[A-Za-z0-9+/=]+"/g) ?? [];
    const decoded = payloads.map((p) => Buffer.from(p.slice(8, -1), 'base64').toString('utf8')).join('\n');
    for (const t of [text, decoded]) {
      expect(t).not.toMatch(/-----BEGIN|PRIVATE KEY|ptr_[0-9a-f]{32}/);
    }
    const input = decoded.match(/\{"plan":.*?"digest":"[0-9a-f]{64}"[^}]*\}/s);
    expect(input).not.toBeNull();
    const plan = (JSON.parse(input?.[0] ?? '{}') as { plan: { proxmox: { tokenSecret: unknown } } }).plan;
    expect(plan.proxmox.tokenSecret).toEqual({ env: expect.any(String) });
  });

  it.each(fixtures)('%s replays without non-determinism', async (file) => {
    const fixture = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
      workflowId: string;
      history: unknown;
    };
    const codePath = process.env.PHOENIX_TEST_WORKFLOW_BUNDLE;
    if (!codePath) throw new Error('no workflow bundle: run through jest with the global setup (npm test)');
    await Worker.runReplayHistory(
      { workflowBundle: { codePath } },
      historyFromJSON(fixture.history),
      fixture.workflowId,
    );
  });
});
