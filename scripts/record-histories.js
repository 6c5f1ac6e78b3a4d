#!/usr/bin/env node
'use strict';
/**
 * Re-records the replay fixtures: runs the e2e scenarios below on the real Temporal dev server (real sshd, nginx and
 * the simulators, like `npm test`) with PHOENIX_RECORD_HISTORIES=1, which writes each run's history into
 * test/fixtures/histories/v<WORKFLOW_BUNDLE_VERSION>/<scenario>.json. Then removes the fixtures of every other bundle
 * version: after an incompatible change they cannot replay any more (that is what the version bump says).
 *
 * When: after each deliberate incompatible change of the workflow (bump WORKFLOW_BUNDLE_VERSION in
 * src/workflows/version.ts first), or to add a scenario. Never after a change behind patched(): the histories recorded
 * before it are the proof that it is compatible. See docs/operations.md. Then commit test/fixtures/histories.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
/** scenario (fixture name) → the e2e test that records it. */
const SCENARIOS = {
  'happy-path': 'test/e2e/happy-path.test.ts',
  'rejected-confirmation': 'test/e2e/confirmation.test.ts',
  'rollback-retry': 'test/e2e/rollback-retry.test.ts',
  abort: 'test/e2e/abort.test.ts',
};

const res = spawnSync(process.execPath, [path.join(__dirname, 'run-tests.js'), ...Object.values(SCENARIOS)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PHOENIX_RECORD_HISTORIES: '1' },
});
if (res.status !== 0) {
  process.stderr.write(`record-histories: the e2e scenarios failed (exit ${res.status}); fixtures NOT cleaned up.\n`);
  process.exit(res.status ?? 1);
}

// run-tests.js built lib/ from src/ when it was stale: the version is the one of the code that just ran.
const { WORKFLOW_BUNDLE_VERSION } = require(path.join(root, 'lib', 'workflows', 'version.js'));
const historiesDir = path.join(root, 'test', 'fixtures', 'histories');
const current = `v${WORKFLOW_BUNDLE_VERSION}`;
const missing = Object.keys(SCENARIOS).filter((s) => !fs.existsSync(path.join(historiesDir, current, `${s}.json`)));
if (missing.length) {
  process.stderr.write(`record-histories: no fixture written for ${missing.join(', ')} in ${current}/.\n`);
  process.exit(1);
}
for (const entry of fs.readdirSync(historiesDir)) {
  if (entry === current) continue;
  fs.rmSync(path.join(historiesDir, entry), { recursive: true, force: true });
  process.stdout.write(`removed test/fixtures/histories/${entry} (not bundle version ${WORKFLOW_BUNDLE_VERSION})\n`);
}
process.stdout.write(
  `recorded ${Object.keys(SCENARIOS).length} histories into test/fixtures/histories/${current}/ — commit them.\n`,
);
