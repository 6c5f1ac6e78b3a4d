/**
 * The shipped provisioning scripts, run by the real activity through the (simulated) guest agent: the lab's guest
 * sandbox executes the very bytes under bash in a per-VM root (own mount namespace + chroot), with recording
 * stand-ins for apt-get, systemctl, docker, mount … Nothing outside the lab is touched.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createProvisioningActivities, type ProvisionFeaturesResult } from '../../../src/activities/provisioning';
import { defaultProxmoxFor } from '../../../src/activities/vms';
import type { ProvisioningSettings } from '../../../src/config/resolved-plan';
import { GuestSandbox, sandboxUnavailableReason } from '../../../src/lab/guest-sandbox/sandbox';
import { seedFromPhoenixWorld, startProxmoxSim, type ProxmoxSim } from '../../../src/lab/proxmox-sim';
import { parseConvergeReport } from '../../../src/provisioning/converge';
import { featuresFor, scriptSha256, scriptText, type FeatureStep } from '../../../src/provisioning/features';
import { waitUntil } from '../../harness/wait';
import { settingsFor, vmSpec } from '../proxmox/helpers';

const unavailable = sandboxUnavailableReason();
const maybe = unavailable && process.env.CI !== 'true' ? describe.skip : describe;
if (unavailable) console.warn(`guest sandbox tests skipped: ${unavailable}`);

const PROVISIONING: ProvisioningSettings = {
  provisioner: 'native',
  phoenixCommand: ['phoenix', 'create'],
  phoenixVmConfig: '/usr/local/phoenix_hypervisor/etc/phoenix_vm_configs.json',
  images: { portainerServer: 'portainer/portainer-ce:2.21.5', portainerAgent: 'portainer/agent:2.21.5' },
};
const BARE = { base: 'ubuntu-24.04-cloud' as const };
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const hostFiles = [
  '/etc/fstab',
  ...fs.readdirSync('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`),
].filter((f) => fs.existsSync(f));

let dir: string;
let sim: ProxmoxSim;
let sandbox: GuestSandbox;
const events: Record<string, unknown>[] = [];
const hostBefore = new Map<string, string>();
const { provisionFeature, provisionFeatures } = createProvisioningActivities({
  env: process.env,
  proxmoxFor: defaultProxmoxFor({ warn: () => undefined }),
  sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 100))),
});

maybe('provisioning scripts in a sandboxed guest', () => {
  beforeAll(async () => {
    for (const f of hostFiles) hostBefore.set(f, sha(f));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-guests-'));
    fs.mkdirSync(path.join(dir, 'exports', '1042'), { recursive: true });
    sandbox = new GuestSandbox({
      dir: path.join(dir, 'guests'),
      nfsServer: '10.0.0.13',
      nfsRoot: path.join(dir, 'exports'),
      record: (e) => events.push(e),
    });
    sim = await startProxmoxSim({
      worlds: [
        seedFromPhoenixWorld({
          templateImage: BARE,
          vms: [
            { vmid: 1042, type: 'qemu', name: 'Dr-Phoenix', status: 'running', ip: '10.0.0.102', image: BARE },
            { vmid: 1043, type: 'qemu', name: 'scratch', status: 'running', ip: '10.0.0.103', image: BARE },
            { vmid: 1045, type: 'qemu', name: 'fresh', status: 'running', ip: '10.0.0.105', image: BARE },
            { vmid: 1046, type: 'qemu', name: 'booting', status: 'running', ip: '10.0.0.106', image: BARE },
          ],
        }),
      ],
      authDelayMs: 50,
      agentDelayMs: 10,
      guestSandbox: sandbox,
    });
  });
  afterAll(async () => {
    await sim?.stop();
    sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const vm = vmSpec(1042, 'Dr-Phoenix', {
    features: ['base_setup', 'docker'],
    portainerRole: 'agent',
    ciuser: 'phoenix_user',
    volumes: [{ type: 'nfs', path: '', mountPoint: '/persistent-storage', server: '10.0.0.13' }],
  });
  const steps = (): FeatureStep[] =>
    featuresFor({ ...vm, volumes: [{ ...vm.volumes[0], path: path.join(dir, 'exports', '1042') }] }, PROVISIONING);
  const run = (step: FeatureStep) =>
    provisionFeature({
      proxmox: settingsFor(sim, 'PMX_PROV'),
      vm: { vmid: 1042, name: 'Dr-Phoenix', node: 'pve' },
      step,
    });

  it("commands start in the sandbox's own process: output and exit codes come back, input reaches the command, and a command the lab's teardown interrupts ends as killed (137)", async () => {
    const echo = sandbox.exec(1043, BARE, ['bash', '-c', 'read -r x; echo "got $x"; echo oops >&2; exit 3'], 'hi\n');
    expect(await echo.done).toBe(3);
    expect(Buffer.concat(echo.stdout).toString()).toBe('got hi\n');
    expect(Buffer.concat(echo.stderr).toString()).toBe('oops\n');
    const recorded = events.find((e) => e.kind === 'guest-exec' && e.exitcode === 3);
    expect(recorded).toMatchObject({ vmid: 1043, command: 'bash -c <script>' });
    expect(typeof recorded?.ms).toBe('number');

    const long = sandbox.exec(1043, BARE, ['sleep', '30']);
    await new Promise((r) => setTimeout(r, 200));
    sandbox.close();
    expect(await long.done).toBe(137);
    // The next command forks a new helper.
    expect(await sandbox.exec(1043, BARE, ['true']).done).toBe(0);
  });

  it('the bare template has no Docker: `docker info` fails in the guest', async () => {
    const r = sandbox.exec(1043, BARE, ['docker', 'info']);
    await r.done;
    expect(r.exitcode).toBe(127);
  });

  it("Debian's alternatives resolve in the guest, read-only as its /usr", async () => {
    // /usr/bin/awk → /etc/alternatives/awk → mawk: the host's alternatives are bound into each command.
    const r = sandbox.exec(1043, BARE, ['bash', '-c', 'awk "BEGIN { print 6 * 7 }"; : > /etc/alternatives/x']);
    expect(await r.done).not.toBe(0);
    expect(Buffer.concat(r.stdout).toString()).toBe('42\n');
    expect(Buffer.concat(r.stderr).toString()).toMatch(/Read-only file system/);
  });

  it("a script's `< <(…)` works as in a real VM, and the guest sees its own processes, not the host's", async () => {
    // base_setup.sh's apply reads the missing packages with `mapfile < <(missing)`: a guest without /dev/fd failed it.
    const script = 'mapfile -t got < <(printf "a\\nb\\n"); echo "${#got[@]}"; ls /proc | grep -c "^[0-9]"';
    const r = sandbox.exec(1043, BARE, ['bash', '-c', script]);
    expect(await r.done).toBe(0);
    const [count, pids] = Buffer.concat(r.stdout).toString().trim().split('\n');
    expect(count).toBe('2');
    // The sandbox's init, bash, ls and grep: the guest's own pid namespace (the host runs hundreds).
    expect(Number(pids)).toBeLessThanOrEqual(6);
  });

  it('guest-apt-fail: the docker step fails naming the script, its exit code and output; after the fault clears a re-run completes without re-applying what finished', async () => {
    const [mount, base, docker, agent] = steps();
    expect([mount, base, docker, agent].map((s) => s.name)).toEqual([
      'mount',
      'base_setup',
      'docker',
      'portainer_agent',
    ]);
    expect(await run(mount)).toMatchObject({ outcome: 'applied', sha256: scriptSha256('mount.sh') });
    sandbox.setFaults({ aptFailRate: 1 });
    const err = await run(docker).then(
      () => undefined,
      (e: Error & { type?: string; nonRetryable?: boolean }) => e,
    );
    expect(err).toMatchObject({ type: 'FeatureScriptFailed', nonRetryable: true });
    expect(err!.message).toContain('docker.sh apply failed in VM 1042');
    expect(err!.message).toContain('exit code 100');
    expect(err!.message).toContain("Temporary failure resolving 'archive.ubuntu.com'");
    sandbox.setFaults({ aptFailRate: 0 });
    const applied: string[] = [];
    for (const s of [mount, base, docker, agent]) applied.push(`${s.name}:${(await run(s)).outcome}`);
    // base_setup: Ubuntu's cloud image already has its packages (as the real one does).
    expect(applied).toEqual(['mount:already', 'base_setup:already', 'docker:applied', 'portainer_agent:applied']);
  });

  it('each feature is `already` on a second run, and the guest holds what the scripts made', async () => {
    const logReads = () => sim.audit().filter((a) => a.path.endsWith('/qemu/1042/agent/file-read')).length;
    const before = logReads();
    for (const s of steps()) expect((await run(s)).outcome).toBe('already');
    // A check that passes at once needs no log tail: its feature's log is read only for a failure or a verify.
    expect(logReads() - before).toBe(0);
    const root = sandbox.rootOf(1042);
    const fstab = fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8');
    expect(fstab.split('\n').filter((l) => l.includes('/persistent-storage'))).toHaveLength(1);
    expect(fs.readFileSync(path.join(root, 'etc/apt/sources.list.d/docker.list'), 'utf8')).toContain(
      'download.docker.com/linux/ubuntu noble stable',
    );
    expect(fs.readFileSync(path.join(root, 'etc/group'), 'utf8')).toMatch(/^docker:x:988:phoenix_user$/m);
    expect(sandbox.containers(1042)).toEqual([
      { name: 'portainer_agent', image: 'portainer/agent:2.21.5', ports: ['9001:9001'], running: true },
    ]);
    // The NFS share is really there: a file on the export is visible in the guest.
    fs.writeFileSync(path.join(dir, 'exports', '1042', 'hello.txt'), 'hi');
    const cat = sandbox.exec(1042, BARE, ['cat', '/persistent-storage/hello.txt']);
    await cat.done;
    expect(Buffer.concat(cat.stdout).toString()).toBe('hi');
    // The stand-ins answer like the real commands, exit codes included (whichever line of its state a field is on).
    const asked = async (argv: string[]) => {
      const r = sandbox.exec(1042, BARE, argv);
      return { exitcode: await r.done, stdout: Buffer.concat(r.stdout).toString() };
    };
    expect(await asked(['docker', 'inspect', '-f', '{{.Config.Image}}', 'portainer_agent'])).toEqual({
      exitcode: 0,
      stdout: 'portainer/agent:2.21.5\n',
    });
    expect(await asked(['docker', 'inspect', '-f', '{{.State.Running}}', 'portainer_agent'])).toEqual({
      exitcode: 0,
      stdout: 'true\n',
    });
    expect(await asked(['mountpoint', '/persistent-storage'])).toEqual({
      exitcode: 0,
      stdout: '/persistent-storage is a mountpoint\n',
    });
    expect((await asked(['mountpoint', '-q', '/persistent'])).exitcode).toBe(32);
    expect((await asked(['dpkg', '-s', 'docker-ce', 'nfs-common'])).exitcode).toBe(0);
    expect((await asked(['dpkg', '-s', 'docker'])).exitcode).toBe(1);
    // The lab's event log names the bytes that ran: converge.sh, and the feature's script it was given.
    expect(
      events.some(
        (e) =>
          e.sha256 === scriptSha256('converge.sh') &&
          (e.scriptArgsSha256 as string[] | undefined)?.includes(scriptSha256('docker.sh')) &&
          e.exitcode === 0,
      ),
    ).toBe(true);
  });

  it('a deliberately non-idempotent copy of a script shows the duplication', async () => {
    // The fstab edit without its check: append every time.
    const text = scriptText('mount.sh');
    const from = text.indexOf('    if ! in_fstab; then');
    const to = text.indexOf('    if ! mounted; then');
    const broken = `${text.slice(0, from)}    printf '%s\\n' "$line" >>/etc/fstab\n${text.slice(to)}`;
    expect(from).toBeGreaterThan(0);
    const exportDir = path.join(dir, 'exports', '1042');
    const apply = async (script: string, vmid: number) => {
      const r = sandbox.exec(vmid, BARE, ['bash', '-c', script, 'mount.sh', 'apply', '10.0.0.13', exportDir, '/data']);
      await r.done;
      return r.exitcode;
    };
    const lines = (vmid: number) =>
      fs
        .readFileSync(path.join(sandbox.rootOf(vmid), 'etc/fstab'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(' /data nfs ')).length;
    expect(await apply(broken, 1043)).toBe(0);
    expect(await apply(broken, 1043)).toBe(0);
    expect(lines(1043)).toBe(2);
    // The shipped script, run twice in a fresh guest, leaves exactly one line.
    fs.rmSync(sandbox.rootOf(1044), { recursive: true, force: true });
    expect(await apply(text, 1044)).toBe(0);
    expect(await apply(text, 1044)).toBe(0);
    expect(lines(1044)).toBe(1);
  });

  const fresh = vmSpec(1045, 'fresh', {
    features: ['base_setup', 'docker'],
    portainerRole: 'agent',
    ciuser: 'phoenix_user',
  });
  const input = () => ({
    proxmox: settingsFor(sim, 'PMX_PROV'),
    vm: { vmid: 1045, name: 'fresh', node: 'pve' },
    features: featuresFor(fresh, PROVISIONING).map((step) => ({ step })),
  });
  const commands = (from: number) =>
    sim
      .audit()
      .slice(from)
      .filter((a) => a.method === 'POST' && a.path.endsWith('/qemu/1045/agent/exec'))
      .map((a) => {
        const argv = (a.params as { command: string[] }).command;
        // converge.sh PLAN LOG CHECK_S CLOUD_INIT_S APPLY_S VERIFY_S NAME SCRIPT ARGS…
        return argv[3] === 'converge.sh' ? `${argv[10]} ${argv[4]}, cloud-init ${argv[7]} s` : argv.join(' ');
      });
  /** What ran in the guest since `from` (lengths of the files, from `logged()`): the feature scripts' modes, in the
   * order each feature's log has them, and the calls of cloud-init's stand-in. */
  const guestFile = (file: string) => {
    const f = path.join(sandbox.rootOf(1045), file);
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
  };
  const logged = () =>
    Object.fromEntries(
      ['base_setup', 'docker', 'portainer_agent', 'calls'].map((k) => [
        k,
        guestFile(k === 'calls' ? 'var/lib/phoenix-sim/calls.log' : `var/log/phoenix-migrate/${k}.log`).length,
      ]),
    );
  const ranSince = (from: Record<string, number>) => ({
    modes: Object.fromEntries(
      ['base_setup', 'docker', 'portainer_agent'].map((k) => [
        k,
        [
          ...guestFile(`var/log/phoenix-migrate/${k}.log`)
            .slice(from[k])
            .matchAll(new RegExp(`^phoenix-migrate ${k}: (check|apply|verify) `, 'gm')),
        ].map((m) => m[1]),
      ]),
    ),
    cloudInit: guestFile('var/lib/phoenix-sim/calls.log')
      .slice(from.calls)
      .split('\n')
      .filter((l) => l.startsWith('cloud-init ')),
  });

  it("one activity for a VM's features: a failing one names the ones done before it; the next run applies the rest, waiting for cloud-init once", async () => {
    sandbox.setFaults({ aptFailRate: 1 });
    const err = await provisionFeatures(input()).then(
      () => undefined,
      (e: Error & { type?: string; nonRetryable?: boolean; details?: unknown[] }) => e,
    );
    sandbox.setFaults({ aptFailRate: 0 });
    expect(err).toMatchObject({ type: 'FeatureScriptFailed', nonRetryable: true });
    expect(err!.message).toContain('docker.sh apply failed in VM 1045');
    expect(err!.details?.[0]).toMatchObject({
      feature: 'docker',
      featuresDone: [{ name: 'base_setup', outcome: 'already' }],
    });

    const from = sim.audit().length;
    const before = logged();
    const r = await provisionFeatures(input());
    expect(r.features.map((f) => `${f.name}:${f.outcome}`)).toEqual([
      'base_setup:already',
      'docker:applied',
      'portainer_agent:applied',
    ]);
    for (const f of r.features) expect(Date.parse(f.endedAt)).toBeGreaterThanOrEqual(Date.parse(f.startedAt));
    expect(r.features[1].detail).toMatch(/^phoenix-migrate docker: /);
    // One guest command per feature; one cloud-init wait in the activity: it does not run again before the VM
    // reboots, so the feature after the first that changed something does not ask for it.
    expect(commands(from)).toEqual([
      'base_setup.sh converge, cloud-init 900 s',
      'docker.sh converge, cloud-init 900 s',
      'portainer_agent.sh converge, cloud-init 0 s',
    ]);
    expect(ranSince(before)).toEqual({
      modes: {
        base_setup: ['check'],
        docker: ['check', 'apply', 'verify'],
        portainer_agent: ['check', 'apply', 'verify'],
      },
      cloudInit: ['cloud-init status --wait'],
    });
  });

  it("one activity for a VM's features: a retry resumes after the features its earlier attempt's heartbeats reported done, keeping their outcome", async () => {
    const earlier = (await provisionFeatures(input())).features.slice(0, 2).map((f, i) => ({
      ...f,
      outcome: i === 1 ? ('applied' as const) : f.outcome, // what the first attempt did, before its answer was lost
    }));
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { featuresDone: earlier } });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const from = sim.audit().length;
    const r = (await env.run(provisionFeatures, input())) as ProvisionFeaturesResult;
    expect(r.features.map((f) => `${f.name}:${f.outcome}`)).toEqual([
      'base_setup:already',
      'docker:applied',
      'portainer_agent:already',
    ]);
    expect(commands(from)).toEqual(['portainer_agent.sh converge, cloud-init 900 s']);
    // Each heartbeat carries what is done, for the next retry: the earlier attempt's, then this one's too.
    expect(beats[0]).toMatchObject({ featuresDone: earlier });
    expect(beats[beats.length - 1]).toMatchObject({ featuresDone: r.features });
  });

  it('a dry run only checks: a missing feature is `would-apply`, and the guest is left as it was', async () => {
    const docker = featuresFor(vmSpec(1043, 'scratch', { features: ['docker'] }), PROVISIONING)[0];
    expect(docker.name).toBe('docker');
    const r = await provisionFeature({
      proxmox: settingsFor(sim, 'PMX_PROV'),
      vm: { vmid: 1043, name: 'scratch', node: 'pve' },
      step: docker,
      dryRun: true,
    });
    expect(r).toMatchObject({ outcome: 'would-apply', sha256: scriptSha256('docker.sh') });
    const log = fs.readFileSync(path.join(sandbox.rootOf(1043), 'var/log/phoenix-migrate/docker.log'), 'utf8');
    expect([...log.matchAll(/^phoenix-migrate docker: (\w+) /gm)].map((m) => m[1])).toEqual(['check']);
    expect(await sandbox.exec(1043, BARE, ['dpkg', '-s', 'docker-ce']).done).toBe(1);
  });

  it('a guest whose cloud-init still runs: apt-get fails on its lock, `status` says running, an apply that does not wait fails; the features wait for it', async () => {
    // Far enough ahead that a slow machine's three commands all meet it running (none of them waits for it).
    const doneAt = Date.now() + 30_000;
    const asked = async (argv: string[]) => {
      const r = sandbox.exec(1046, BARE, argv, undefined, { cloudInitDoneAt: doneAt });
      const exitcode = await r.done;
      return { exitcode, stdout: Buffer.concat(r.stdout).toString(), stderr: Buffer.concat(r.stderr).toString() };
    };
    const apt = await asked(['apt-get', 'update']);
    expect(apt.exitcode).toBe(100);
    expect(apt.stderr).toContain('Could not get lock /var/lib/apt/lists/lock');
    expect(await asked(['cloud-init', 'status'])).toMatchObject({ exitcode: 0, stdout: 'status: running\n' });
    // The docker feature's apply, run without the wait, meets the lock.
    const apply = await asked(['bash', '-c', scriptText('docker.sh'), 'docker.sh', 'apply', 'phoenix_user']);
    expect(apply.exitcode).toBe(100);

    // Through the activity: the simulator's VM boots again, its cloud-init ends 1.5 s after now.
    sim.state.guests[1046].cloudInitDoneAt = Date.now() + 1_500;
    const fresh = vmSpec(1046, 'booting', { features: ['docker'], portainerRole: 'agent', ciuser: 'phoenix_user' });
    const r = await provisionFeatures({
      proxmox: settingsFor(sim, 'PMX_PROV'),
      vm: { vmid: 1046, name: 'booting', node: 'pve' },
      features: featuresFor(fresh, PROVISIONING).map((step) => ({ step })),
    });
    expect(r.features.map((f) => `${f.name}:${f.outcome}`)).toEqual(['docker:applied', 'portainer_agent:applied']);
    const calls = fs.readFileSync(path.join(sandbox.rootOf(1046), 'var/lib/phoenix-sim/calls.log'), 'utf8').split('\n');
    const waited = calls.lastIndexOf('cloud-init status --wait');
    expect(waited).toBeGreaterThan(calls.indexOf('cloud-init status'));
    expect(calls.slice(waited).filter((c) => c.startsWith('apt-get ')).length).toBeGreaterThan(0);
  });

  describe('converge.sh, with a feature script of the test', () => {
    // Its apply holds on until the test lets it go, so a second start surely meets it running.
    const slow = [
      'set -euo pipefail',
      'mkdir -p /var/log/phoenix-migrate',
      'exec >>/var/log/phoenix-migrate/slow.log 2>&1',
      'case "$1" in',
      '  check) [ -f /root/slow.done ] ;;',
      '  apply) echo "slow: applying"; while [ ! -f /root/slow.release ]; do sleep 0.05; done',
      '    echo once >>/root/slow.applied; touch /root/slow.done ;;',
      '  verify) [ -f /root/slow.done ] && echo "slow: in place" ;;',
      'esac',
    ].join('\n');
    // converge.sh PLAN LOG CHECK_S CLOUD_INIT_S APPLY_S VERIFY_S NAME SCRIPT [ARGS…]
    const start = (plan: string, checkSeconds = 120, script = slow) =>
      sandbox.exec(1043, BARE, [
        'bash',
        '-c',
        scriptText('converge.sh'),
        'converge.sh',
        plan,
        '/var/log/phoenix-migrate/slow.log',
        String(checkSeconds),
        '0',
        '60',
        '120',
        'slow.sh',
        script,
      ]);
    const out = (r: { stdout: Buffer[] }) => Buffer.concat(r.stdout).toString();
    const guest = (file: string) => path.join(sandbox.rootOf(1043), file);
    const log = () => fs.readFileSync(guest('var/log/phoenix-migrate/slow.log'), 'utf8');

    it('a second start while the first still applies waits for it, then finds the feature in place: applied once', async () => {
      const first = start('converge');
      await waitUntil(
        () => fs.existsSync(guest('var/log/phoenix-migrate/slow.log')) && log().includes('slow: applying'),
        'the first apply',
      );
      const second = start('converge');
      await waitUntil(() => log().includes('waiting for an earlier run of slow.sh'), 'the second start to wait');
      fs.writeFileSync(guest('root/slow.release'), '');
      expect([await first.done, await second.done]).toEqual([0, 0]);
      expect(parseConvergeReport(out(first))).toEqual({
        steps: [
          { step: 'check', exitcode: 1 },
          { step: 'apply', exitcode: 0 },
          { step: 'verify', exitcode: 0 },
        ],
        tail: expect.stringMatching(/slow: in place$/),
      });
      expect(parseConvergeReport(out(second))).toEqual({ steps: [{ step: 'check', exitcode: 0 }] });
      expect(fs.readFileSync(guest('root/slow.applied'), 'utf8')).toBe('once\n');
    });

    it('a check that hangs is stopped at its bound (124) and ends the run there; a dry run only checks', async () => {
      const hang = slow.replace('check) [ -f /root/slow.done ] ;;', 'check) sleep 30 ;;');
      const r = start('converge', 1, hang);
      expect(await r.done).toBe(124);
      expect(parseConvergeReport(out(r)).steps).toEqual([{ step: 'check', exitcode: 124 }]);
      const dry = start('check', 120, slow.replace('[ -f /root/slow.done ]', 'false'));
      expect(await dry.done).toBe(1);
      expect(parseConvergeReport(out(dry))).toEqual({ steps: [{ step: 'check', exitcode: 1 }] });
    });
  });

  it("nothing outside the lab changed: the host's /etc/fstab and apt sources are byte for byte the same", () => {
    for (const [file, before] of hostBefore) expect(`${file} ${sha(file)}`).toBe(`${file} ${before}`);
  });
});
