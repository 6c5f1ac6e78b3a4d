/** The VMs to create: plan entries + their Phoenix VM config entries → VmSpecs and the compose files they carry. */
import * as path from 'node:path';
import type { ComposeFile, VmSpec } from './resolved-plan';
import type { LoadedCompose } from './compose';
import type { PlanFile } from './plan-schema';
import { guestAt, isTemplate, MAX_VMID, MIN_VMID, type PhoenixWorld } from './phoenix';
import { parseCidr } from './net';
import { ProblemList } from './problems';
import { readTextFile } from './read-file';

const MAX_PUBLIC_KEY_BYTES = 64 * 1024;
const PUBLIC_KEY_LINE =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+[A-Za-z0-9+/]+={0,3}(\s+.*)?$/;

export interface ResolveVmsInput {
  planFile: string;
  plan: PlanFile;
  world: PhoenixWorld;
  compose: Map<number, LoadedCompose[]>;
  /** Ids the plan uses for other roles: a target vmid must not be one of them. */
  reserved: Map<number, string>;
  problems: ProblemList;
  env: NodeJS.ProcessEnv;
}

export function resolveVms(input: ResolveVmsInput): { vms: VmSpec[]; composeFiles: ComposeFile[] } {
  const { planFile, plan, world, problems } = input;
  const unsetEnvWarned = new Set<string>();
  const specs: VmSpec[] = [];
  const seen = new Set<number>();
  plan.vms.forEach((entry, i) => {
    const at = ['vms', i];
    const vmid = entry.vmid;
    if (vmid < MIN_VMID || vmid > MAX_VMID) {
      problems.error(
        planFile,
        [...at],
        `vmid ${vmid} is outside ${MIN_VMID}..${MAX_VMID}`,
        'Proxmox only accepts guest ids in that range',
      );
      return;
    }
    if (seen.has(vmid)) {
      problems.error(planFile, at, `VM ${vmid} is listed twice`, 'list each VM once');
      return;
    }
    seen.add(vmid);
    const role = input.reserved.get(vmid);
    if (role) {
      problems.error(
        planFile,
        at,
        `VM ${vmid} is also the ${role}: creating it would collide with that guest`,
        'pick the vmid of a new VM defined in the VM config',
      );
      return;
    }
    const vm = world.vms.get(vmid);
    if (!vm) {
      const elsewhere = guestAt(world, vmid);
      problems.error(
        planFile,
        at,
        elsewhere
          ? `vmid ${vmid} is a container in ${path.basename(world.lxcFile)}, not a VM`
          : `VM ${vmid} is not defined in ${path.basename(world.vmFile)}`,
        'add the VM to phoenix_vm_configs.json, or fix the vmid',
      );
      return;
    }
    const e = vm.entry;
    const vAt = ['vms', vm.index];
    const need = (field: string, value: unknown, hint: string): boolean => {
      if (value !== undefined) return true;
      problems.error(world.vmFile, [...vAt, field], `VM ${vmid}: "${field}" is missing (and not in vm_defaults)`, hint);
      return false;
    };
    if (isTemplate(world, vmid)) {
      problems.error(
        planFile,
        at,
        `VM ${vmid} is a template, not a VM to create`,
        'list the VMs cloned from it instead',
      );
      return;
    }
    const ok = [
      need('clone_from_vmid', e.clone_from_vmid, 'set the template to clone, e.g. 9000'),
      need('cores', e.cores, 'set "cores" here or in vm_defaults'),
      need('memory_mb', e.memory_mb, 'set "memory_mb" here or in vm_defaults'),
      need('disk_size_gb', e.disk_size_gb, 'set "disk_size_gb" here or in vm_defaults'),
      need('boot_order', e.boot_order, 'set "boot_order" (Proxmox startup order)'),
      need('network_config', e.network_config, 'set {"ip": "10.0.0.N/24", "gw": "10.0.0.1"}'),
    ].every(Boolean);
    const storage = plan.proxmox.storage ?? e.storage_pool;
    if (storage === undefined) {
      problems.error(
        planFile,
        ['proxmox', 'storage'],
        `no clone target storage for VM ${vmid}`,
        'set proxmox.storage in the plan, or storage_pool in vm_defaults',
      );
    }
    const cidr = e.network_config ? parseCidr(e.network_config.ip) : undefined;
    if (e.network_config && !cidr) {
      problems.error(
        world.vmFile,
        [...vAt, 'network_config', 'ip'],
        `VM ${vmid}: a VM to create needs a static address, not "${e.network_config.ip}"`,
        'write it like "10.0.0.102/24": probes and the gateway need to know it',
      );
    }
    if (!ok || !cidr || storage === undefined) return;
    const gw = e.network_config?.gw;
    specs.push({
      vmid,
      name: e.name,
      node: plan.proxmox.node,
      cloneFrom: e.clone_from_vmid as number,
      storage,
      cores: e.cores as number,
      memoryMb: e.memory_mb as number,
      diskSizeGb: e.disk_size_gb as number,
      onboot: e.start_at_boot ?? false,
      startup:
        e.boot_delay !== undefined
          ? { order: e.boot_order as number, up: e.boot_delay }
          : { order: e.boot_order as number },
      ip: cidr.ip,
      ipconfig0: gw ? `ip=${cidr.ip}/${cidr.prefix},gw=${gw}` : `ip=${cidr.ip}/${cidr.prefix}`,
      ...optional('nameserver', entry.nameserver ?? plan.cloudInit.nameserver ?? e.network_config?.nameserver),
      ...optional('ciuser', entry.ciuser ?? plan.cloudInit.ciuser ?? e.user_config?.username),
      ...optional('sshPublicKeys', readPublicKeys(input, entry, i, unsetEnvWarned)),
      tags: [plan.proxmox.ownerTag],
      features: e.features ?? [],
      ...optional('portainerRole', e.portainer_role),
      ...optional('adopt', entry.existing === 'adopt' ? true : undefined),
      volumes: (e.volumes ?? []).map((v) => ({
        type: 'nfs' as const,
        ...optional('name', v.name),
        path: v.path,
        mountPoint: v.mount_point,
        ...optional('server', v.server),
      })),
    });
  });
  specs.sort((a, b) => a.startup.order - b.startup.order || a.vmid - b.vmid);

  const composeFiles: ComposeFile[] = [];
  for (const spec of specs) {
    const volume = spec.volumes[0];
    for (const c of input.compose.get(spec.vmid) ?? []) {
      if (!volume) continue; // reported by the Phoenix checks
      composeFiles.push({
        vmid: spec.vmid,
        source: c.source,
        destination: c.destination,
        hostPath: `${volume.path.replace(/\/$/, '')}/${c.destination}`,
        guestPath: `${volume.mountPoint.replace(/\/$/, '')}/${c.destination}`,
        content: c.content,
        sha256: c.sha256,
      });
    }
  }
  return { vms: specs, composeFiles };
}

