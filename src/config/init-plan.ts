/**
 * `phoenix-migrate init`: a plan from the operator's Phoenix checkout. Everything the checkout decides is filled in
 * (VMs, gateway CT and site, the upstream routing to the legacy Qdrant, legacy guests, backup storage); everything it
 * cannot decide is written as a `"TODO: …"` string, which `validate` names as an error at its JSON path, and listed.
 * Conventional settings the checkout does not hold (node name, token id, TLS and host-key files) are filled with the
 * documented defaults and listed for review.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readUpstreams } from '../nginx/upstream';
import { findHeredocs } from '../sources/heredoc';
import { CHECKOUT } from './phoenix-dir';
import { loadPhoenixWorld, type PhoenixWorld } from './phoenix';
import { parseCidr } from './net';
import { ProblemList, type Problem } from './problems';

export interface InitOptions {
  /** The checkout (a copy of /usr/local/phoenix_hypervisor). */
  dir: string;
  legacy: number[];
  adopt: number[];
  volumes?: 'backup' | 'discard';
}

export type InitResult =
  | { ok: true; plan: Record<string, unknown>; todos: string[]; review: string[]; notes: string[] }
  | { ok: false; problems: Problem[] };

export const TODO_PREFIX = 'TODO:';
const todo = (what: string) => `${TODO_PREFIX} ${what}`;

interface SiteCandidate {
  /** Where it was found, for the notes. */
  source: string;
  /** The live file it is (heredoc target, or the committed file's live path). */
  siteFile: string;
  text: string;
  /** The CT whose script writes it, when a heredoc. */
  ctid?: number;
}

