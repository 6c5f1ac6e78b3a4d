/** The phoenix-cli provisioner's preflight: Phoenix's own VM entry must say what the plan says, field by field. */
import { comparePhoenixEntries } from '../../../src/activities/phoenix-entry';
import type { VmSpec } from '../../../src/config/resolved-plan';

const FILE = '/usr/local/phoenix_hypervisor/etc/phoenix_vm_configs.json';

const vm = (over: Partial<VmSpec> = {}): VmSpec =>
  ({
    vmid: 1002,
    name: 'Dr-Phoenix',
    cores: 4,
    memoryMb: 4096,
    ip: '10.0.0.102',
    volumes: [{ type: 'nfs', path: '/quickOS/vm-persistent-data/1002', mountPoint: '/persistent-storage' }],
    ...over,
  }) as VmSpec;

const phoenixConfig = (entry: Record<string, unknown>, defaults: Record<string, unknown> = {}) =>
  JSON.stringify({
    vm_defaults: { cores: 2, memory_mb: 2048, ...defaults },
    vms: [
      { vmid: 9000, name: 'ubuntu-2404-cloud-template', is_template: true, network_config: { ip: 'dhcp' } },
      {
        vmid: 1002,
        name: 'Dr-Phoenix',
        cores: 4,
        memory_mb: 4096,
        network_config: { ip: '10.0.0.102/24', gw: '10.0.0.1' },
        volumes: [{ type: 'nfs', path: '/quickOS/vm-persistent-data/1002', mount_point: '/persistent-storage' }],
        ...entry,
      },
    ],
  });

describe('comparePhoenixEntries', () => {
  it('finds nothing when Phoenix and the plan agree', () => {
    expect(comparePhoenixEntries([vm()], phoenixConfig({}), FILE)).toEqual([]);
  });

  it('names each differing field with both values and the plan field', () => {
    const problems = comparePhoenixEntries(
      [vm()],
      phoenixConfig({
        memory_mb: 2048,
        network_config: { ip: '10.0.0.112/24' },
        // the real config's copy-paste slip: VM 1002's share named after vmid 1000
        volumes: [{ type: 'nfs', path: '/quickOS/vm-persistent-data/1000', mount_point: '/persistent-storage' }],
      }),
      FILE,
    );
    expect(problems.map((p) => p.item)).toEqual([
      `${FILE}: VM 1002 memory_mb is 2048, the plan says 4096 (vms[1002].memoryMb)`,
      `${FILE}: VM 1002 network_config.ip is "10.0.0.112/24", the plan says "10.0.0.102" (vms[1002].ip)`,
      `${FILE}: VM 1002 NFS volume path is ["/quickOS/vm-persistent-data/1000"], the plan says ["/quickOS/vm-persistent-data/1002"] (vms[1002].volumes[].path)`,
    ]);
    for (const p of problems) expect(p.fix).toMatch(/phoenix create.*provisioner "native"/);
  });

  it("uses Phoenix's vm_defaults for fields the entry leaves out", () => {
    const problems = comparePhoenixEntries([vm()], phoenixConfig({ cores: undefined }, { cores: 2 }), FILE);
    expect(problems.map((p) => p.item)).toEqual([`${FILE}: VM 1002 cores is 2, the plan says 4 (vms[1002].cores)`]);
  });

  it('refuses a VM Phoenix has no entry for, and a file that is not the config', () => {
    expect(comparePhoenixEntries([vm({ vmid: 1003 })], phoenixConfig({}), FILE)[0].item).toMatch(
      /has no usable entry for VM 1003/,
    );
    expect(comparePhoenixEntries([vm()], 'not json', FILE)[0].item).toMatch(
      /is not a readable phoenix_vm_configs.json/,
    );
  });
});
