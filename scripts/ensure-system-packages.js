#!/usr/bin/env node
'use strict';
/**
 * The system packages `npm run lab` and `npm test` need (a real sshd, a real nginx with its njs module, …), installed
 * on a fresh Debian/Ubuntu machine when run as root with apt; otherwise the exact command to run, and exit 2.
 *
 * Data-driven: a package is one line of SYSTEM_PACKAGES. `required` packages stop the command when they are missing
 * and cannot be installed; the others are installed when possible, and the tests that need them say why they skip
 * (with CI=true they fail instead).
 *
 * Installing openssh-server or nginx would start system services on ports 22/80: while apt runs, a
 * /usr/sbin/policy-rc.d that answers 101 ("action forbidden") keeps every service down (Debian's invoke-rc.d
 * contract), and it is removed afterwards unless it was there before.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/** @typedef {{ name: string, files: string[], why: string, for: ('lab'|'test'|'lint')[], required: boolean }} SystemPackage */

/** @type {SystemPackage[]} */
const SYSTEM_PACKAGES = [
  {
    name: 'openssh-server',
    files: ['/usr/sbin/sshd'],
    why: 'the Proxmox host (a real sshd)',
    for: ['lab', 'test'],
    required: true,
  },
  {
    name: 'nginx',
    files: ['/usr/sbin/nginx'],
    why: 'the gateway (a real nginx)',
    for: ['lab', 'test'],
    required: true,
  },
  {
    name: 'libnginx-mod-http-js',
    files: ['/usr/lib/nginx/modules/ngx_http_js_module.so'],
    why: "the gateway's njs module",
    for: ['lab', 'test'],
    required: true,
  },
  {
    name: 'bubblewrap',
    files: ['/usr/bin/bwrap'],
    why: "the lab guests' sandbox in one process per command (without it: unshare + chroot, ~4× the CPU per command)",
    for: ['lab', 'test'],
    required: false,
  },
  {
    name: 'systemd',
    files: ['/usr/bin/systemd-analyze'],
    why: 'systemd-analyze verify of the worker unit',
    for: ['test'],
    required: false,
  },
  { name: 'chromium', files: ['/usr/bin/chromium'], why: 'the Temporal Web UI test', for: ['test'], required: false },
  {
    name: 'shellcheck',
    files: ['/usr/bin/shellcheck'],
    why: 'lint of the provisioning scripts shipped into VMs',
    for: ['lint', 'test'],
    required: false,
  },
];

const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const EXIT_NEEDS_PERSON = 2;

/** The first executable `name` on `PATH`, or undefined. */
function which(name, PATH) {
  for (const dir of (PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** The command a person runs, for the message: the policy-rc.d part included, so it is safe to paste. */
function manualCommand(names) {
  return (
    `printf '#!/bin/sh\\nexit 101\\n' > ${POLICY_RC_D} && chmod +x ${POLICY_RC_D} && ` +
    `apt-get update && apt-get install -y --no-install-recommends ${names.join(' ')}; rm -f ${POLICY_RC_D}`
  );
}

/**
 * Installs what `purpose` needs and is missing. Returns 0 when everything required is there afterwards, 2 when a
 * person must install it (the message says exactly what to run), 1 when apt itself failed.
 *
 * Everything it touches is injectable, so a test drives it with a fake file system root, PATH and uid.
 * @param {{ purpose: 'lab'|'test'|'lint', root?: string, PATH?: string, uid?: number, log?: (line: string) => void,
 *   packages?: SystemPackage[], spawn?: typeof spawnSync }} options
 */
function ensureSystemPackages(options) {
  const root = options.root ?? '/';
  const PATH = options.PATH ?? process.env.PATH ?? '';
  const uid = options.uid ?? (typeof process.getuid === 'function' ? process.getuid() : -1);
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  const spawn = options.spawn ?? spawnSync;
  const who = options.purpose === 'lab' ? 'npm run lab' : options.purpose === 'lint' ? 'npm run lint' : 'npm test';
  const at = (file) => path.join(root, file);

  const missing = (options.packages ?? SYSTEM_PACKAGES).filter(
    (p) => p.for.includes(options.purpose) && !p.files.some((f) => fs.existsSync(at(f))),
  );
  if (missing.length === 0) return 0;
  const required = missing.filter((p) => p.required);
  const list = (ps) => ps.map((p) => `${p.name} (${p.why})`).join(', ');

  const aptGet = which('apt-get', PATH);
  if (uid !== 0 || !aptGet) {
    const reason = uid !== 0 ? 'not running as root' : 'apt-get is not available';
    if (required.length === 0) {
      log(`${who}: ${list(missing)} missing and not installed (${reason}): the tests that need it skip and say why.`);
      return 0;
    }
    log(
      `${who}: missing ${list(required)}, and ${reason}, so ${who} cannot install ${required.length > 1 ? 'them' : 'it'}.\n` +
        `install ${required.length > 1 ? 'them' : 'it'} as root (Debian/Ubuntu), then run ${who} again:\n` +
        `  ${manualCommand(required.map((p) => p.name))}`,
    );
    return EXIT_NEEDS_PERSON;
  }

  const names = missing.map((p) => p.name);
  log(`${who}: installing ${list(missing)} with apt-get (services kept stopped by ${POLICY_RC_D}) …`);
  const policy = at(POLICY_RC_D);
  const ownPolicy = !fs.existsSync(policy);
  if (ownPolicy) {
    fs.mkdirSync(path.dirname(policy), { recursive: true });
    fs.writeFileSync(
      policy,
      '#!/bin/sh\n# written by phoenix-migrate while apt-get runs: start no services\nexit 101\n',
      {
        mode: 0o755,
      },
    );
  }
  try {
    const env = { ...process.env, PATH, DEBIAN_FRONTEND: 'noninteractive' };
    const steps = [
      ['update', '-qq'],
      ['install', '-y', '-qq', '--no-install-recommends', ...names],
    ];
    for (const args of steps) {
      const res = spawn(aptGet, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
      if (res.status !== 0) {
        log(`${who}: apt-get ${args[0]} failed (exit ${res.status ?? res.signal ?? res.error?.message}).`);
        return 1;
      }
    }
  } finally {
    if (ownPolicy) fs.rmSync(policy, { force: true });
  }
  const stillMissing = required.filter((p) => !p.files.some((f) => fs.existsSync(at(f))));
  if (stillMissing.length > 0) {
    log(
      `${who}: apt-get installed ${names.join(' ')}, but ${stillMissing.map((p) => p.files[0]).join(', ')} is still missing.`,
    );
    return 1;
  }
  return 0;
}

module.exports = { ensureSystemPackages, SYSTEM_PACKAGES, POLICY_RC_D, manualCommand };

if (require.main === module) {
  const purpose = process.argv[2] === 'lab' ? 'lab' : 'test';
  process.exit(ensureSystemPackages({ purpose }));
}
