/**
 * Phoenix's config files: loading (schema-checked, `vm_defaults` applied) and the cross-checks that catch the
 * copy-paste mistakes seen in the real files (duplicate ids/IPs/MACs, wrong subnet, NFS path naming another vmid…).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  lxcConfigFileSchema,
  lxcEntrySchema,
  vmConfigFileSchema,
  vmEntrySchema,
  type LxcEntry,
  type VmEntry,
} from './phoenix-schemas';
import { addZodIssues, ProblemList, type PathPart, type Problem } from './problems';
import { readJsonFile } from './read-file';
import { inSubnet, isCleanAbsolutePath, isDnsName, isSafeRemotePath, normaliseMac, parseCidr, parseIPv4 } from './net';
import { checkComposeFiles, type LoadedCompose } from './compose';

export const MIN_VMID = 100;
export const MAX_VMID = 999_999_999;

export interface PhoenixVm {
  /** Index in the file's `vms` array (for JSON paths). */
  index: number;
  /** The entry with `vm_defaults` applied. */
  entry: VmEntry;
}

export interface PhoenixContainer {
  /** The key as written (`"101"`), for JSON paths. */
  key: string;
  ctid: number;
  entry: LxcEntry;
}

export interface PhoenixWorld {
  vmFile: string;
  lxcFile: string;
  /** The Phoenix checkout these files belong to: `/usr/local/phoenix_hypervisor/…` paths resolve inside it. */
  phoenixDir?: string;
  vms: Map<number, PhoenixVm>;
  containers: Map<number, PhoenixContainer>;
}

/** Reads both files and checks their shape. Entries that fail their schema are reported and left out. */
export function loadPhoenixWorld(
  vmFile: string,
  lxcFile: string,
  problems: ProblemList,
  /** The plan naming these files: a missing file is reported there, where the path is written. */
  namedBy?: { file: string; vmAt: PathPart[]; lxcAt: PathPart[] },
): PhoenixWorld | undefined {
  const world: PhoenixWorld = { vmFile, lxcFile, vms: new Map(), containers: new Map() };
  const read = (file: string, at: PathPart[] | undefined) => {
    if (namedBy && at && !fs.existsSync(file)) {
      problems.error(
        namedBy.file,
        at,
        `${file} does not exist`,
        "fix the path: it is relative to the plan file's directory",
      );
      return undefined;
    }
    return readJsonFile(file, problems);
  };
  const vmJson = read(vmFile, namedBy?.vmAt);
  const lxcJson = read(lxcFile, namedBy?.lxcAt);
  let ok = true;

  if (vmJson) {
    const file = vmConfigFileSchema.safeParse(vmJson.value);
    if (!file.success) {
      addZodIssues(problems, vmFile, file.error.issues);
      ok = false;
    } else {
      const defaults = file.data.vm_defaults ?? {};
      file.data.vms.forEach((raw, index) => {
        const at: PathPart[] = ['vms', index];
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
          problems.error(vmFile, at, 'a VM entry must be an object', 'write the entry as { "vmid": …, "name": … }');
          return;
        }
        const parsed = vmEntrySchema.safeParse({ ...defaults, ...raw });
        if (!parsed.success) {
          addZodIssues(problems, vmFile, parsed.error.issues, at);
          return;
        }
        const vmid = parsed.data.vmid;
        const earlier = world.vms.get(vmid);
        if (earlier) {
          problems.error(
            vmFile,
            [...at, 'vmid'],
            `vmid ${vmid} is used twice (also at $.vms[${earlier.index}])`,
            'give each VM its own vmid',
          );
          return;
        }
        world.vms.set(vmid, { index, entry: parsed.data });
      });
    }
  } else ok = false;

  if (lxcJson) {
    const file = lxcConfigFileSchema.safeParse(lxcJson.value);
    if (!file.success) {
      addZodIssues(problems, lxcFile, file.error.issues);
      ok = false;
    } else {
      for (const [key, raw] of Object.entries(file.data.lxc_configs)) {
        const at: PathPart[] = ['lxc_configs', key];
        if (!/^[1-9][0-9]*$/.test(key)) {
          problems.error(
            lxcFile,
            at,
            `container key "${key}" is not a CTID`,
            'key each container by its numeric CTID, e.g. "950"',
          );
          continue;
        }
        const parsed = lxcEntrySchema.safeParse(raw);
        if (!parsed.success) {
          addZodIssues(problems, lxcFile, parsed.error.issues, at);
          continue;
        }
        world.containers.set(Number(key), { key, ctid: Number(key), entry: parsed.data });
      }
    }
  } else ok = false;

  return ok ? world : undefined;
}

