/**
 * The worker's systemd unit: `systemd-analyze verify` accepts it without a single warning, and the settings the
 * operator relies on are there (dedicated user, secrets from an EnvironmentFile, restart on failure, a graceful
 * SIGTERM stop, hardening). The env example names every variable the shipped plan makes the worker read.
 *
 * verify checks that ExecStart's program exists, so it runs on a copy whose paths point at this checkout and this
 * machine's node. With CI=true a missing systemd-analyze (Debian package `systemd`) fails; elsewhere it skips, saying why.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTool } from '../../harness/tools';

const root = path.join(__dirname, '../../..');
const unitPath = path.join(root, 'deploy/phoenix-migrate-worker.service');
const envExamplePath = path.join(root, 'deploy/worker.env.example');
const unitText = fs.readFileSync(unitPath, 'utf8');

type Unit = Record<string, Record<string, string[]>>;

/** systemd's unit syntax as far as this file uses it: sections, `Key=value` (repeatable), `#`/`;` comments. */
function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section: string | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = header[1];
      unit[section] ??= {};
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`line ${i + 1} is not Key=value inside a section: ${raw}`);
    (unit[section][kv[1]] ??= []).push(kv[2].trim());
  }
  return unit;
}

/** systemd time spans as used here: `90`, `90s`, `3min`, `1h`. */
function seconds(span: string): number {
  const m = /^(\d+)\s*(s|sec|min|m|h)?$/.exec(span);
  if (!m) throw new Error(`unrecognised time span ${span}`);
  return Number(m[1]) * ({ s: 1, sec: 1, min: 60, m: 60, h: 3600 }[m[2] ?? 's'] ?? 1);
}

const unit = parseUnit(unitText);
const service = unit.Service ?? {};
const one = (key: string): string | undefined => {
  const values = service[key];
  return values?.[values.length - 1];
};