/** Public keys are not secret: read them now so the worker never needs the file. */
function readPublicKeys(
  input: ResolveVmsInput,
  entry: PlanFile['vms'][number],
  i: number,
  unsetEnvWarned: Set<string>,
): string | undefined {
  const { planFile, plan, problems, env } = input;
  let file: string | undefined;
  let at: (string | number)[];
  if (entry.sshPublicKeyFile !== undefined || entry.sshPublicKeyFileEnv !== undefined) {
    at = ['vms', i, entry.sshPublicKeyFile !== undefined ? 'sshPublicKeyFile' : 'sshPublicKeyFileEnv'];
  } else {
    at = ['cloudInit', plan.cloudInit.sshPublicKeyFile !== undefined ? 'sshPublicKeyFile' : 'sshPublicKeyFileEnv'];
  }
  const direct =
    entry.sshPublicKeyFile ?? (entry.sshPublicKeyFileEnv === undefined ? plan.cloudInit.sshPublicKeyFile : undefined);
  const envName = entry.sshPublicKeyFileEnv ?? plan.cloudInit.sshPublicKeyFileEnv;
  if (direct !== undefined) file = path.resolve(path.dirname(planFile), direct);
  else if (envName !== undefined) {
    const fromEnv = env[envName];
    if (!fromEnv) {
      if (!unsetEnvWarned.has(envName)) {
        problems.warning(
          planFile,
          at,
          `${envName} is not set where this command runs, so the VMs get no SSH public keys (the CLI that starts the run reads it; the worker's worker.env does not count)`,
          `export ${envName}=/path/to/key.pub in this shell before validate/plan/start, so cloud-init installs it`,
        );
      }
      unsetEnvWarned.add(envName);
      return undefined;
    }
    file = path.resolve(fromEnv);
  }
  if (file === undefined) return undefined;
  const read = readTextFile(file, MAX_PUBLIC_KEY_BYTES, problems, {
    file: planFile,
    at,
    what: `VM ${entry.vmid}: SSH public key file`,
  });
  if (!read.ok) return undefined;
  if (/PRIVATE KEY/.test(read.text)) {
    problems.error(
      planFile,
      at,
      `VM ${entry.vmid}: the SSH public key file ${file} holds a private key`,
      'point it at the ".pub" file',
    );
    return undefined;
  }
  const lines = read.text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const bad = lines.findIndex((l) => !PUBLIC_KEY_LINE.test(l));
  if (lines.length === 0 || bad >= 0) {
    problems.error(
      planFile,
      at,
      `VM ${entry.vmid}: ${file} is not a list of OpenSSH public keys${bad >= 0 ? ` (entry ${bad + 1})` : ''}`,
      'use the ".pub" file made by ssh-keygen (one key per line)',
    );
    return undefined;
  }
  return lines.join('\n');
}

/** Spreads `{[key]: value}` only when value is defined (keeps optional fields absent instead of undefined). */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
