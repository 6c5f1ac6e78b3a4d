/**
 * The phoenix-cli provisioner: `phoenix create <vmid>` runs on the Proxmox host through the real SSH gate (a stand-in
 * `phoenix` records the call), the volume directory is made through the gate, then the same verify steps prove the
 * result in the guest — and say what is missing when Phoenix did not do it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createProvisioningActivities } from '../../../src/activities/provisioning';
import { defaultProxmoxFor } from '../../../src/activities/vms';
import type { ProvisioningSettings } from '../../../src/config/resolved-plan';
import { GuestSandbox, sandboxUnavailableReason, type GuestImage } from '../../../src/lab/guest-sandbox/sandbox';
import { seedFromPhoenixWorld, startProxmoxSim, type ProxmoxSim } from '../../../src/lab/proxmox-sim';
import { installPhoenixStandin } from '../../../src/lab/services/phoenix-standin';
import { gateCommand, writeGateConfig } from '../../../src/lab/services/ssh-gate';
import { featuresFor } from '../../../src/provisioning/features';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { requireOrSkip } from '../../harness/tools';
import { settingsFor, vmSpec } from '../proxmox/helpers';

const ok = requireOrSkip('sshd', 'ssh-keygen', 'perl') && sandboxUnavailableReason() === undefined;
const describeIf = ok ? describe : describe.skip;

const PROVISIONING: ProvisioningSettings = {
  provisioner: 'phoenix-cli',
  phoenixCommand: ['phoenix', 'create'],
  phoenixVmConfig: '/usr/local/phoenix_hypervisor/etc/phoenix_vm_configs.json',
  images: { portainerServer: 'portainer/portainer-ce:2.21.5', portainerAgent: 'portainer/agent:2.21.5' },
};

describeIf('provisioner phoenix-cli through the SSH gate', () => {
  let dir: string;
  let sshd: SshdHandle;
  let sim: ProxmoxSim;
  let sandbox: GuestSandbox | undefined;
  let calls: string;
  const acts = () =>
    createProvisioningActivities({ env: sshd.env, proxmoxFor: defaultProxmoxFor({ warn: () => undefined }) });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-cli-'));
    const bin = path.join(dir, 'bin');
    calls = installPhoenixStandin(bin);
    fs.mkdirSync(path.join(dir, 'nfs'), { recursive: true });
    writeGateConfig(path.join(dir, 'gate'), {
      ct: 101,
      nfsRoot: path.join(dir, 'nfs'),
      backupDir: path.join(dir, 'backups'),
      pidFile: path.join(dir, 'nginx.pid'),
      errorLog: path.join(dir, 'error.log'),
      nginx: ['nginx'],
      pct: ['/bin/false'],
    });
    sshd = await startSshd({ extraPath: [bin], forcedCommand: gateCommand(path.join(dir, 'gate')).command });
    const exportDir = path.join(dir, 'nfs', '1045');
    fs.mkdirSync(exportDir, { recursive: true });
    // What a real `phoenix create 1045` leaves behind; 1046 is as bare as the template.
    const done: GuestImage = {
      base: 'ubuntu-24.04-cloud',
      docker: { user: 'phoenix_user' },
      containers: [{ name: 'portainer_agent', image: 'portainer/agent:2.21.5', ports: ['9001:9001'] }],
      nfs: [{ server: '10.0.0.13', path: exportDir, mountPoint: '/persistent-storage' }],
    };
    sim = await startProxmoxSim({
      worlds: [
        seedFromPhoenixWorld({
          vms: [
            { vmid: 1045, type: 'qemu', name: 'done', status: 'running', image: done },
            { vmid: 1046, type: 'qemu', name: 'bare', status: 'running', image: { base: 'ubuntu-24.04-cloud' } },
          ],
        }),
      ],
      authDelayMs: 50,
      agentDelayMs: 10,
      guestSandbox: (sandbox = new GuestSandbox({
        dir: path.join(dir, 'guests'),
        nfsServer: '10.0.0.13',
        nfsRoot: dir,
      })),
    });
  });
  afterAll(async () => {
    await sshd?.stop();
    await sim?.stop();
    sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs `phoenix create <vmid>` on the host through the gate; another phoenix command is refused (126)', async () => {
    const { runPhoenixCreate } = acts();
    const r = await runPhoenixCreate({ proxmoxHost: sshd.endpoint(), vmid: 1045, command: ['phoenix', 'create'] });
    expect(r).toMatchObject({ vmid: 1045, exitcode: 0 });
    expect(r.tail).toContain('[phoenix] create 1045');
    expect(fs.readFileSync(calls, 'utf8')).toBe('create 1045\n');
    const refused = await runPhoenixCreate({
      proxmoxHost: sshd.endpoint(),
      vmid: 1045,
      command: ['phoenix', 'delete'],
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(/exit code 126[\s\S]*phoenix-ssh-gate: refused/);
    expect(fs.readFileSync(calls, 'utf8')).toBe('create 1045\n');
  });

  it('makes the volume directory through the gate (0750), then finds it', async () => {
    const { prepareVolumeDirectory } = acts();
    const vm = {
      vmid: 1047,
      volumes: [{ type: 'nfs' as const, path: path.join(dir, 'nfs', '1047'), mountPoint: '/p' }],
    };
    expect((await prepareVolumeDirectory({ proxmoxHost: sshd.endpoint(), vm })).directories[0].outcome).toBe('applied');
    expect(fs.statSync(path.join(dir, 'nfs', '1047')).mode & 0o777).toBe(0o750);
    expect((await prepareVolumeDirectory({ proxmoxHost: sshd.endpoint(), vm })).directories[0].outcome).toBe('already');
  });

  it('then verifies in the guest: what Phoenix made is `verified`; on a bare VM verify fails naming the script', async () => {
    const { provisionFeature } = acts();
    const proxmox = settingsFor(sim, 'PMX_CLI');
    const steps = (vmid: number) =>
      featuresFor(
        vmSpec(vmid, 'x', {
          features: ['docker'],
          portainerRole: 'agent',
          ciuser: 'phoenix_user',
          volumes: [
            {
              type: 'nfs',
              path: path.join(dir, 'nfs', String(vmid)),
              mountPoint: '/persistent-storage',
              server: '10.0.0.13',
            },
          ],
        }),
        PROVISIONING,
      );
    const outcomes: string[] = [];
    for (const step of steps(1045))
      outcomes.push(
        `${step.name}:${(await provisionFeature({ proxmox, vm: { vmid: 1045, name: 'done', node: 'pve' }, step, verifyOnly: true })).outcome}`,
      );
    expect(outcomes).toEqual(['mount:verified', 'docker:verified', 'portainer_agent:verified']);
    const [, docker] = steps(1046);
    const err = await provisionFeature({
      proxmox,
      vm: { vmid: 1046, name: 'bare', node: 'pve' },
      step: docker,
      verifyOnly: true,
    }).then(
      () => undefined,
      (e: Error & { type?: string }) => e,
    );
    expect(err).toMatchObject({ type: 'FeatureVerifyFailed' });
    expect(err?.message).toContain('docker.sh verify failed in VM 1046');
    expect(err?.message).toContain('docker: command not found');
  });
});
