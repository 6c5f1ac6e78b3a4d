#!/usr/bin/env node
'use strict';
/* global require, process, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS script run with node */
/**
 * Prints the sha256 of every script phoenix-migrate runs on the Proxmox host and in the gateway CT, in the format
 * of /etc/phoenix-migrate/allowed-scripts.sha256 that deploy/proxmox-host/phoenix-ssh-gate reads.
 * Run on the worker, from the installed (built) tree:  node deploy/proxmox-host/print-allowed-scripts.js [lib dir]
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const lib = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'lib'));
const sha = (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

const scripts = require(path.join(lib, 'nginx', 'scripts.js'));
const found = [];
for (const name of ['READ_SCRIPT', 'WRITE_SCRIPT', 'RELOAD_SCRIPT', 'TEST_SCRIPT']) {
  if (typeof scripts[name] !== 'string')
    throw new Error(`${lib}/nginx/scripts.js exports no ${name}: is this a built phoenix-migrate?`);
  found.push([name, scripts[name]]);
}
// The compose-file script is private to activities/files.js: take it from the compiled String.raw literal,
// which holds the script text as it is sent (it contains no backquote and no ${…}).
const files = fs.readFileSync(path.join(lib, 'activities', 'files.js'), 'utf8');
const m = /PUT_FILE_SCRIPT = String\.raw\s*`([^`]*)`/.exec(files);
if (!m || m[1].includes('${')) throw new Error(`cannot find PUT_FILE_SCRIPT in ${lib}/activities/files.js`);
found.push(['PUT_FILE_SCRIPT', m[1]]);

for (const [name, text] of found) process.stdout.write(`${sha(text)} ${name}\n`);
