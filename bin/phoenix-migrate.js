#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled into lib/ by `npm run build` (run automatically by `npm ci` via `prepare`).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'lib', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    'phoenix-migrate: not built yet (lib/cli/main.js is missing).\nhint: run `npm ci` (or `npm run build`) in ' +
      path.join(__dirname, '..') +
      '\n',
  );
  process.exit(1);
}
require(entry)
  .main(process.argv)
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write('phoenix-migrate: ' + (err && err.message ? err.message : String(err)) + '\n');
      process.exitCode = 1;
    },
  );
