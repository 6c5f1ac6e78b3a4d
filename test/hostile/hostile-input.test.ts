/**
 * Hostile and malformed plans and Phoenix configs (issue 10 §3). For every case, `validate` AND `start` must:
 * exit 2; name the file and the JSON path of the problem; never print a stack trace; start nothing on Temporal;
 * write nothing (the case's directory is the same, file by file and mtime by mtime, before and after).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ExitCode } from '../../src/cli/io';
import { cli, STACK_TRACE, testAddress } from '../cli/support';

const REPO = path.resolve(__dirname, '../..');
const PLAN_REL = 'plans/plan.json';
const VM_REL = 'examples/phoenix/etc/phoenix_vm_configs.json';
const LXC_REL = 'examples/phoenix/etc/phoenix_lxc_configs.json';
const COMPOSE_REL = 'examples/phoenix/persistent-storage/qdrant/docker-compose.yml';

/* eslint-disable @typescript-eslint/no-explicit-any -- hostile cases poke at arbitrary JSON */
interface Case {
  what: string;
  plan?: (p: any) => void;
  vm?: (c: any) => void;
  lxc?: (c: any) => void;
  /** Raw bytes for a file instead of its JSON (applied after the mutations above). */
  raw?: (root: string) => void;
  /** The path handed to the CLI as --plan (default: the case's plan file). */
  planArg?: (root: string) => string;
  /** Which file the problem must be reported in. */
  file: 'plan' | 'vm' | 'lxc' | ((root: string) => string);
  /** The JSON path the problem must be reported at. */
  at: string;
  says?: RegExp;
}

const BIG = 'x'.repeat(1024 * 1024 + 1);
const VM1001 = 1; // index of VM 1001 (the one with the compose file and the NFS volume) in the examples' `vms`

