/**
 * What one VM's features cost the machine in the lab, apart from any fleet: `node lib/bench/guest-cost.js [VMS]`.
 * Runs the real `provisionFeatures` activity on VMS (default 5) fresh VMs of a Proxmox simulator whose guest commands
 * run in the lab's sandbox — VM 1002's features: mount, base_setup, docker, portainer_agent — then once more on the
 * same VMs (every check passes, as for the adopted VM 1001), and prints per VM the processes started (the kernel's
 * fork counter) and the CPU the whole machine spent (/proc/stat), one JSON line per pass. Both counters are the
 * machine's: run it on an idle machine (BENCHMARKS.md, "a ninth look", has what it measured).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createProvisioningActivities, type ProvisionFeaturesResult } from '../activities/provisioning';
import { defaultProxmoxFor } from '../activities/vms';
import type { ProvisioningSettings, ProxmoxSettings, VmSpec } from '../config/resolved-plan';
import { GuestSandbox } from '../lab/guest-sandbox/sandbox';
import { seedFromPhoenixWorld, startProxmoxSim } from '../lab/proxmox-sim';
import { featuresFor } from '../provisioning/features';

interface MachineCounters {
  userTicks: number;
  systemTicks: number;
  forks: number;
}

function machineCounters(): MachineCounters {
  const stat = fs.readFileSync('/proc/stat', 'utf8');
  const cpu = /^cpu\s+(.*)$/m.exec(stat)![1].split(/\s+/).map(Number);
  // user + nice; system + irq + softirq
  return {
    userTicks: cpu[0] + cpu[1],
    systemTicks: cpu[2] + cpu[5] + cpu[6],
    forks: Number(/^processes (\d+)/m.exec(stat)![1]),
  };
}

const PROVISIONING: ProvisioningSettings = {
  provisioner: 'native',
  phoenixCommand: ['phoenix', 'create'],
  phoenixVmConfig: '/usr/local/phoenix_hypervisor/etc/phoenix_vm_configs.json',
  images: { portainerServer: 'portainer/portainer-ce:2.21.5', portainerAgent: 'portainer/agent:2.21.5' },
};

function drPhoenixLike(vmid: number, exportDir: string): VmSpec {
  return {
    vmid,
    name: `vm-${vmid}`,
    node: 'pve',
    cloneFrom: 9000,
    storage: 'local-lvm',
    cores: 4,
    memoryMb: 4096,
    diskSizeGb: 64,
    onboot: true,
    startup: { order: 2 },
    ip: `10.0.0.${vmid % 200}`,
    ipconfig0: `ip=10.0.0.${vmid % 200}/24,gw=10.0.0.1`,
    ciuser: 'phoenix_user',
    tags: [],
    features: ['base_setup', 'docker'],
    portainerRole: 'agent',
    volumes: [{ type: 'nfs', path: exportDir, mountPoint: '/persistent-storage', server: '10.0.0.13' }],
  };
}

async function main(): Promise<void> {
  const vms = Number(process.argv[2] ?? 5);
  if (!(Number.isInteger(vms) && vms >= 1)) throw new Error('usage: guest-cost.js [VMS ≥ 1]');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-guest-cost-'));
  const image = { base: 'ubuntu-24.04-cloud' as const };
  const vmids = Array.from({ length: vms }, (_, i) => 1100 + i);
  for (const vmid of vmids) fs.mkdirSync(path.join(dir, 'exports', String(vmid)), { recursive: true });
  const sandbox = new GuestSandbox({
    dir: path.join(dir, 'guests'),
    nfsServer: '10.0.0.13',
    nfsRoot: path.join(dir, 'exports'),
  });
  const sim = await startProxmoxSim({
    worlds: [
      seedFromPhoenixWorld({
        templateImage: image,
        vms: vmids.map((vmid) => ({
          vmid,
          type: 'qemu' as const,
          name: `vm-${vmid}`,
          status: 'running',
          ip: `10.0.0.${vmid % 200}`,
          image,
        })),
      }),
    ],
    agentDelayMs: 10,
    cloudInitMs: 0,
    guestSandbox: sandbox,
  });
  try {
    process.env.PHOENIX_GUEST_COST_TOKEN = sim.tokenSecret;
    const proxmox: ProxmoxSettings = {
      node: 'pve',
      apiUrl: sim.url,
      tls: { mode: 'fingerprint', sha256: sim.fingerprint },
      tokenId: sim.tokenId,
      tokenSecret: { env: 'PHOENIX_GUEST_COST_TOKEN' },
      ownerTag: 'phoenix-migrate',
      requestTimeoutMs: 10_000,
    };
    const { provisionFeatures } = createProvisioningActivities({
      env: process.env,
      proxmoxFor: defaultProxmoxFor({ warn: () => undefined }),
    });
    const env = new MockActivityEnvironment();
    const pass = async (name: string) => {
      const before = machineCounters();
      const outcomes = new Set<string>();
      for (const vmid of vmids) {
        const spec = drPhoenixLike(vmid, path.join(dir, 'exports', String(vmid)));
        const result: ProvisionFeaturesResult = await env.run(provisionFeatures, {
          proxmox,
          vm: { vmid, name: spec.name, node: 'pve' },
          features: featuresFor(spec, PROVISIONING).map((step) => ({ step })),
        });
        for (const f of result.features) outcomes.add(`${f.name}:${f.outcome}`);
      }
      const after = machineCounters();
      const tickMs = 1000 / 100; // USER_HZ
      process.stdout.write(
        `${JSON.stringify({
          pass: name,
          vms,
          outcomes: [...outcomes].sort(),
          processesPerVm: Math.round(((after.forks - before.forks) / vms) * 10) / 10,
          cpuMsPerVm: Math.round(
            ((after.userTicks - before.userTicks + after.systemTicks - before.systemTicks) * tickMs) / vms,
          ),
          userMsPerVm: Math.round(((after.userTicks - before.userTicks) * tickMs) / vms),
          systemMsPerVm: Math.round(((after.systemTicks - before.systemTicks) * tickMs) / vms),
        })}\n`,
      );
    };
    await pass('fresh');
    await pass('in place');
  } finally {
    await sim.stop();
    sandbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`guest-cost: ${err.message}\n`);
    process.exit(1);
  },
);
