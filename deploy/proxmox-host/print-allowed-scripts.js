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
const files = require(path.join(lib, 'activities', 'files.js'));
if (typeof files.PUT_FILE_SCRIPT !== 'string')
  throw new Error(`${lib}/activities/files.js exports no PUT_FILE_SCRIPT: is this a built phoenix-migrate?`);
found.push(['PUT_FILE_SCRIPT', files.PUT_FILE_SCRIPT]);

for (const [name, text] of found) process.stdout.write(`${sha(text)} ${name}\n`);
