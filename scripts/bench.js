#!/usr/bin/env node
'use strict';
/**
 * `npm run bench [-- options]` (and, through scripts/chaos.js, `npm run chaos`): like scripts/lab.js, make sure node_modules, the build (including
 * lib/bench) and the Temporal CLI are there, then run lib/bench/<name>.js with the remaining arguments.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const sh = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: ['ignore', process.stderr, 'inherit'] }).status ?? 1;

exports.run = (name) => {
  if (!fs.existsSync(path.join(root, 'node_modules', '.package-lock.json'))) {
    process.stderr.write('node_modules is missing: running npm ci (it also builds) …\n');
    if (sh('npm', ['ci']) !== 0) process.exit(1);
  } else if (
    !fs.existsSync(path.join(root, 'lib', 'bench', `${name}.js`)) ||
    !fs.existsSync(path.join(root, 'lib', 'workflow-bundle.js'))
  ) {
    process.stderr.write('not built yet: running npm run build …\n');
    if (sh('npm', ['run', 'build']) !== 0) process.exit(1);
  }
  const missing = ['/usr/sbin/sshd', '/usr/sbin/nginx'].filter((p) => !fs.existsSync(p));
  if (missing.length) {
    process.stderr.write(
      `npm run ${name} needs a real sshd and nginx; missing: ${missing.join(', ')} (apt-get install -y openssh-server nginx libnginx-mod-http-js)\n`,
    );
    process.exit(1);
  }
  try {
    process.env.TEMPORAL_CLI_PATH = require('./ensure-temporal-cli.js').ensureTemporalCli();
  } catch (err) {
    process.stderr.write(`npm run ${name}: ${err.message}\n`);
    process.exit(1);
  }
  const res = spawnSync(process.execPath, [path.join(root, 'lib', 'bench', `${name}.js`), ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
  });
  process.exit(res.status ?? 1);
};

if (require.main === module) exports.run('bench');
