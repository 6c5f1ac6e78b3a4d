/**
 * Adopting an existing VM (the real VM 1001 "Dr-Phoenix"): refused without `existing: "adopt"` (the error names the
 * fix), converged in place with it — renamed, tagged, its ~13.5 GB disk grown to the plan's size — never recloned;
 * a planned size smaller than the live disk is kept, never attempted.
 */
import { createVmActivities } from '../../../src/activities/vms';
import { seedFromPhoenixWorld, startProxmoxSim, type ProxmoxSim } from '../../../src/lab/proxmox-sim';
import { depsFor, failureOf, mutatingSince, OWNER_TAG, settingsFor, vmSpec } from './helpers';

let sim: ProxmoxSim;
const { ensureVm } = createVmActivities(depsFor());

const existing = (vmid: number, sizeM: number) =>
  sim.addGuest({
    vmid,
    type: 'qemu',
    name: 'Dr-Phoenix',
    node: 'pve',
    status: 'running',
    ip: '10.0.0.101',
    config: { scsi0: `local-lvm:vm-${vmid}-disk-0,iothread=1,size=${sizeM}M`, memory: '8192', cores: 4 },
  });

beforeAll(async () => {
  sim = await startProxmoxSim({
    worlds: [seedFromPhoenixWorld({ templateDiskGb: 32 })],
    authDelayMs: 50,
    defaultTaskMs: 40,
    agentDelayMs: 50,
  });
});
afterAll(async () => {
  await sim.stop();
});

it('an existing VM without `existing: "adopt"` is refused with the fix, nothing changed', async () => {
  existing(1031, 13824);
  const from = sim.audit().length;
  const err = await failureOf(
    ensureVm({ proxmox: settingsFor(sim, 'PMX_SECRET_A'), vm: vmSpec(1031, 'Portainer', { diskSizeGb: 32 }) }),
  );
  expect(err).toMatchObject({ type: 'VmidTakenByForeignGuest', nonRetryable: true });
  expect(err.message).toContain('{"vmid": 1031, "existing": "adopt"}');
  expect(mutatingSince(sim, from)).toEqual([]);
});

it('adopt: renamed, tagged, disk grown 13.5G → 32G, never cloned; a second run changes nothing', async () => {
  existing(1032, 13824);
  const proxmox = settingsFor(sim, 'PMX_SECRET_A');
  const vm = vmSpec(1032, 'Portainer', { diskSizeGb: 32, cores: 4, memoryMb: 8192, adopt: true });
  const dry = await ensureVm({ proxmox, vm, dryRun: true });
  expect(dry.changes).toEqual(expect.arrayContaining(['set name Portainer', 'resize scsi0 13.5G → 32G']));
  const from = sim.audit().length;
  const r = await ensureVm({ proxmox, vm });
  expect(r).toMatchObject({ vmid: 1032, created: false, adopted: true, diskGb: 32, ready: true });
  expect(r.changes).toEqual(expect.arrayContaining(['set name Portainer', 'resize scsi0 13.5G → 32G']));
  expect(r.changes.some((c) => c.startsWith('set tags') && c.includes(OWNER_TAG))).toBe(true);
  // Running while grown: the guest's filesystem follows at its next boot, and the result says so.
  expect(r.rebootRequired).toBe(true);
  const calls = mutatingSince(sim, from);
  expect(calls.some((c) => c.path.endsWith('/clone'))).toBe(false);
  expect(calls.filter((c) => c.path.endsWith('/resize')).map((c) => c.params.size)).toEqual(['32G']);
  expect(String(sim.guest(1032)!.config.scsi0)).toContain('size=32G');
  expect(sim.guest(1032)!.config.name).toBe('Portainer');

  const again = sim.audit().length;
  const r2 = await ensureVm({ proxmox, vm });
  expect(r2).toMatchObject({ adopted: true, created: false });
  // Only the reminder stays: cloud-init settings of a running VM wait for its reboot, as on a real node.
  expect(r2.changes.filter((c) => !c.startsWith('reboot required'))).toEqual([]);
  expect(mutatingSince(sim, again)).toEqual([]);
});

it('never shrinks: a planned size below the live disk is kept and reported, no resize sent', async () => {
  existing(1033, 102400);
  const from = sim.audit().length;
  const r = await ensureVm({
    proxmox: settingsFor(sim, 'PMX_SECRET_A'),
    vm: vmSpec(1033, 'Portainer', { diskSizeGb: 32, cores: 4, memoryMb: 8192, adopt: true }),
  });
  expect(r.changes).toContain('kept: scsi0 is 100G, the plan says 32G — Proxmox cannot shrink a disk');
  expect(r.diskGb).toBe(100);
  expect(mutatingSince(sim, from).filter((c) => c.path.endsWith('/resize'))).toEqual([]);
  expect(String(sim.guest(1033)!.config.scsi0)).toContain('size=102400M');
});
