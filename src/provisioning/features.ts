/**
 * What `phoenix create <vmid>` does inside a VM, as data: the features a VM gets, in order, each one shipped shell
 * script run as `bash -c <script> <name> check|apply|verify <args…>` through the guest agent. `check` exiting 0 means
 * nothing runs; `apply` is idempotent; `verify` proves the result. The lab executes these very bytes in a sandboxed
 * guest root, so what the lab proves is what a real VM gets.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
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

/** src/provisioning/scripts, from both src/provisioning (ts-jest) and lib/provisioning (built). */
export const SCRIPTS_DIR = path.join(__dirname, '..', '..', 'src', 'provisioning', 'scripts');

const cache = new Map<string, string>();

/** The bytes we ship for one feature. */
export function scriptText(script: string): string {
  let text = cache.get(script);
  if (text === undefined) {
    text = fs.readFileSync(path.join(SCRIPTS_DIR, script), 'utf8');
    cache.set(script, text);
  }
  return text;
}

export function scriptSha256(script: string): string {
  return createHash('sha256').update(scriptText(script)).digest('hex');
}

/** Where each script logs inside the guest (the activity reads its tail while it runs and when it fails). */
export function guestLogFile(step: Pick<FeatureStep, 'feature'>): string {
  return `/var/log/phoenix-migrate/${step.feature}.log`;
}

/** The argv the guest agent runs for one mode of one step. */
export function featureArgv(step: FeatureStep, mode: 'check' | 'apply' | 'verify'): string[] {
  return ['bash', '-c', scriptText(step.script), step.script, mode, ...step.args];
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

/** Every script we ship (for lint, the gate's pin list and the lab's event log). */
export function shippedScripts(): string[] {
  return fs
    .readdirSync(SCRIPTS_DIR)
    .filter((f) => f.endsWith('.sh'))
    .sort();
}