export function initPlan(opts: InitOptions): InitResult {
  const dir = path.resolve(opts.dir);
  const problems = new ProblemList();
  if (!isDirectory(dir)) {
    problems.error(
      dir,
      [],
      `the Phoenix checkout ${dir} is not a directory`,
      'pass --phoenix-dir the copy of /usr/local/phoenix_hypervisor',
    );
    return { ok: false, problems: problems.items };
  }
  const world = loadPhoenixWorld(path.join(dir, CHECKOUT.vmConfigs), path.join(dir, CHECKOUT.lxcConfigs), problems);
  if (!world) return { ok: false, problems: problems.items };
  world.phoenixDir = dir;
  const todos: string[] = [];
  const review: string[] = [];
  const notes: string[] = [];
  const ask = (at: string, what: string) => {
    todos.push(`${at}: ${what}`);
    return todo(what);
  };

  // ── VMs: those the migration added compose files or a Portainer role to ────────────────────────────────────
  const vms = [...world.vms.entries()]
    .filter(
      ([, v]) => !v.entry.is_template && ((v.entry.docker_compose_files ?? []).length > 0 || v.entry.portainer_role),
    )
    .sort(([a, va], [b, vb]) => (va.entry.boot_order ?? 0) - (vb.entry.boot_order ?? 0) || a - b);
  for (const id of opts.adopt)
    if (!vms.some(([vmid]) => vmid === id))
      problems.error(
        world.vmFile,
        [],
        `--adopt ${id}: VM ${id} is not one of the VMs with docker_compose_files or a portainer_role`,
        `adopt one of: ${vms.map(([v]) => v).join(', ') || '(none)'}`,
      );
  for (const id of opts.legacy)
    if (world.vms.has(id))
      problems.error(
        world.vmFile,
        [],
        `--legacy ${id} is a VM, not a container`,
        'legacy guests are the CTs being retired',
      );
  if (vms.length === 0)
    problems.error(
      world.vmFile,
      ['vms'],
      'no VM carries docker_compose_files or a portainer_role: there is nothing to migrate to',
      "declare the new VMs in Phoenix's VM config first (Phase 1)",
    );
  if (problems.hasErrors()) return { ok: false, problems: problems.items };
  const ipOfVm = (vmid: number) => parseCidr(world.vms.get(vmid)?.entry.network_config?.ip ?? '')?.ip;
  const primary = vms.find(([, v]) => v.entry.portainer_role === 'primary')?.[0];
  const agent = vms.find(([, v]) => v.entry.portainer_role === 'agent')?.[0];
  const composeDestinations = vms.flatMap(([, v]) => (v.entry.docker_compose_files ?? []).map((c) => c.destination));

  // ── the Proxmox host: the NFS server of the VMs' volumes ───────────────────────────────────────────────────
  const hypervisor = readJson(path.join(dir, CHECKOUT.hypervisorConfig), notes);
  const nfsServer = vms.flatMap(([, v]) => v.entry.volumes ?? []).find((v) => v.server)?.server;
  const hostIp = nfsServer ?? ask('proxmox.apiUrl / proxmoxHost.host', "the Proxmox host's address");
  if (nfsServer) notes.push(`Proxmox host ${nfsServer}: the NFS server of the VMs' volumes`);

  // ── the gateway: the site that routes to the legacy Qdrant ─────────────────────────────────────────────────
  const legacyIps = new Map<string, number>();
  for (const id of opts.legacy) {
    const ip = parseCidr(world.containers.get(id)?.entry.network_config?.ip ?? '')?.ip;
    if (ip) legacyIps.set(ip, id);
  }
  const sites = siteCandidates(dir, world, notes);
  const routed = sites.flatMap((site) => {
    let upstreams;
    try {
      upstreams = readUpstreams(site.text);
    } catch {
      return [];
    }
    return upstreams
      .filter((u) => u.servers.some((s) => s.port === 6333 && (legacyIps.has(s.host) || /qdrant/i.test(u.name))))
      .map((u) => ({ site, upstream: u }));
  });
  const chosen = routed.find((r) => r.site.ctid !== undefined) ?? routed[0];
  const gatewayCtid =
    chosen?.site.ctid ??
    [...world.containers.values()].find((c) => /nginx|gateway/i.test(c.entry.name))?.ctid ??
    undefined;
  const gatewayIp =
    gatewayCtid !== undefined
      ? parseCidr(world.containers.get(gatewayCtid)?.entry.network_config?.ip ?? '')?.ip
      : undefined;
  if (chosen)
    notes.push(
      `upstream ${chosen.upstream.name} (${chosen.upstream.servers.map((s) => s.address).join(', ')}) found in ${chosen.site.source}`,
    );
  const legacyServer = chosen?.upstream.servers[0]?.address;
  const location = chosen ? qdrantLocation(chosen.site.text, chosen.upstream.name) : undefined;

  // ── the new Qdrant: on the Portainer agent VM, port 6333 ───────────────────────────────────────────────────
  const qdrantVm = agent ?? vms[vms.length - 1][0];
  const newIp = ipOfVm(qdrantVm);

  // ── legacy guests ──────────────────────────────────────────────────────────────────────────────────────────
  const legacyGuests = opts.legacy.map((ctid, i) => {
    const ct = world.containers.get(ctid);
    const at = `legacyGuests[${i}]`;
    if (!ct) {
      // The checkout no longer knows it: its name is read from the node at preflight and pinned for the run (the
      // decommission approval shows it), and one decision covers every volume mount point the node shows then.
      notes.push(
        `CT ${ctid} is not in ${CHECKOUT.lxcConfigs}: its name and volume mount points are read from the node at preflight and pinned for the run`,
      );
      return {
        ctid,
        volumes:
          opts.volumes ??
          ask(
            `${at}.volumes`,
            `CT ${ctid} is not in ${CHECKOUT.lxcConfigs}: "backup" or "discard" for every volume mount point \`pct config ${ctid}\` lists (or init --volumes backup|discard; per mount point: {"mp0": "backup"})`,
          ),
      };
    }
    const ip = parseCidr(ct.entry.network_config?.ip ?? '')?.ip;
    const volumes = volumeMountPoints(ct.entry as Record<string, unknown>);
    const decisions = Object.fromEntries(
      volumes.map((v) => [
        v.key,
        opts.volumes ??
          ask(`${at}.volumes.${v.key}`, `"backup" or "discard" for ${v.what} (or init --volumes backup|discard)`),
      ]),
    );
    return {
      ctid,
      name: ct.entry.name,
      ...(ip ? { ip } : {}),
      ...(volumes.length > 0 ? { volumes: decisions } : {}),
    };
  });

  // ── backups: Phoenix's own backup storage ──────────────────────────────────────────────────────────────────
  const storageIds = (hypervisor as { proxmox_storage_ids?: Record<string, unknown> } | undefined)?.proxmox_storage_ids;
  const backupStorage = Object.entries(storageIds ?? {}).find(
    ([k, v]) => /backup/i.test(k) && typeof v === 'string',
  )?.[1] as string | undefined;

  const plan: Record<string, unknown> = {
    name: 'qdrant-to-dr-phoenix',
    description: `Made by phoenix-migrate init from the Phoenix checkout ${dir}.`,
    phoenix: { dir },
    proxmox: {
      node: 'phoenix',
      apiUrl: nfsServer ? `https://${nfsServer}:8006` : hostIp,
      tls: { caFile: '/etc/phoenix-migrate/pve-root-ca.pem' },
      tokenId: 'root@pam!phoenix-migrate',
      tokenSecret: { env: 'PHOENIX_PVE_TOKEN_SECRET' },
      ...(world.vms.get(vms[0][0])?.entry.storage_pool
        ? { storage: world.vms.get(vms[0][0])?.entry.storage_pool }
        : {}),
    },
    proxmoxHost: { host: hostIp, hostKey: { knownHostsFile: '/etc/phoenix-migrate/known_hosts' } },
    cloudInit: { sshPublicKeyFileEnv: 'PHOENIX_SSH_PUBLIC_KEY_FILE' },
    vms: vms.map(([vmid]) => (opts.adopt.includes(vmid) ? { vmid, existing: 'adopt' } : vmid)),
    gateway: {
      ctid: gatewayCtid ?? ask('gateway.ctid', 'the CTID of the nginx gateway container'),
      access: { via: 'pct' },
      siteFile:
        chosen?.site.siteFile ??
        ask('gateway.siteFile', "the gateway's live site file (e.g. /etc/nginx/sites-available/vllm_gateway)"),
      upstream: chosen?.upstream.name ?? ask('gateway.upstream', 'the upstream that routes to the legacy Qdrant'),
      newServers: [newIp ? `${newIp}:6333` : ask('gateway.newServers[0]', 'the new Qdrant as HOST:PORT')],
    },
    qdrant: {
      gatewayUrl: gatewayIp
        ? `http://${gatewayIp}${location ?? '/qdrant'}`
        : ask('qdrant.gatewayUrl', 'Qdrant through the gateway, e.g. http://10.0.0.153/qdrant'),
      newUrl: newIp ? `http://${newIp}:6333` : ask('qdrant.newUrl', 'the new Qdrant, e.g. http://10.0.0.102:6333'),
      legacyUrl: legacyServer
        ? `http://${legacyServer}`
        : ask('qdrant.legacyUrl', 'the legacy Qdrant, e.g. http://10.0.0.152:6333'),
      expectedCollections: [],
      data: { mode: 'snapshot' },
    },
    legacyGuests,
    portainer: {
      mode: 'manual',
      tls: { insecure: true },
      ...(composeDestinations.length > 1
        ? {
            composeFile: ask(
              'portainer.composeFile',
              `which compose file the stack deploys: ${composeDestinations.join(', ')}`,
            ),
          }
        : {}),
    },
    backups: {
      enabled: true,
      storage:
        backupStorage ??
        ask('backups.storage', 'the Proxmox storage for the vzdump backups (no *backup* id in proxmox_storage_ids)'),
      mode: 'snapshot',
      compress: 'zstd',
    },
    approvals: { decommission: true },
  };
  if (backupStorage) notes.push(`backups to ${backupStorage} (${CHECKOUT.hypervisorConfig} proxmox_storage_ids)`);
  if (primary === undefined) notes.push('no VM has portainer_role "primary": set portainer.url by hand');
  review.push(
    'proxmox.node "phoenix": the hypervisor\'s hostname (no Phoenix config holds it; GET /nodes lists it)',
    'proxmox.tls caFile /etc/phoenix-migrate/pve-root-ca.pem and proxmoxHost.hostKey known_hosts: see docs/real-proxmox.md',
    'proxmox.tokenId root@pam!phoenix-migrate, its secret in PHOENIX_PVE_TOKEN_SECRET on the worker',
    "portainer.tls insecure (Portainer's self-signed default): pin its fingerprint once it runs",
  );
  return { ok: true, plan, todos, review, notes };
}

