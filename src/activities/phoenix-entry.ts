/**
 * With the phoenix-cli provisioner, `phoenix create <vmid>` applies Phoenix's own VM entry, not our plan. Preflight
 * compares the two and refuses, naming the field, where they differ: otherwise the run would go on to verify a VM that
 * Phoenix built differently from what the operator reviewed in the plan.
 */
import { vmConfigFileSchema, vmEntrySchema } from '../config/phoenix-schemas';
import type { VmSpec } from '../config/resolved-plan';
import type { MissingItem } from './readiness';

const FIX =
  'make Phoenix\'s entry and the plan agree (`phoenix create` applies Phoenix\'s), or use provisioner "native"';

export function comparePhoenixEntries(vms: VmSpec[], text: string, file: string): MissingItem[] {
  let config: ReturnType<typeof vmConfigFileSchema.parse>;
  try {
    config = vmConfigFileSchema.parse(JSON.parse(text));
  } catch (err) {
    return [
      {
        item: `Phoenix's VM config ${file} is not a readable phoenix_vm_configs.json (${(err as Error).message.split('\n')[0]})`,
        fix: 'check the file on the Proxmox host, or point provisioning.phoenixVmConfig at the right one',
      },
    ];
  }
  const defaults = config.vm_defaults ?? {};
  const problems: MissingItem[] = [];
  for (const vm of vms) {
    const raw = config.vms.find((v) => (v as { vmid?: unknown } | null)?.vmid === vm.vmid);
    const entry = vmEntrySchema.safeParse(raw);
    if (!entry.success) {
      problems.push({
        item: `${file} has no usable entry for VM ${vm.vmid}: \`phoenix create ${vm.vmid}\` cannot build it as planned`,
        fix: `add VM ${vm.vmid} to Phoenix's config as the plan has it, or use provisioner "native"`,
      });
      continue;
    }
    const e = entry.data;
    const differs = (field: string, phoenix: unknown, planField: string, planned: unknown) =>
      problems.push({
        item: `${file}: VM ${vm.vmid} ${field} is ${JSON.stringify(phoenix)}, the plan says ${JSON.stringify(planned)} (${planField})`,
        fix: FIX,
      });
    const cores = e.cores ?? defaults.cores;
    if (cores !== undefined && cores !== vm.cores) differs('cores', cores, `vms[${vm.vmid}].cores`, vm.cores);
    const memory = e.memory_mb ?? defaults.memory_mb;
    if (memory !== undefined && memory !== vm.memoryMb)
      differs('memory_mb', memory, `vms[${vm.vmid}].memoryMb`, vm.memoryMb);
    const ip = e.network_config?.ip?.split('/')[0];
    if (ip !== undefined && ip !== vm.ip)
      differs('network_config.ip', e.network_config?.ip, `vms[${vm.vmid}].ip`, vm.ip);
    const phoenixPaths = (e.volumes ?? []).map((v) => v.path).sort();
    const plannedPaths = vm.volumes
      .filter((v) => v.type === 'nfs')
      .map((v) => v.path)
      .sort();
    if (phoenixPaths.join('\n') !== plannedPaths.join('\n'))
      differs('NFS volume path', phoenixPaths, `vms[${vm.vmid}].volumes[].path`, plannedPaths);
  }
  return problems;
}