/** JSON path of a guest's entry, in its own file. */
export function guestAt(world: PhoenixWorld, vmid: number): { file: string; at: PathPart[] } | undefined {
  const vm = world.vms.get(vmid);
  if (vm) return { file: world.vmFile, at: ['vms', vm.index] };
  const ct = world.containers.get(vmid);
  if (ct) return { file: world.lxcFile, at: ['lxc_configs', ct.key] };
  return undefined;
}

export function isTemplate(world: PhoenixWorld, vmid: number): boolean {
  return world.vms.get(vmid)?.entry.is_template === true;
}

/** Cross-checks over both files. Compose files are read for the VMs in `composeFor` (default: every VM). */
export function checkPhoenixWorld(
  world: PhoenixWorld,
  problems: ProblemList,
  composeFor?: ReadonlySet<number>,
): Map<number, LoadedCompose[]> {
  const { vmFile, lxcFile } = world;
  const ipOwners = new Map<string, { who: string; file: string; at: PathPart[]; reported: boolean }>();
  const macOwners = new Map<string, string>();

  const checkAddress = (
    file: string,
    at: PathPart[],
    who: string,
    ip: string | undefined,
    gw: string | undefined,
    mac: string | undefined,
  ) => {
    if (ip !== undefined && ip !== 'dhcp') {
      const cidr = parseCidr(ip);
      if (!cidr) {
        problems.error(
          file,
          [...at, 'network_config', 'ip'],
          `${who}: "${ip}" is not an IPv4 address in CIDR form`,
          'write it like "10.0.0.102/24", or "dhcp"',
        );
      } else {
        const ipAt = [...at, 'network_config', 'ip'];
        const owner = ipOwners.get(cidr.ip);
        if (owner) {
          problems.error(
            file,
            ipAt,
            `${who}: IP ${cidr.ip} is also used by ${owner.who}`,
            'give each guest its own address',
          );
          if (!owner.reported)
            problems.error(
              owner.file,
              owner.at,
              `${owner.who}: IP ${cidr.ip} is also used by ${who}`,
              'give each guest its own address',
            );
          owner.reported = true;
        } else ipOwners.set(cidr.ip, { who, file, at: ipAt, reported: false });
        if (gw !== undefined) {
          if (parseIPv4(gw) === undefined) {
            problems.error(
              file,
              [...at, 'network_config', 'gw'],
              `${who}: gateway "${gw}" is not an IPv4 address`,
              'write it like "10.0.0.1"',
            );
          } else if (!inSubnet(cidr, gw)) {
            problems.error(
              file,
              [...at, 'network_config', 'ip'],
              `${who}: ${ip} is outside the subnet of its gateway ${gw}`,
              'fix the address or the prefix length so the gateway is reachable',
            );
          }
        }
      }
    }
    if (mac !== undefined) {
      const norm = normaliseMac(mac);
      const macAt = file === lxcFile ? [...at, 'mac_address'] : [...at, 'network_config', 'mac_address'];
      if (!norm)
        problems.error(file, macAt, `${who}: "${mac}" is not a MAC address`, 'write it like "52:54:00:12:34:56"');
      else if (macOwners.has(norm))
        problems.error(
          file,
          macAt,
          `${who}: MAC ${norm} is also used by ${macOwners.get(norm)}`,
          'give each guest its own MAC address',
        );
      else macOwners.set(norm, who);
    }
  };

  const checkId = (file: string, at: PathPart[], who: string, id: number) => {
    if (id < MIN_VMID || id > MAX_VMID) {
      problems.error(
        file,
        at,
        `${who}: id ${id} is outside ${MIN_VMID}..${MAX_VMID}`,
        'Proxmox only accepts guest ids in that range',
      );
    }
  };

  const checkName = (file: string, at: PathPart[], who: string, name: string) => {
    if (!isDnsName(name)) {
      problems.error(
        file,
        [...at, 'name'],
        `${who}: name "${name}" is not a valid DNS name, Proxmox would refuse it`,
        'use letters, digits and "-" (not first or last), labels of at most 63 characters, e.g. "Dr-Phoenix"',
      );
    }
  };

  for (const [vmid, { index, entry }] of world.vms) {
    const at: PathPart[] = ['vms', index];
    const who = `VM ${vmid}`;
    checkId(vmFile, [...at, 'vmid'], who, vmid);
    if (world.containers.has(vmid)) {
      problems.error(
        vmFile,
        [...at, 'vmid'],
        `${who}: vmid ${vmid} is also a container in ${path.basename(lxcFile)}`,
        'vmids are shared by VMs and containers: give this VM a free id',
      );
    }
    checkName(vmFile, at, who, entry.name);
    checkAddress(
      vmFile,
      at,
      who,
      entry.network_config?.ip,
      entry.network_config?.gw,
      entry.network_config?.mac_address,
    );
    if (entry.clone_from_vmid !== undefined && !isTemplate(world, entry.clone_from_vmid)) {
      problems.error(
        vmFile,
        [...at, 'clone_from_vmid'],
        world.vms.has(entry.clone_from_vmid)
          ? `${who}: clone_from_vmid ${entry.clone_from_vmid} is not a template (its entry lacks "is_template": true)`
          : `${who}: clone_from_vmid ${entry.clone_from_vmid} is not defined in this file`,
        'point it at the template VM (e.g. 9000) and mark that entry "is_template": true',
      );
    }
    (entry.volumes ?? []).forEach((volume, v) => {
      const vAt = [...at, 'volumes', v];
      if (!isCleanAbsolutePath(volume.path) || !isSafeRemotePath(volume.path)) {
        problems.error(
          vmFile,
          [...vAt, 'path'],
          `${who}: NFS path "${volume.path}" must be an absolute path of [A-Za-z0-9._/@:+-] without "." or ".." segments`,
          'it is used in commands on the Proxmox host: write it like "/quickOS/vm-persistent-data/1001"',
        );
      } else {
        const named = volume.path
          .split('/')
          .filter((s) => /^[0-9]+$/.test(s) && Number(s) >= MIN_VMID && Number(s) !== vmid);
        if (named.length > 0) {
          problems.warning(
            vmFile,
            [...vAt, 'path'],
            `${who}: NFS path "${volume.path}" names vmid ${named[0]}, not ${vmid}`,
            'check for a copy-paste mistake: each VM usually has its own export',
          );
        }
      }
      if (!isCleanAbsolutePath(volume.mount_point) || !isSafeRemotePath(volume.mount_point)) {
        problems.error(
          vmFile,
          [...vAt, 'mount_point'],
          `${who}: mount point "${volume.mount_point}" must be a clean absolute path of [A-Za-z0-9._/@:+-]`,
          'write it like "/persistent-storage"',
        );
      }
    });
    const destinations = new Set<string>();
    (entry.docker_compose_files ?? []).forEach((compose, c) => {
      const dAt = [...at, 'docker_compose_files', c, 'destination'];
      const d = compose.destination;
      if (
        d.startsWith('/') ||
        d.split('/').some((s) => s === '..' || s === '.' || s === '') ||
        /[^A-Za-z0-9._/-]/.test(d)
      ) {
        problems.error(
          vmFile,
          dAt,
          `${who}: compose destination "${d}" must be a relative path of [A-Za-z0-9._/-] without "." or ".." segments`,
          'write it relative to the VM\'s persistent storage, e.g. "qdrant/docker-compose.yml"',
        );
      } else if (destinations.has(d)) {
        problems.error(
          vmFile,
          dAt,
          `${who}: compose destination "${d}" is used twice`,
          'give each compose file its own destination',
        );
      }
      destinations.add(d);
    });
    if ((entry.docker_compose_files ?? []).length > 0 && !(entry.volumes ?? []).some((v) => v.type === 'nfs')) {
      problems.error(
        vmFile,
        [...at, 'docker_compose_files'],
        `${who}: has compose files but no NFS volume to hold them`,
        'add an NFS volume ({type, path, mount_point}) to this VM',
      );
    }
  }

  for (const [ctid, { key, entry }] of world.containers) {
    const at: PathPart[] = ['lxc_configs', key];
    const who = `CT ${ctid}`;
    checkId(lxcFile, at, who, ctid);
    checkName(lxcFile, at, who, entry.name);
    checkAddress(lxcFile, at, who, entry.network_config?.ip, entry.network_config?.gw, entry.mac_address);
  }

  checkBootOrders(world, problems);
  checkDependencies(world, problems);

  const compose = new Map<number, LoadedCompose[]>();
  for (const [vmid, vm] of world.vms) {
    if (composeFor && !composeFor.has(vmid)) continue;
    compose.set(vmid, checkComposeFiles(vmFile, vmid, vm, problems, world.phoenixDir));
  }
  return compose;
}

