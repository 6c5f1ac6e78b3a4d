#!/usr/bin/env node
'use strict';
/**
 * `npm run lab [-- options]`: makes sure node_modules, the build, sshd/nginx (scripts/ensure-system-packages.js) and
 * the Temporal CLI are there, then runs
 * `phoenix-migrate lab` (see `npx phoenix-migrate lab --help`).
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

if (!fs.existsSync(path.join(root, 'node_modules', '.package-lock.json'))) {
  process.stderr.write('node_modules is missing: running npm ci (it also builds) …\n');
  if (run('npm', ['ci']) !== 0) process.exit(1);
} else if (
  !fs.existsSync(path.join(root, 'lib', 'cli', 'main.js')) ||
  !fs.existsSync(path.join(root, 'lib', 'workflow-bundle.js'))
) {
  process.stderr.write('not built yet: running npm run build …\n');
  if (run('npm', ['run', 'build']) !== 0) process.exit(1);
}
// A real sshd and a real nginx (+njs): installed here as root with apt, otherwise the exact command and exit 2.
const systemPackages = require('./ensure-system-packages.js').ensureSystemPackages({ purpose: 'lab' });
if (systemPackages !== 0) process.exit(systemPackages);
try {
  process.env.TEMPORAL_CLI_PATH = require('./ensure-temporal-cli.js').ensureTemporalCli();
} catch (err) {
  process.stderr.write(`npm run lab: ${err.message}\n`);
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  [path.join(root, 'bin', 'phoenix-migrate.js'), 'lab', ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
process.exit(res.status ?? 1);
