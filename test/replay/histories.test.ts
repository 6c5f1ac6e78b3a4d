/**
 * Replays the committed histories of real runs against the BUILT workflow bundle (lib/workflow-bundle.js — what the
 * worker ships): a change to src/workflows that would break a running migration (non-determinism) fails here.
 *
 * The fixtures are those of the current WORKFLOW_BUNDLE_VERSION (test/fixtures/histories/v<N>/, see fixtures.ts),
 * recorded by the e2e tests on the real Temporal server. Re-record them with `node scripts/record-histories.js` after a
 * deliberate incompatible change (and a version bump) — never after a patched() change: see docs/operations.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { WORKFLOW_BUNDLE_VERSION } from '../../src/workflows/version';
import { fixtureFiles, fixturesDir, HISTORIES_ROOT, readFixture } from './fixtures';

const REPO = path.resolve(__dirname, '..', '..');
const BUILT_BUNDLE = path.join(REPO, 'lib', 'workflow-bundle.js');
const fixtures = fixtureFiles();

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

describe(`replay of recorded histories (bundle version ${WORKFLOW_BUNDLE_VERSION})`, () => {
  it('has the recorded scenarios of the current bundle version, and no other version', () => {
    expect(fixtures).toEqual(['abort.json', 'happy-path.json', 'rejected-confirmation.json', 'rollback-retry.json']);
    expect(fs.readdirSync(HISTORIES_ROOT)).toEqual([path.basename(fixturesDir())]);
  });

  it('the built bundle is the code under test (npm test and npm ci build it; otherwise run npm run build)', () => {
    expect(fs.existsSync(BUILT_BUNDLE)).toBe(true);
    expect(fs.statSync(BUILT_BUNDLE).mtimeMs).toBeGreaterThanOrEqual(newestMtime(path.join(REPO, 'src', 'workflows')));
  });

  it.each(fixtures)('%s: tagged with its bundle version, small, secret-free (secrets only by reference)', (file) => {
    expect(readFixture(file).bundleVersion).toBe(WORKFLOW_BUNDLE_VERSION);
    const text = fs.readFileSync(path.join(fixturesDir(), file), 'utf8');
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

  it.each(fixtures)('%s replays on lib/workflow-bundle.js without non-determinism', async (file) => {
    const fixture = readFixture(file);
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: BUILT_BUNDLE } },
      historyFromJSON(fixture.history),
      fixture.workflowId,
    );
  });
});