function checkBootOrders(world: PhoenixWorld, problems: ProblemList): void {
  const warnDuplicates = (file: string, guests: { at: PathPart[]; who: string; order?: number }[]) => {
    const seen = new Map<number, string>();
    for (const g of guests) {
      if (g.order === undefined) continue;
      const other = seen.get(g.order);
      if (other)
        problems.notable(
          file,
          [...g.at, 'boot_order'],
          `${g.who}: boot order ${g.order} is also used by ${other}`,
          'give guests distinct boot orders if their start order matters',
          'guests share a boot order (Proxmox then starts them in vmid order; usual when the order does not matter)',
        );
      else seen.set(g.order, g.who);
    }
  };
  warnDuplicates(
    world.vmFile,
    [...world.vms]
      .filter(([, v]) => !v.entry.is_template)
      .map(([id, v]) => ({ at: ['vms', v.index], who: `VM ${id}`, order: v.entry.boot_order })),
  );
  warnDuplicates(
    world.lxcFile,
    [...world.containers].map(([id, c]) => ({
      at: ['lxc_configs', c.key],
      who: `CT ${id}`,
      order: c.entry.boot_order,
    })),
  );
}

/** Declared dependencies (ctid → ctids), reporting entries that are not CTIDs or name unknown guests. */
export function guestDependencies(world: PhoenixWorld, problems?: ProblemList): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const collect = (file: string, at: PathPart[], who: number, deps: (string | number)[] | undefined) => {
    if (!deps) return;
    const ids: number[] = [];
    deps.forEach((dep, i) => {
      const id = typeof dep === 'number' ? dep : /^[0-9]+$/.test(dep) ? Number(dep) : NaN;
      if (!Number.isInteger(id)) {
        problems?.error(
          file,
          [...at, 'dependencies', i],
          `guest ${who}: dependency "${dep}" is not a guest id`,
          'list dependencies as CTID strings, e.g. ["101"]',
        );
        return;
      }
      if (!world.vms.has(id) && !world.containers.has(id)) {
        problems?.warning(
          file,
          [...at, 'dependencies', i],
          `guest ${who}: depends on guest ${id}, which neither config defines`,
          'remove the dependency or add the guest',
        );
      }
      ids.push(id);
    });
    out[String(who)] = ids;
  };
  for (const [id, vm] of world.vms) collect(world.vmFile, ['vms', vm.index], id, vm.entry.dependencies);
  for (const [id, ct] of world.containers) collect(world.lxcFile, ['lxc_configs', ct.key], id, ct.entry.dependencies);
  return out;
}

function checkDependencies(world: PhoenixWorld, problems: ProblemList): void {
  guestDependencies(world, problems);
}

export type ValidatePhoenixResult =
  { ok: true; world: PhoenixWorld; warnings: Problem[] } | { ok: false; problems: Problem[] };

/** Checks Phoenix's two config files on their own (no plan): schema, cross-checks and every compose file. */
export function validatePhoenixConfigs(vmPath: string, lxcPath: string, phoenixDir?: string): ValidatePhoenixResult {
  const problems = new ProblemList();
  const world = loadPhoenixWorld(vmPath, lxcPath, problems);
  if (world && phoenixDir !== undefined) world.phoenixDir = phoenixDir;
  if (world) checkPhoenixWorld(world, problems);
  if (!world || problems.hasErrors()) return { ok: false, problems: problems.items };
  return { ok: true, world, warnings: problems.warnings };
}