/** The gateway site's copies: heredocs in the LXC scripts first (what the CT serves), then committed files. */
function siteCandidates(dir: string, world: PhoenixWorld, notes: string[]): SiteCandidate[] {
  const out: SiteCandidate[] = [];
  for (const ct of world.containers.values()) {
    const script = path.join(dir, CHECKOUT.lxcScript(ct.ctid));
    let text: string;
    try {
      text = fs.readFileSync(script, 'utf8');
    } catch {
      continue;
    }
    const docs = findHeredocs(text);
    if (!docs.ok) {
      notes.push(`${path.relative(dir, script)}: ${docs.error}`);
      continue;
    }
    for (const d of docs.heredocs)
      if (d.target && /\/etc\/nginx\/sites-(available|enabled)\//.test(d.target))
        out.push({
          source: `${path.relative(dir, script)} (heredoc, line ${d.line})`,
          siteFile: d.target,
          text: d.body,
          ctid: ct.ctid,
        });
  }
  const available = path.join(dir, CHECKOUT.sitesAvailable);
  let names: string[] = [];
  try {
    names = fs
      .readdirSync(available)
      .filter((n) => !n.startsWith('.') && fs.statSync(path.join(available, n)).isFile());
  } catch {
    names = [];
  }
  for (const n of names.sort())
    out.push({
      source: path.join(CHECKOUT.sitesAvailable, n),
      siteFile: `/etc/nginx/sites-available/${n}`,
      text: fs.readFileSync(path.join(available, n), 'utf8'),
    });
  return out;
}

/** `location /qdrant/ { proxy_pass http://qdrant_service/; }` → `/qdrant` (the gateway URL's path). */
function qdrantLocation(site: string, upstream: string): string | undefined {
  const re = new RegExp(
    `location\\s+(/[^\\s{]*)\\s*\\{[^}]*proxy_pass\\s+https?://${upstream.replace(/[.]/g, '\\.')}/`,
  );
  const m = re.exec(site);
  return m ? m[1].replace(/\/+$/, '') : undefined;
}

/**
 * A CT's volume mount points as Phoenix creates them (`mp0`, `mp1`, … in the order of `mount_points`, `volumes`,
 * `zfs_volumes`); only storage volumes (with a `pool`) need a decision — bind mounts are neither backed up nor
 * destroyed. The live config is the truth: preflight compares.
 */
function volumeMountPoints(entry: Record<string, unknown>): { key: string; what: string }[] {
  const out: { key: string; what: string }[] = [];
  let index = 0;
  for (const field of ['mount_points', 'volumes', 'zfs_volumes']) {
    const list = entry[field];
    if (!Array.isArray(list)) continue;
    for (const v of list as Record<string, unknown>[]) {
      const key = `mp${index++}`;
      if (typeof v?.pool === 'string')
        out.push({
          key,
          what: `volume ${String(v.name ?? key)} (${v.pool}${v.size_gb ? `, ${String(v.size_gb)} GB` : ''}) at ${String(v.mount_point ?? '?')}`,
        });
    }
  }
  return out;
}

function readJson(file: string, notes: string[]): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    notes.push(`${path.basename(file)} not read (${(err as NodeJS.ErrnoException).code ?? 'not JSON'})`);
    return undefined;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
