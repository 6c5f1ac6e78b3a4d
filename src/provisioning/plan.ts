/**
 * Which features a VM gets, in Phoenix's order — pure data, so the workflow can lay out Phase 3's steps (the scripts
 * themselves are read by the activities, in ./features).
 */
import type { ProvisioningSettings, VmSpec } from '../config/resolved-plan';

export type FeatureName = 'mount' | 'base_setup' | 'docker' | 'portainer_server' | 'portainer_agent';

export interface FeatureStep {
  vmid: number;
  /** Unique per VM, e.g. `mount` (or `mount /data` when a VM has several volumes), `docker`. */
  name: string;
  feature: FeatureName;
  /** The script's file name under src/provisioning/scripts. */
  script: string;
  args: string[];
  /** One line for the UI. */
  summary: string;
}

/**
 * The VM's features in Phoenix's order: volumes mounted, base_setup, docker, then its Portainer role. Docker comes
 * with a role even when `features` forgets it (the role cannot run without it).
 */
export function featuresFor(vm: VmSpec, provisioning: ProvisioningSettings): FeatureStep[] {
  const out: FeatureStep[] = [];
  const nfs = vm.volumes.filter((v) => v.type === 'nfs' && v.server !== undefined);
  for (const v of nfs) {
    out.push({
      vmid: vm.vmid,
      name: nfs.length === 1 ? 'mount' : `mount ${v.mountPoint}`,
      feature: 'mount',
      script: 'mount.sh',
      args: [v.server as string, v.path, v.mountPoint],
      summary: `NFS ${v.server}:${v.path} at ${v.mountPoint} in VM ${vm.vmid}`,
    });
  }
  if (vm.features.includes('base_setup'))
    out.push({
      vmid: vm.vmid,
      name: 'base_setup',
      feature: 'base_setup',
      script: 'base_setup.sh',
      args: [],
      summary: `base packages in VM ${vm.vmid}`,
    });
  if (vm.features.includes('docker') || vm.portainerRole)
    out.push({
      vmid: vm.vmid,
      name: 'docker',
      feature: 'docker',
      script: 'docker.sh',
      args: vm.ciuser ? [vm.ciuser] : [],
      summary: `Docker CE + compose plugin in VM ${vm.vmid}`,
    });
  if (vm.portainerRole === 'primary') {
    const data = `${(vm.volumes[0]?.mountPoint ?? '/var/lib').replace(/\/$/, '')}/portainer`;
    out.push({
      vmid: vm.vmid,
      name: 'portainer_server',
      feature: 'portainer_server',
      script: 'portainer_server.sh',
      args: [provisioning.images.portainerServer, data],
      summary: `Portainer server ${provisioning.images.portainerServer} on :9443 in VM ${vm.vmid}`,
    });
  }
  if (vm.portainerRole === 'agent')
    out.push({
      vmid: vm.vmid,
      name: 'portainer_agent',
      feature: 'portainer_agent',
      script: 'portainer_agent.sh',
      args: [provisioning.images.portainerAgent],
      summary: `Portainer agent ${provisioning.images.portainerAgent} on :9001 in VM ${vm.vmid}`,
    });
  return out;
}
