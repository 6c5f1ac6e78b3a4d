/**
 * The installer behind `npm run lab` and `npm test`, driven with a fake file system root, a fake PATH holding a
 * fake apt-get (which records its arguments and whether policy-rc.d was in place) and a fake uid.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const installer = require('../../../scripts/ensure-system-packages.js') as {
  ensureSystemPackages(o: {
    purpose: 'lab' | 'test';
    root: string;
    PATH: string;
    uid: number;
    log(l: string): void;
  }): number;
  POLICY_RC_D: string;
};

interface Fake {
  root: string;
  bin: string;
  calls(): { args: string[]; policy: string | null; frontend: string }[];
  log: string[];
}

/** A fake root; `apt-get` (when `withApt`) records each call and "installs" by creating the files it was asked for. */
function fakeMachine(withApt: boolean, present: string[] = []): Fake {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-installer-'));
  const bin = path.join(root, 'fake-bin');
  fs.mkdirSync(bin);
  for (const f of present) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), '');
  }
  const record = path.join(root, 'apt-calls.jsonl');
  if (withApt) {
    const files: Record<string, string[]> = {
      'openssh-server': ['/usr/sbin/sshd'],
      nginx: ['/usr/sbin/nginx'],
      'libnginx-mod-http-js': ['/usr/lib/nginx/modules/ngx_http_js_module.so'],
      systemd: ['/usr/bin/systemd-analyze'],
      chromium: ['/usr/bin/chromium'],
      bubblewrap: ['/usr/bin/bwrap'],
    };
    fs.writeFileSync(
      path.join(bin, 'apt-get'),
      `#!${process.execPath}
const fs = require('fs'), path = require('path');
const root = ${JSON.stringify(root)};
const args = process.argv.slice(2);
const policyFile = path.join(root, 'usr/sbin/policy-rc.d');
const policy = fs.existsSync(policyFile) ? fs.readFileSync(policyFile, 'utf8') : null;
fs.appendFileSync(${JSON.stringify(record)}, JSON.stringify({ args, policy, frontend: process.env.DEBIAN_FRONTEND }) + '\\n');
const files = ${JSON.stringify(files)};
for (const a of args) for (const f of files[a] || []) { fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true }); fs.writeFileSync(path.join(root, f), ''); }
`,
      { mode: 0o755 },
    );
  }
  const log: string[] = [];
  return {
    root,
    bin,
    log,
    calls: () =>
      fs.existsSync(record)
        ? fs
            .readFileSync(record, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { args: string[]; policy: string | null; frontend: string })
        : [],
  };
}

const run = (f: Fake, purpose: 'lab' | 'test', uid: number) =>
  installer.ensureSystemPackages({ purpose, root: f.root, PATH: f.bin, uid, log: (l) => f.log.push(l) });

describe('scripts/ensure-system-packages.js', () => {
  it('root + apt: runs apt-get update and install of exactly the missing packages, with a policy-rc.d that starts no service, then removes it', () => {
    const f = fakeMachine(true, ['/usr/sbin/nginx']);
    expect(run(f, 'lab', 0)).toBe(0);
    const calls = f.calls();
    expect(calls.map((c) => c.args)).toEqual([
      ['update', '-qq'],
      ['install', '-y', '-qq', '--no-install-recommends', 'openssh-server', 'libnginx-mod-http-js', 'bubblewrap'],
    ]);
    for (const c of calls) {
      expect(c.policy).toMatch(/^#!\/bin\/sh\n[\s\S]*exit 101\n$/);
      expect(c.frontend).toBe('noninteractive');
    }
    expect(fs.existsSync(path.join(f.root, installer.POLICY_RC_D))).toBe(false);
    expect(f.log.join('\n')).toMatch(/installing openssh-server \(.+\), libnginx-mod-http-js \(.+\) with apt-get/);
  });

  it('npm test also installs systemd and chromium; a policy-rc.d that was already there is kept', () => {
    const f = fakeMachine(true, ['/usr/sbin/sshd', '/usr/sbin/nginx', '/usr/lib/nginx/modules/ngx_http_js_module.so']);
    fs.writeFileSync(path.join(f.root, installer.POLICY_RC_D), "#!/bin/sh\nexit 101\n# the admin's own\n");
    expect(run(f, 'test', 0)).toBe(0);
    expect(f.calls()[1].args.slice(4)).toEqual(['bubblewrap', 'systemd', 'chromium', 'shellcheck']);
    expect(fs.readFileSync(path.join(f.root, installer.POLICY_RC_D), 'utf8')).toContain("the admin's own");
  });

  it('everything present: no apt-get call, nothing printed', () => {
    const f = fakeMachine(true, [
      '/usr/sbin/sshd',
      '/usr/sbin/nginx',
      '/usr/lib/nginx/modules/ngx_http_js_module.so',
      '/usr/bin/bwrap',
    ]);
    expect(run(f, 'lab', 0)).toBe(0);
    expect(f.calls()).toEqual([]);
    expect(f.log).toEqual([]);
  });

  it('not root: no apt-get call; prints the exact command to run as root, and exit 2', () => {
    const f = fakeMachine(true, ['/usr/sbin/sshd']);
    expect(run(f, 'lab', 1000)).toBe(2);
    expect(f.calls()).toEqual([]);
    const message = f.log.join('\n');
    expect(message).toContain('npm run lab: missing nginx');
    expect(message).toContain('not running as root');
    expect(message).toContain(
      "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && apt-get update && apt-get install -y --no-install-recommends nginx libnginx-mod-http-js; rm -f /usr/sbin/policy-rc.d",
    );
  });

  it('root without apt-get: the same command and exit 2', () => {
    const f = fakeMachine(false);
    expect(run(f, 'test', 0)).toBe(2);
    expect(f.log.join('\n')).toMatch(/npm test: missing openssh-server .* apt-get is not available/s);
    expect(f.log.join('\n')).toContain(
      'apt-get install -y --no-install-recommends openssh-server nginx libnginx-mod-http-js;',
    );
  });

  it('not root, only optional packages missing (chromium): a note, and the tests go on (exit 0)', () => {
    const f = fakeMachine(true, [
      '/usr/sbin/sshd',
      '/usr/sbin/nginx',
      '/usr/lib/nginx/modules/ngx_http_js_module.so',
      '/usr/bin/systemd-analyze',
    ]);
    expect(run(f, 'test', 1000)).toBe(0);
    expect(f.calls()).toEqual([]);
    expect(f.log.join('\n')).toMatch(/chromium \(the Temporal Web UI test\)(, [^)]+\))* missing and not installed/);
  });
});
