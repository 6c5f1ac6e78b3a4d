/**
 * A rehearsal's inputs from the operator's Phoenix checkout: a copy of the checkout inside the lab (the rehearsal
 * never writes into the operator's DIR, and a resumed lab keeps the checkout it started from), the operator's plan
 * checked against it, and the containers the node has — what the LXC config lists, plus the legacy CTs it no longer
 * lists, whose live facts the checkout cannot tell (src/lab/homelab.ts knows the real homelab's).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadAndResolvePlan, type ResolvedPlan } from '../../config';
import { CHECKOUT } from '../../config/phoenix-dir';
import { HOMELAB_CONTAINERS, HOMELAB_STORAGE, type HomelabContainer } from '../homelab';
import { RehearsalInputError } from './site-source';

export interface RehearsalOptions {
  /** The operator's Phoenix checkout (read only). */
  phoenixDir: string;
  /** The operator's plan (e.g. written by `phoenix-migrate init --phoenix-dir DIR …`). */
  planFile: string;
  /** An `nginx -T` dump taken in the gateway CT. */
  gatewayDump?: string;
}

export interface RehearsalInputs {
  /** The lab's copy of the checkout. */
  checkout: string;
  /** The operator's plan as a source plan for the lab world (addresses still real). */
  planSrc: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  resolved: ResolvedPlan;
  vmConfigs: string;
  lxcConfigs: string;
  /** The node's containers (real addresses). */
  containers: HomelabContainer[];
  storages: string[];
  notes: string[];
}

const SKIP = new Set(['.git', 'node_modules']);

/** Copies the checkout into `into` once (a resumed lab keeps its copy); never writes under `from`. */
export function copyCheckout(from: string, into: string): void {
  if (fs.existsSync(into)) return;
  const src = path.resolve(from);
  if (!fs.statSync(src, { throwIfNoEntry: false })?.isDirectory())
    throw new RehearsalInputError(`--phoenix ${src} is not a directory (pass a copy of /usr/local/phoenix_hypervisor)`);
  fs.cpSync(src, `${into}.partial`, {
    recursive: true,
    filter: (p) => !SKIP.has(path.basename(p)),
    preserveTimestamps: true,
  });
  fs.renameSync(`${into}.partial`, into);
}

export function loadRehearsal(o: RehearsalOptions, labDir: string): RehearsalInputs {
  const checkout = path.join(labDir, 'checkout');
  copyCheckout(o.phoenixDir, checkout);
  const notes: string[] = [];
  const planFile = path.resolve(o.planFile);
  const result = loadAndResolvePlan(planFile, { phoenixDir: checkout });
  if (!result.ok) {
    const lines = result.problems
      .filter((p) => p.severity === 'error')
      .map((p) => `  ${p.path}: ${p.message} (fix: ${p.hint})`);
    throw new RehearsalInputError(
      `the plan ${planFile} does not validate against the checkout ${path.resolve(o.phoenixDir)}:\n${lines.join('\n')}\n` +
        `check it with: phoenix-migrate validate --plan ${planFile} --phoenix-dir ${path.resolve(o.phoenixDir)}`,
    );
  }
  const resolved = result.plan;
  const raw = JSON.parse(fs.readFileSync(planFile, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const vmConfigs = path.join(checkout, CHECKOUT.vmConfigs);
  const lxcConfigs = path.join(checkout, CHECKOUT.lxcConfigs);
  const p = resolved.portainer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const planSrc: Record<string, any> = {
    ...raw,
    phoenix: { vmConfigs, lxcConfigs },
    portainer: {
      ...raw.portainer,
      url: p.url,
      agentUrl: p.agentUrl,
      environmentName: p.environmentName,
      stackName: p.stackName,
    },
  };
  // `sources.write` stays: the lab's plan points it at a copy in the lab (world.ts), never at DIR.

  const lxc = JSON.parse(fs.readFileSync(lxcConfigs, 'utf8')) as { lxc_configs?: Record<string, LxcEntry> };
  const listed = Object.entries(lxc.lxc_configs ?? {}).map(([id, e]) => fromLxcConfig(Number(id), e));
  const legacyIds = new Set(resolved.legacyGuests.map((g) => g.ctid));
  const homelab = new Map(HOMELAB_CONTAINERS.map((c) => [c.ctid, c]));
  const containers = listed.map((c) => ({ ...c, ...(legacyIds.has(c.ctid) ? { legacy: true } : {}) }));
  for (const ctid of legacyIds) {
    if (containers.some((c) => c.ctid === ctid)) continue;
    const known = homelab.get(ctid);
    if (known) {
      containers.push({ ...known, legacy: true });
      notes.push(
        `CT ${ctid} (${known.name}) is not in ${CHECKOUT.lxcConfigs}: its live facts (address, mount points) are the real homelab's as the lab knows them (src/lab/homelab.ts), not the checkout's`,
      );
    } else
      notes.push(`CT ${ctid} is in neither ${CHECKOUT.lxcConfigs} nor the lab's homelab facts: absent on the node`);
  }
  const hypervisor = readJson(path.join(checkout, CHECKOUT.hypervisorConfig)) as
    { proxmox_storage_ids?: Record<string, unknown> } | undefined;
  const storages = [
    ...new Set([
      ...Object.values(HOMELAB_STORAGE),
      ...Object.values(hypervisor?.proxmox_storage_ids ?? {}).filter((s): s is string => typeof s === 'string'),
      ...containers.map((c) => c.rootfsStorage).filter((s): s is string => !!s),
    ]),
  ];
  return { checkout, planSrc, resolved, vmConfigs, lxcConfigs, containers, storages, notes };
}

interface LxcEntry {
  name?: string;
  storage_pool?: string;
  storage_size_gb?: number;
  network_config?: { ip?: string };
  mac_address?: string;
  mount_points?: {
    host_path?: string;
    container_path?: string;
    pool?: string;
    size_gb?: number;
    mount_point?: string;
  }[];
  volumes?: { pool?: string; size_gb?: number; mount_point?: string; container_path?: string }[];
  zfs_volumes?: { pool?: string; size_gb?: number; mount_point?: string; container_path?: string }[];
}

/** A CT as Phoenix creates it from its LXC config entry: net0, rootfs, `mpN` in the order Phoenix numbers them. */
export function fromLxcConfig(ctid: number, e: LxcEntry): HomelabContainer {
  const mountPoints: Record<string, string> = {};
  let index = 0;
  for (const list of [e.mount_points, e.volumes, e.zfs_volumes]) {
    for (const v of list ?? []) {
      const at = v.container_path ?? v.mount_point ?? `/mnt/mp${index}`;
      const host = (v as { host_path?: string }).host_path;
      mountPoints[`mp${index}`] = v.pool
        ? `${v.pool}:subvol-${ctid}-disk-${index + 1},mp=${at},size=${v.size_gb ?? 8}G`
        : `${host ?? `/mnt/phoenix/${ctid}/mp${index}`},mp=${at}`;
      index++;
    }
  }
  return {
    ctid,
    name: e.name ?? `CT${ctid}`,
    ip: String(e.network_config?.ip ?? '').split('/')[0],
    ...(e.mac_address ? { mac: e.mac_address } : {}),
    rootfsGb: e.storage_size_gb ?? 8,
    ...(e.storage_pool ? { rootfsStorage: e.storage_pool } : {}),
    ...(Object.keys(mountPoints).length ? { mountPoints } : {}),
  };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}