describe('deploy/phoenix-migrate-worker.service', () => {
  const analyze = findTool('systemd-analyze');
  const ci = process.env.CI === 'true';
  if (!analyze && !ci)
    console.warn('skipping `systemd-analyze verify`: systemd-analyze is not installed (Debian package "systemd")');
  const itVerify = analyze || ci ? it : it.skip;

  itVerify('passes `systemd-analyze verify` with no warnings about the unit', () => {
    if (!analyze)
      throw new Error(
        'CI=true but systemd-analyze is missing: install the Debian package "systemd" in CI (apt-get install -y systemd)',
      );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-unit-'));
    try {
      // Same unit, with paths that exist on this machine: this checkout instead of /opt/phoenix-migrate, this node.
      const copy = unitText
        .replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `)
        .replaceAll('/opt/phoenix-migrate', root)
        .replace(/^User=.*$/m, `User=${os.userInfo().username}`)
        .replace(/^Group=.*$/m, '');
      const copyPath = path.join(dir, 'phoenix-migrate-worker.service');
      fs.writeFileSync(copyPath, copy);
      expect(fs.existsSync(path.join(root, 'bin/phoenix-migrate.js'))).toBe(true);

      const res = spawnSync(analyze, ['verify', copyPath], {
        encoding: 'utf8',
        env: { ...process.env, SYSTEMD_LOG_COLOR: '0' },
      });
      // verify exits 0 even for unknown keys or unparsable values ("…, ignoring"): any line naming our unit counts.
      const aboutUs = `${res.stdout}\n${res.stderr}`.split('\n').filter((l) => l.includes('phoenix-migrate-worker'));
      expect({ status: res.status, problems: aboutUs }).toEqual({ status: 0, problems: [] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts after the network is online and is enabled for multi-user.target', () => {
    expect(unit.Unit.After).toContain('network-online.target');
    expect(unit.Unit.Wants).toContain('network-online.target');
    expect(unit.Install.WantedBy).toContain('multi-user.target');
  });

  it('runs `phoenix-migrate worker` as the dedicated user phoenix-migrate, secrets from /etc/phoenix-migrate/worker.env', () => {
    expect(one('ExecStart')).toMatch(/^\/usr\/bin\/node \/opt\/phoenix-migrate\/bin\/phoenix-migrate\.js worker$/);
    expect(one('User')).toBe('phoenix-migrate');
    expect(one('Group')).toBe('phoenix-migrate');
    // Without the "-" prefix: a missing env file stops the start instead of running without secrets.
    expect(service.EnvironmentFile).toEqual(['/etc/phoenix-migrate/worker.env']);
    // The unit's own environment is glibc's arena count (read at exec, no secret), nothing else.
    expect(service.Environment ?? []).toEqual(['MALLOC_ARENA_MAX=2']);
  });

  it('restarts on failure after a pause, without ever giving up (Temporal may take minutes), and stops gracefully on SIGTERM', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(seconds(one('RestartSec') ?? '')).toBeGreaterThanOrEqual(5);
    expect(one('KillSignal')).toBe('SIGTERM');
    // Long enough for an SSH command at its default 120 s commandTimeoutMs to end.
    expect(seconds(one('TimeoutStopSec') ?? '')).toBeGreaterThanOrEqual(120);
    // systemd's start rate limit is off: it keeps restarting while a compose Temporal comes up.
    expect(unit.Unit.StartLimitIntervalSec).toEqual(['0']);
    expect(unit.Unit.StartLimitBurst).toBeUndefined();
  });

  it('is hardened: no new privileges, read-only system, no home, private /tmp, no capabilities, no writable paths', () => {
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(service.CapabilityBoundingSet).toEqual(['']);
    // The worker writes no files: nothing is made writable.
    expect(service.ReadWritePaths).toBeUndefined();
    // V8's JIT needs W+X pages: MemoryDenyWriteExecute would crash node.
    expect(service.MemoryDenyWriteExecute).toBeUndefined();
  });
});

describe('deploy/worker.env.example', () => {
  const lines = fs.readFileSync(envExamplePath, 'utf8').split('\n');
  const active = lines.filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const names = (ls: string[]) =>
    ls.map((l) => l.replace(/^#\s*/, '').split('=')[0].trim()).filter((n) => /^[A-Z][A-Z0-9_]*$/.test(n));

  it('is in EnvironmentFile syntax: KEY=value lines and comments only', () => {
    for (const l of active) expect(l).toMatch(/^[A-Z][A-Z0-9_]*=\S*$/);
  });

  it('sets every variable the shipped plan makes the worker read, and the worker’s own settings', () => {
    const plan = JSON.parse(fs.readFileSync(path.join(root, 'plans/qdrant-to-dr-phoenix.json'), 'utf8')) as unknown;
    const secretEnvs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (typeof o.env === 'string') secretEnvs.push(o.env);
        Object.values(o).forEach(walk);
      }
    };
    walk(plan);
    expect(secretEnvs).toContain('PHOENIX_PVE_TOKEN_SECRET');
    const set = names(active);
    for (const name of [
      ...secretEnvs,
      'PHOENIX_SSH_KEY',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'PHOENIX_METRICS_PORT',
      'PHOENIX_LOG_LEVEL',
    ]) {
      expect(set).toContain(name);
    }
    expect(names(lines)).toContain('PHOENIX_WEBHOOK_URL');
  });

  it('names every PHOENIX_*/TEMPORAL_* variable the worker code reads (set, or commented with its default)', () => {
    const read = new Set<string>();
    const scan = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        // the lab, the bench and the CLI are not the worker
        if (e.isDirectory()) {
          if (!['lab', 'bench', 'cli'].includes(e.name)) scan(p);
        } else if (p.endsWith('.ts'))
          for (const m of fs.readFileSync(p, 'utf8').matchAll(/process\.env\.((?:PHOENIX|TEMPORAL)_[A-Z0-9_]+)/g))
            read.add(m[1]);
      }
    };
    scan(path.join(root, 'src'));
    // read by the CLI only (links it prints), or by the lab and test harness
    for (const cliOnly of ['TEMPORAL_UI_URL', 'TEMPORAL_CLI_PATH']) read.delete(cliOnly);
    expect([...read].filter((n) => !names(lines).includes(n))).toEqual([]);
  });

  it('holds no real secret: no UUID-shaped token secret, no private key', () => {
    const text = lines.join('\n');
    expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    expect(text).not.toContain('-----BEGIN');
  });
});
