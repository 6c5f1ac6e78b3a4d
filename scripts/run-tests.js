#!/usr/bin/env node
'use strict';
/**
 * `npm test`: installs what is missing (node_modules, system packages, the Temporal CLI, Temporal's time-skipping test
 * server), then runs the whole jest suite in band — integration tests share one real Temporal dev server, sshd and nginx, the
 * workflow tests in test/unit/workflows run on the time-skipping server, and the machine has two cores.
 * Extra arguments go to jest (`npm test -- test/unit`).
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (res.error) throw res.error;
  return res.status ?? 1;
}

if (!fs.existsSync(path.join(root, 'node_modules', '.package-lock.json'))) {
  process.stderr.write('node_modules is missing: running npm ci …\n');
  if (run('npm', ['ci']) !== 0) process.exit(1);
}

// Some tests run the built CLI and worker (bin/phoenix-migrate.js → lib/): build when lib/ is missing or older than src/.
function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}
const bundle = path.join(root, 'lib', 'workflow-bundle.js');
if (!fs.existsSync(bundle) || fs.statSync(bundle).mtimeMs < newestMtime(path.join(root, 'src'))) {
  process.stderr.write('lib/ is missing or older than src/: running npm run build …\n');
  if (run('npm', ['run', 'build']) !== 0) process.exit(1);
}

// sshd, nginx (+njs), systemd-analyze, chromium: installed here as root with apt, otherwise the exact command and exit 2.
const systemPackages = require('./ensure-system-packages.js').ensureSystemPackages({ purpose: 'test' });
if (systemPackages !== 0) process.exit(systemPackages);

const { ensureTemporalCli } = require('./ensure-temporal-cli.js');
const { ensureTemporalTestServer } = require('./ensure-temporal-test-server.js');
try {
  process.env.TEMPORAL_CLI_PATH = ensureTemporalCli();
  process.env.TEMPORAL_TEST_SERVER_PATH = ensureTemporalTestServer();
} catch (err) {
  process.stderr.write(`npm test: ${err.message}\n`);
  process.exit(1);
}

const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
process.exit(run(process.execPath, [jest, '--runInBand', ...process.argv.slice(2)]));
