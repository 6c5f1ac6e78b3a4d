import { bootDisk, configChanges, diskSizeGb } from '../../../src/activities/vms';
import { archiveFromLog, checkDecommissionAllowed, type DecommissionInput } from '../../../src/activities/decommission';
import type { VmSpec } from '../../../src/config/resolved-plan';
import { FailureType } from '../../../src/failure-types';

const vm: VmSpec = {
  vmid: 1002,
  name: 'qdrant-vm',
  node: 'pve',
  cloneFrom: 9000,
  storage: 'local-lvm',
  cores: 4,
  memoryMb: 8192,
  diskSizeGb: 64,
  onboot: true,
  startup: { order: 2, up: 30 },
  ip: '10.0.0.102',
  ipconfig0: 'ip=10.0.0.102/24,gw=10.0.0.1',
  tags: ['phoenix-migrate'],
  features: [],
  volumes: [],
  sshPublicKeys: 'ssh-ed25519 AAAA a@b',
};

describe('configChanges', () => {
  it('sends only what differs, comparing the way PVE stores values', () => {
    const current = {
      name: 'qdrant-vm',
      cores: 4,
      memory: 'current=8192',
      onboot: 1,
      startup: 'up=30,order=2',
      ipconfig0: 'gw=10.0.0.1,ip=10.0.0.102/24',
      sshkeys: 'ssh-ed25519%20AAAA%20a%40b',
      agent: 'enabled=1,fstrim_cloned_disks=1',
      tags: 'other;phoenix-migrate',
    };
    expect(configChanges(vm, 'phoenix-migrate', current)).toEqual([]);
  });

  it('lists each difference with the operator-facing description', () => {
    const changes = configChanges(vm, 'phoenix-migrate', {
      name: 'Copy-of-VM-tpl',
      cores: 2,
      memory: '2048',
      agent: '0',
      tags: 'keep',
    });
    expect(changes.map((c) => c.describe)).toEqual([
      'set name qdrant-vm',
      'set cores 4',
      'set memory 8192',
      'set onboot 1',
      'set startup order=2,up=30',
      'set ipconfig0 ip=10.0.0.102/24,gw=10.0.0.1',
      'set sshkeys (1 key)',
      'set agent enabled=1',
      'set tags keep;phoenix-migrate',
    ]);
    expect(changes.find((c) => c.key === 'sshkeys')!.value).toBe('ssh-ed25519%20AAAA%20a%40b');
  });
});

describe('boot disk and sizes', () => {
  it('follows the boot order, skipping CD-ROMs', () => {
    expect(
      bootDisk({
        boot: 'order=ide2;virtio0;net0',
        ide2: 'local:cloudinit,media=cdrom',
        virtio0: 'x,size=8G',
        scsi0: 'y,size=1G',
      }),
    ).toBe('virtio0');
    expect(bootDisk({ sata0: 'x,size=8G' })).toBe('sata0');
    expect(bootDisk({ ide2: 'local:cloudinit,media=cdrom' })).toBeUndefined();
  });

  it('reads sizes in GiB', () => {
    expect(diskSizeGb('local-lvm:vm-1-disk-0,iothread=1,size=32G')).toBe(32);
    expect(diskSizeGb('x,size=512M')).toBe(0.5);
    expect(diskSizeGb('x,size=1T')).toBe(1024);
  });
});

describe('decommission checks', () => {
  const base: DecommissionInput = {
    proxmox: {} as DecommissionInput['proxmox'],
    guest: { ctid: 952, name: 'qdrant-lxc', node: 'pve' },
    legacyCtids: [950, 952],
    protectedVmids: { template: 9000, gateway: 101, targets: [1001, 1002] },
    backups: { enabled: true, storage: 'local', mode: 'snapshot', compress: 'zstd' },
    shutdownTimeoutMs: 60_000,
  };
  const refusal = (input: DecommissionInput) => {
    try {
      checkDecommissionAllowed(input);
    } catch (err) {
      return err as { type: string; nonRetryable: boolean; message: string };
    }
    return undefined;
  };

  it('allows a listed legacy CT', () => expect(refusal(base)).toBeUndefined());
  it.each([
    [101, FailureType.ProtectedGuest, 'gateway'],
    [9000, FailureType.ProtectedGuest, 'template'],
    [1001, FailureType.ProtectedGuest, 'target'],
    [951, FailureType.NotALegacyGuest, 'not in the plan'],
  ])('refuses %i (%s)', (ctid, type, words) => {
    const err = refusal({
      ...base,
      guest: { ...base.guest, ctid },
      legacyCtids: ctid === 951 ? base.legacyCtids : [...base.legacyCtids, ctid],
    });
    expect(err).toMatchObject({ type, nonRetryable: true });
    expect(err!.message).toContain(words);
  });
});

describe('archiveFromLog', () => {
  it('finds the archive name vzdump logs', () => {
    expect(
      archiveFromLog([
        'INFO: backup mode: snapshot',
        "INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-lxc-950-2025_10_03-12_00_00.tar.zst'",
      ]),
    ).toBe('vzdump-lxc-950-2025_10_03-12_00_00.tar.zst');
    expect(archiveFromLog(['TASK OK'])).toBeUndefined();
  });
});
