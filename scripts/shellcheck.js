#!/usr/bin/env node
// Part of `npm run lint`: shellcheck on the shell scripts we ship into VMs (src/provisioning/scripts).
// Installs shellcheck as root with apt when it is missing (scripts/ensure-system-packages.js), runs it when it is there
// and says so when it is not — except under CI=true, where a missing shellcheck is a failure.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'src', 'provisioning', 'scripts');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.sh'))
  .map((f) => path.join(dir, f));
require('./ensure-system-packages.js').ensureSystemPackages({ purpose: 'lint' });
const found = spawnSync('shellcheck', ['--version'], { stdio: 'ignore' });
if (found.error || found.status !== 0) {
  const msg = 'shellcheck not found: the provisioning scripts were NOT checked (apt-get install shellcheck)';
  if (process.env.CI === 'true') {
    console.error(msg);
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}
const res = spawnSync('shellcheck', ['--shell=bash', '--severity=style', ...files], { stdio: 'inherit' });
if (res.status !== 0) process.exit(res.status ?? 1);
console.log(`shellcheck: ${files.length} provisioning scripts clean`);
