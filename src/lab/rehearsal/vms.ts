/**
 * The VMs a rehearsal's plan adopts (`existing: "adopt"`) exist on the node before the run, running as their
 * `portainer_role` says: the primary with Docker and the Portainer server, an agent with Docker and the agent, a VM
 * without a role with Docker only — each with its NFS volume mounted, as Phoenix left it. Their disk is Phoenix's
 * (the 3.5 GB cloud image + its hard-coded 10 GB), never grown to the config's size.
 */
import type { ResolvedPlan } from '../../config';
import type { SimGuestSeed } from '../proxmox-sim';

interface VmEntry {
  vmid: number;
  name: string;
  cores?: number;
  memory_mb?: number;
  portainer_role?: string;
  network_config?: { ip?: string };
  user_config?: { username?: string };
  volumes?: { type?: string; server?: string; path?: string; mount_point?: string }[];
}

/** `vmConfigs` is the lab's copy (addresses mapped, NFS paths under the lab's world). */
export function adoptedVmSeeds(
  resolved: ResolvedPlan,
  vmConfigs: { vms?: VmEntry[] },
  storage: string,
): SimGuestSeed[] {
  const images = resolved.provisioning.images;
  return resolved.vms
    .filter((v) => v.adopt)
    .flatMap((v) => {
      const entry = (vmConfigs.vms ?? []).find((e) => e.vmid === v.vmid);
      if (!entry) return [];
      const role = entry.portainer_role;
      const nfs = (entry.volumes ?? []).filter((x) => x.type === 'nfs' && x.server && x.path && x.mount_point);
      return [
        {
          vmid: v.vmid,
          type: 'qemu' as const,
          name: entry.name,
          status: 'running' as const,
          ip: String(entry.network_config?.ip ?? '').split('/')[0],
          config: {
            cores: entry.cores ?? 2,
            memory: String(entry.memory_mb ?? 2048),
            onboot: 1,
            scsi0: `${storage}:vm-${v.vmid}-disk-0,iothread=1,size=13824M`,
          },
          image: {
            base: 'ubuntu-24.04-cloud' as const,
            docker: { user: entry.user_config?.username ?? 'phoenix_user' },
            containers:
              role === 'primary'
                ? [{ name: 'portainer', image: images.portainerServer, ports: ['9443:9443'] }]
                : role === 'agent'
                  ? [{ name: 'portainer_agent', image: images.portainerAgent, ports: ['9001:9001'] }]
                  : [],
            nfs: nfs.map((x) => ({ server: x.server!, path: x.path!, mountPoint: x.mount_point! })),
          },
        },
      ];
    });
}