const CASES: Case[] = [
  // ── paths that would reach a shell or escape their directory ───────────────────────────────────────────
  {
    what: 'path traversal in a compose destination',
    vm: (c) => (c.vms[VM1001].docker_compose_files[0].destination = '../../../etc/cron.d/evil'),
    file: 'vm',
    at: `$.vms[${VM1001}].docker_compose_files[0].destination`,
  },
  {
    what: 'absolute compose destination',
    vm: (c) => (c.vms[VM1001].docker_compose_files[0].destination = '/etc/passwd'),
    file: 'vm',
    at: `$.vms[${VM1001}].docker_compose_files[0].destination`,
  },
  {
    what: 'compose destination with $(…)',
    vm: (c) => (c.vms[VM1001].docker_compose_files[0].destination = 'qdrant/$(reboot).yml'),
    file: 'vm',
    at: `$.vms[${VM1001}].docker_compose_files[0].destination`,
  },
  {
    what: 'NFS path with backticks',
    vm: (c) => (c.vms[VM1001].volumes[0].path = '/quickOS/`id`/1001'),
    file: 'vm',
    at: `$.vms[${VM1001}].volumes[0].path`,
  },
  {
    what: 'NFS mount point with a newline',
    vm: (c) => (c.vms[VM1001].volumes[0].mount_point = '/persistent-storage\nrm -rf /'),
    file: 'vm',
    at: `$.vms[${VM1001}].volumes[0].mount_point`,
  },
  {
    what: 'gateway.siteFile with "; rm -rf /"',
    plan: (p) => (p.gateway.siteFile = '/etc/nginx/sites-enabled/x; rm -rf /'),
    file: 'plan',
    at: '$.gateway.siteFile',
  },
  {
    what: 'gateway.backupDir with $(…)',
    plan: (p) => (p.gateway.backupDir = '/var/backups/$(touch /tmp/pwned)'),
    file: 'plan',
    at: '$.gateway.backupDir',
  },
  {
    what: 'gateway.lockFile with a newline',
    plan: (p) => (p.gateway.lockFile = '/run/lock/x\nreboot'),
    file: 'plan',
    at: '$.gateway.lockFile',
  },
  {
    what: 'gateway.siteFile with .. segments',
    plan: (p) => (p.gateway.siteFile = '/etc/nginx/../../root/.ssh/authorized_keys'),
    file: 'plan',
    at: '$.gateway.siteFile',
  },
  // ── names ────────────────────────────────────────────────────────────────────────────────────────────────
  { what: 'plan name with "; rm -rf /"', plan: (p) => (p.name = 'x; rm -rf /'), file: 'plan', at: '$.name' },
  { what: 'plan name with $(…)', plan: (p) => (p.name = '$(reboot)'), file: 'plan', at: '$.name' },
  { what: 'plan name with backticks', plan: (p) => (p.name = '`reboot`'), file: 'plan', at: '$.name' },
  { what: 'plan name with a newline', plan: (p) => (p.name = 'a\nb'), file: 'plan', at: '$.name' },
  { what: 'plan name with a NUL byte', plan: (p) => (p.name = 'a\u0000b'), file: 'plan', at: '$.name' },
  {
    what: 'braces in the upstream name',
    plan: (p) => (p.gateway.upstream = 'qdrant_service { } server { listen 1'),
    file: 'plan',
    at: '$.gateway.upstream',
  },
  {
    what: 'VM name with shell metacharacters',
    vm: (c) => (c.vms[2].name = 'Dr-Phoenix;rm -rf /'),
    file: 'vm',
    at: '$.vms[2].name',
  },
  {
    what: 'Portainer stack name with $(…)',
    plan: (p) => (p.portainer.stackName = '$(id)'),
    file: 'plan',
    at: '$.portainer.stackName',
  },
  {
    what: 'env var name with "; rm -rf /"',
    plan: (p) => (p.proxmox.tokenSecret = { env: 'X; rm -rf /' }),
    file: 'plan',
    at: '$.proxmox.tokenSecret.env',
  },
  // ── out-of-range numbers and addresses ───────────────────────────────────────────────────────────────────
  {
    what: 'VM IP out of range',
    vm: (c) => (c.vms[2].network_config.ip = '10.0.0.256/24'),
    file: 'vm',
    at: '$.vms[2].network_config.ip',
  },
  {
    what: 'new upstream server 300.1.1.1',
    plan: (p) => (p.gateway.newServers = ['300.1.1.1:6333']),
    file: 'plan',
    at: '$.gateway.newServers[0]',
  },
  { what: 'vmid below 100', plan: (p) => (p.vms = [99]), file: 'plan', at: '$.vms[0]' },
  { what: 'vmid 1e12', plan: (p) => (p.vms = [1e12]), file: 'plan', at: '$.vms[0]' },
  {
    what: 'vmid 1e400 (Infinity)',
    // the first vms entry is a bare vmid or {"vmid": …} (the shipped plan adopts 1001): its vmid either way
    raw: (root) =>
      rewrite(root, PLAN_REL, (t) => {
        const out = t.replace(/("vms": \[\s*(?:\{\s*"vmid": )?)1001\b/, '$11e400');
        if (out === t) throw new Error('the plan no longer starts its vms with 1001: update this case');
        return out;
      }),
    file: 'plan',
    at: '$.vms[0].vmid',
  },
  { what: 'negative gateway ctid', plan: (p) => (p.gateway.ctid = -1), file: 'plan', at: '$.gateway.ctid' },
  {
    what: 'fractional legacy ctid',
    plan: (p) => (p.legacyGuests = [950.5]),
    file: 'plan',
    at: '$.legacyGuests[0].ctid',
  },
  { what: 'port 0 in an SSH endpoint', plan: (p) => (p.proxmoxHost.port = 0), file: 'plan', at: '$.proxmoxHost.port' },
  // ── wrong types ──────────────────────────────────────────────────────────────────────────────────────────
  { what: 'name is a number', plan: (p) => (p.name = 42), file: 'plan', at: '$.name' },
  { what: 'vms is a string', plan: (p) => (p.vms = '1001,1002'), file: 'plan', at: '$.vms' },
  { what: 'proxmox is an array', plan: (p) => (p.proxmox = []), file: 'plan', at: '$.proxmox' },
  { what: 'a duration is a number', plan: (p) => (p.durations.soak = 5), file: 'plan', at: '$.durations.soak' },
  {
    what: 'approvals.decommission is "yes"',
    plan: (p) => (p.approvals.decommission = 'yes'),
    file: 'plan',
    at: '$.approvals.decommission',
  },
  { what: 'the plan is a JSON array', raw: (root) => write(root, PLAN_REL, '[]'), file: 'plan', at: '$' },
  { what: 'the plan is JSON null', raw: (root) => write(root, PLAN_REL, 'null'), file: 'plan', at: '$' },
  { what: 'VM config vms is an object', vm: (c) => (c.vms = { 1001: {} }), file: 'vm', at: '$.vms' },
  {
    what: 'LXC config entry is a string',
    lxc: (c) => (c.lxc_configs['101'] = 'nginx'),
    file: 'lxc',
    at: '$.lxc_configs["101"]',
  },
  {
    what: 'phoenix.vmConfigs is a number',
    plan: (p) => (p.phoenix.vmConfigs = 7),
    file: 'plan',
    at: '$.phoenix.vmConfigs',
  },
  // ── structure ────────────────────────────────────────────────────────────────────────────────────────────
  {
    what: 'deeply nested JSON (100 000 levels)',
    plan: (p) => (p.description = '@@DEEP@@'),
    raw: (root) =>
      rewrite(root, PLAN_REL, (t) => t.replace('"@@DEEP@@"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`)),
    file: 'plan',
    at: '$.description',
    says: /more than 64 levels deep/,
  },
  {
    what: 'deeply nested objects in the VM config',
    raw: (root) =>
      rewrite(root, VM_REL, (t) =>
        t.replace('"vm_defaults": {', `"deep": ${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}, "vm_defaults": {`),
      ),
    file: 'vm',
    at: '$.deep',
    says: /more than 64 levels deep/,
  },
  {
    what: 'a __proto__ key at the top',
    raw: (root) => rewrite(root, PLAN_REL, (t) => t.replace('{', '{"__proto__": {"polluted": true},')),
    file: 'plan',
    at: '$.__proto__',
  },
  {
    what: 'a __proto__ key inside gateway',
    raw: (root) =>
      rewrite(root, PLAN_REL, (t) => t.replace('"gateway": {', '"gateway": {"__proto__": {"upstream": "evil"},')),
    file: 'plan',
    at: '$.gateway.__proto__',
  },
  {
    what: 'a constructor.prototype key',
    plan: (p) => (p.constructor = { prototype: { polluted: true } }),
    file: 'plan',
    at: '$.constructor',
  },
  { what: 'an unknown key (typo)', plan: (p) => (p.gatway = p.gateway), file: 'plan', at: '$.gatway' },
  {
    what: 'an inline secret',
    plan: (p) => (p.proxmox.tokenSecret = 'c0ffee00-1234-4abc-8def-0123456789ab'),
    file: 'plan',
    at: '$.proxmox.tokenSecret',
    says: /^(?![\s\S]*c0ffee00-1234)/,
  },
  // ── files that are not what they claim ───────────────────────────────────────────────────────────────────
  {
    what: 'a plan over 1 MiB',
    plan: (p) => (p.description = BIG),
    file: 'plan',
    at: '$',
    says: /more than the limit of 1048576/,
  },
  {
    what: 'a compose file over 256 KiB',
    raw: (root) => write(root, COMPOSE_REL, `# ${'x'.repeat(256 * 1024)}\nservices: {}\n`),
    file: 'vm',
    at: `$.vms[${VM1001}].docker_compose_files[0].source`,
    says: /more than the limit of 262144/,
  },
  {
    what: 'non-UTF-8 bytes in the plan',
    raw: (root) =>
      rewrite(root, PLAN_REL, (t) =>
        Buffer.concat([
          Buffer.from(t.slice(0, t.indexOf('Move'))),
          Buffer.from([0xff, 0xfe, 0xc3]),
          Buffer.from(t.slice(t.indexOf('Move'))),
        ]),
      ),
    file: 'plan',
    at: '$',
    says: /not valid UTF-8/,
  },
  {
    what: 'non-UTF-8 bytes in the compose file',
    raw: (root) =>
      write(
        root,
        COMPOSE_REL,
        Buffer.from([0x73, 0x65, 0x72, 0x76, 0x69, 0x63, 0x65, 0x73, 0x3a, 0x20, 0xc0, 0xaf, 0x0a]),
      ),
    file: 'vm',
    at: `$.vms[${VM1001}].docker_compose_files[0].source`,
    says: /not valid UTF-8/,
  },
  {
    what: 'a YAML bomb as compose file',
    raw: (root) => write(root, COMPOSE_REL, yamlBomb()),
    file: 'vm',
    at: `$.vms[${VM1001}].docker_compose_files[0].source`,
  },
  {
    what: 'an empty plan file',
    raw: (root) => write(root, PLAN_REL, ''),
    file: 'plan',
    at: '$',
    says: /not valid JSON/,
  },
  {
    what: 'a whitespace-only plan file',
    raw: (root) => write(root, PLAN_REL, ' \n\t\n'),
    file: 'plan',
    at: '$',
    says: /not valid JSON/,
  },
  {
    what: 'truncated JSON',
    raw: (root) => rewrite(root, PLAN_REL, (t) => t.slice(0, t.length / 2)),
    file: 'plan',
    at: '$',
    says: /not valid JSON/,
  },
  {
    what: 'a directory instead of the plan',
    planArg: (root) => path.join(root, 'plans'),
    file: (root) => path.join(root, 'plans'),
    at: '$',
    says: /not a regular file/,
  },
  {
    what: 'a symlink loop as the plan',
    raw: (root) => loop(root, 'plans/loop.json'),
    planArg: (root) => path.join(root, 'plans/loop.json'),
    file: (root) => path.join(root, 'plans/loop.json'),
    at: '$',
    says: /ELOOP/,
  },
  {
    what: 'a directory as phoenix.vmConfigs',
    plan: (p) => (p.phoenix.vmConfigs = '../examples/phoenix'),
    file: (root) => path.join(root, 'examples/phoenix'),
    at: '$',
    says: /not a regular file/,
  },
  {
    what: 'a symlink loop as phoenix.lxcConfigs',
    plan: (p) => (p.phoenix.lxcConfigs = 'loop.json'),
    raw: (root) => loop(root, 'plans/loop.json'),
    file: 'plan',
    at: '$.phoenix.lxcConfigs',
  },
  {
    what: '/dev/zero as phoenix.vmConfigs',
    plan: (p) => (p.phoenix.vmConfigs = '/dev/zero'),
    file: () => '/dev/zero',
    at: '$',
    says: /not a regular file/,
  },
  {
    what: 'a FIFO as the compose file',
    raw: (root) => fifo(root, COMPOSE_REL),
    file: 'vm',
    at: `$.vms[${VM1001}].docker_compose_files[0].source`,
    says: /not a regular file/,
  },
  {
    what: 'a missing compose file',
    raw: (root) => fs.rmSync(path.join(root, COMPOSE_REL)),
    file: 'vm',
    at: `$.vms[${VM1001}].docker_compose_files[0].source`,
    says: /does not exist/,
  },
];
/* eslint-enable @typescript-eslint/no-explicit-any */

function write(root: string, rel: string, data: string | Buffer): void {
  fs.writeFileSync(path.join(root, rel), data);
}
function rewrite(root: string, rel: string, f: (text: string) => string | Buffer): void {
  write(root, rel, f(fs.readFileSync(path.join(root, rel), 'utf8')));
}
function loop(root: string, rel: string): void {
  const a = path.join(root, rel);
  fs.symlinkSync(`${path.basename(a)}.b`, a);
  fs.symlinkSync(path.basename(a), `${a}.b`);
}
function fifo(root: string, rel: string): void {
  fs.rmSync(path.join(root, rel));
  // mkfifo via the shell-free child_process API: no node API makes FIFOs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('node:child_process').execFileSync('mkfifo', [path.join(root, rel)]);
}
/** "Billion laughs": each alias level multiplies the size by 9. */
function yamlBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 12; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  lines.push('services: { q: { image: "qdrant/qdrant:v1.12.0", x: *l } }');
  return `${lines.join('\n')}\n`;
}

/** Every entry under `root` (lstat: symlinks are not followed, so loops are fine) with size and mtime. */
function snapshotDir(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      out[path.relative(root, p)] = `${st.mode}:${st.size}:${st.mtimeMs}`;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

let counter = 0;
function makeCase(parent: string, c: Case): { root: string; planArg: string; name: string } {
  const root = fs.mkdtempSync(path.join(parent, 'case-'));
  const read = (rel: string) => JSON.parse(fs.readFileSync(path.join(REPO, rel), 'utf8'));
  const plan = read('plans/qdrant-to-dr-phoenix.json');
  // A name of its own per case, so "nothing was started" is checked against a run id nobody else uses.
  const name = `hostile-${process.pid}-${counter++}`;
  plan.name = name;
  const vm = read(VM_REL);
  const lxc = read(LXC_REL);
  c.plan?.(plan);
  c.vm?.(vm);
  c.lxc?.(lxc);
  for (const [rel, data] of [
    [PLAN_REL, JSON.stringify(plan, null, 2)],
    [VM_REL, JSON.stringify(vm, null, 2)],
    [LXC_REL, JSON.stringify(lxc, null, 2)],
    [COMPOSE_REL, fs.readFileSync(path.join(REPO, COMPOSE_REL), 'utf8')],
  ] as const) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  }
  c.raw?.(root);
  return {
    root,
    planArg: c.planArg ? c.planArg(root) : path.join(root, PLAN_REL),
    name: typeof plan.name === 'string' ? plan.name : name,
  };
}

describe('hostile plans and configs: validate and start refuse them (exit 2), name file and path, start and write nothing', () => {
  let parent: string;
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-hostile-'));
    connection = await Connection.connect({ address: testAddress() });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await connection?.close();
    fs.rmSync(parent, { recursive: true, force: true });
  });

  it('the unmodified case base is valid (so each case breaks exactly what it says)', async () => {
    const { planArg } = makeCase(parent, { what: 'base', file: 'plan', at: '$' });
    const r = await cli('validate', '--plan', planArg);
    expect(r.err).not.toMatch(/^error/m);
    expect(r.code).toBe(ExitCode.ok);
  });

  it(`has at least 30 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const { root, planArg, name } = makeCase(parent, c);
    const file =
      typeof c.file === 'function'
        ? c.file(root)
        : path.join(root, { plan: PLAN_REL, vm: VM_REL, lxc: LXC_REL }[c.file]);
    const before = snapshotDir(root);

    const validate = await cli('validate', '--plan', planArg);
    const start = await cli('start', '--plan', planArg, '--address', testAddress());
    for (const r of [validate, start]) {
      expect({ code: r.code, err: r.err }).toEqual({
        code: ExitCode.badInput,
        err: expect.stringContaining(`error  ${file} ${c.at}: `),
      });
      expect(r.all).not.toMatch(STACK_TRACE);
      expect(r.out).not.toMatch(/^started /m);
      if (c.says) expect(r.err).toMatch(c.says);
    }
    expect(validate.err).toMatch(/nothing was changed/);

    // Nothing started: no run under the derived id, none carrying the plan's name.
    await expect(client.workflow.getHandle(`migration-${name}`).describe()).rejects.toMatchObject({
      name: 'WorkflowNotFoundError',
    });
    const listed = [];
    for await (const w of client.workflow.list({ query: `PlanName = ${JSON.stringify(name)}` }))
      listed.push(w.workflowId);
    expect(listed).toEqual([]);
    // Nothing written, nothing prototype-polluted.
    expect(snapshotDir(root)).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
