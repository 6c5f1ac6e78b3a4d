/**
 * Plan file → ResolvedPlan + digest, or every problem found. Reads the plan, Phoenix's two config files, the compose
 * files and public keys; never reads a secret (secrets stay references for the worker to resolve).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { durationProblems } from '../timeouts';
import type {
  GatewaySettings,
  LegacyGuest,
  PhoenixSources,
  PortainerSettings,
  QdrantSettings,
  ResolvedPlan,
  SshEndpoint,
  VmSpec,
  ComposeFile,
} from './resolved-plan';
import { planDigest } from './digest';
import { findInlineSecrets } from './inline-secrets';
import { isCleanAbsolutePath, isSafeRemotePath, parseHostPort } from './net';
import {
  checkPhoenixWorld,
  guestDependencies,
  isTemplate,
  loadPhoenixWorld,
  MAX_VMID,
  MIN_VMID,
  type PhoenixWorld,
} from './phoenix';
import { phoenixFiles, type PhoenixFiles } from './phoenix-dir';
import { gatewaySources, staleSources } from '../sources/gateway-sources';
import { planFileSchema, type PlanFile } from './plan-schema';
import { TODO_PREFIX } from './init-plan';
import { addZodIssues, displayPath, jsonPath, ProblemList, type PathPart, type Problem } from './problems';
import { lenientParse } from './lenient';
import { readJsonFile } from './read-file';
import { optional, resolveVms } from './resolve-vms';

export type ResolveResult =
  { ok: true; plan: ResolvedPlan; digest: string; warnings: Problem[] } | { ok: false; problems: Problem[] };

export interface ResolveOptions {
  /** A Phoenix checkout on this machine, overriding the plan's `phoenix.dir` (`--phoenix-dir`). */
  phoenixDir?: string;
  /** Where `sshPublicKeyFileEnv` is looked up (default: process.env). Only public-key paths are read from it. */
  env?: NodeJS.ProcessEnv;
}

export function loadAndResolvePlan(planPath: string, options: ResolveOptions = {}): ResolveResult {
  const problems = new ProblemList();
  const raw = readJsonFile(planPath, problems);
  if (!raw) return { ok: false, problems: problems.items };
  const secretPaths = findInlineSecrets(raw.value, planPath, problems);
  const todoPaths = findTodos(raw.value, planPath, problems);
  const parsed = planFileSchema.safeParse(raw.value);
  if (!parsed.success || todoPaths.size > 0) {
    if (!parsed.success)
      addZodIssues(problems, planPath, parsed.error.issues, [], new Set([...secretPaths, ...todoPaths]));
    // Every problem at once: the cross-checks run on the parts of the plan that are valid.
    const partial = (parsed.success ? parsed.data : lenientParse(planFileSchema, raw.value)) as
      Partial<PlanFile> | undefined;
    if (partial?.phoenix) crossCheckPartialPlan(planPath, partial, problems, options);
    else checkPhoenixFilesAnyway(planPath, raw.value, problems, options.phoenixDir);
    return { ok: false, problems: problems.items };
  }
  return resolveParsedPlan(planPath, parsed.data, problems, options);
}

/**
 * The cross-checks over a plan that failed its schema. A check that needs a part of the plan that is missing (it was
 * invalid, and reported above) stops at the first thing it lacks; the rest run, and their findings are kept.
 */
function crossCheckPartialPlan(
  planPath: string,
  partial: Partial<PlanFile>,
  problems: ProblemList,
  options: ResolveOptions,
): void {
  const plan = {
    ...partial,
    proxmox: partial.proxmox ?? {},
    gateway: partial.gateway ?? {},
    qdrant: partial.qdrant ?? {},
    portainer: partial.portainer ?? {},
    cloudInit: partial.cloudInit ?? {},
    vms: partial.vms ?? [],
    legacyGuests: partial.legacyGuests ?? [],
  } as PlanFile;
  try {
    resolveParsedPlan(planPath, plan, problems, options, true);
  } catch (err) {
    if ((err as Error)?.name !== 'TypeError') throw err;
  }
}

function resolveParsedPlan(
  planPath: string,
  plan: PlanFile,
  problems: ProblemList,
  options: ResolveOptions,
  partial = false,
): ResolveResult {
  /** In a partial plan a check that trips over a missing part is skipped; the others still run. */
  const check = <T>(fn: () => T, fallback: T): T => {
    if (!partial) return fn();
    try {
      return fn();
    } catch (err) {
      if ((err as Error)?.name === 'TypeError') return fallback;
      throw err;
    }
  };
  const files = phoenixFiles(plan.phoenix, path.dirname(planPath), options.phoenixDir);
  if (!files || !checkPhoenixDir(planPath, files, options.phoenixDir !== undefined, problems))
    return { ok: false, problems: problems.items };
  const world = loadPhoenixWorld(
    files.vmConfigs,
    files.lxcConfigs,
    problems,
    phoenixFilesNamedBy(planPath, plan.phoenix),
  );
  if (!world) return { ok: false, problems: problems.items };
  if (files.dir !== undefined) world.phoenixDir = files.dir;
  else if (plan.sources?.write)
    problems.error(
      planPath,
      ['sources', 'write'],
      'sources.write needs the Phoenix checkout whose sources the run rewrites, and the plan names none',
      "set phoenix.dir (the checkout on the worker's machine), or remove sources.write",
    );
  const compose = checkPhoenixWorld(world, problems, new Set(plan.vms.map((v) => v.vmid)));

  const legacyGuests = check(() => resolveLegacyGuests(planPath, plan, world, problems), []);
  const gatewayBase = check(() => resolveGatewayGuest(planPath, plan, world, problems), undefined);
  const reserved = new Map<number, string>();
  for (const g of legacyGuests) reserved.set(g.ctid, `legacy guest ${g.ctid}`);
  if (plan.gateway.ctid !== undefined) reserved.set(plan.gateway.ctid, `gateway CT ${plan.gateway.ctid}`);
  for (const [id, vm] of world.vms) if (vm.entry.is_template) reserved.set(id, `template ${id}`);
  for (const [, vm] of world.vms) {
    const from = vm.entry.clone_from_vmid;
    if (from !== undefined && !reserved.has(from)) reserved.set(from, `template ${from}`);
  }
  const { vms, composeFiles } = check(
    () =>
      resolveVms({
        planFile: planPath,
        plan,
        world,
        compose,
        reserved,
        problems,
        env: options.env ?? process.env,
      }),
    { vms: [], composeFiles: [] },
  );
  const gateway = check(
    () => (gatewayBase ? resolveGateway(planPath, plan, gatewayBase, problems) : undefined),
    undefined,
  );
  const portainer = check(() => resolvePortainer(planPath, plan, world, vms, composeFiles, problems), undefined);
  check(() => crossCheckUrls(planPath, plan, vms, legacyGuests, gateway, problems), undefined);
  if (plan.provisioner === 'native') {
    for (const vm of vms)
      vm.volumes.forEach((v) => {
        if (v.server === undefined)
          problems.error(
            world.vmFile,
            ['vms', world.vms.get(vm.vmid)?.index ?? 0, 'volumes'],
            `VM ${vm.vmid}: NFS volume ${v.mountPoint} has no "server": the native provisioner cannot write its fstab line`,
            'set "server" to the NFS server (the Proxmox host, e.g. "10.0.0.13"), or use provisioner "none"',
          );
      });
  }
  warnAboutDependents(world, legacyGuests, problems);
  // Durations the run cannot honour, whatever its activity timeouts (those are sized from the plan: src/timeouts.ts).
  const gatewayViaSsh = plan.gateway.access.via === 'ssh';
  for (const d of durationProblems({
    verifyBudgetMs: plan.durations.verifyBudget,
    gatewaySsh: plan.gateway.access.via === 'ssh' ? plan.gateway.access.ssh : plan.proxmoxHost,
    gatewaySshPath: gatewayViaSsh ? ['gateway', 'access', 'ssh'] : ['proxmoxHost'],
  }))
    problems.error(planPath, d.path, d.message, d.hint);

  if (partial || problems.hasErrors() || !gateway || !portainer || vms.length === 0)
    return { ok: false, problems: problems.items };
  const qdrant = resolveQdrant(plan);
  const resolved: ResolvedPlan = {
    schemaVersion: 1,
    name: plan.name,
    ...optional('description', plan.description),
    proxmox: {
      node: plan.proxmox.node,
      apiUrl: plan.proxmox.apiUrl.replace(/\/+$/, ''),
      tls: plan.proxmox.tls,
      tokenId: plan.proxmox.tokenId,
      tokenSecret: plan.proxmox.tokenSecret,
      ownerTag: plan.proxmox.ownerTag,
      requestTimeoutMs: plan.proxmox.requestTimeoutMs,
    },
    proxmoxHost: sshEndpoint(plan.proxmoxHost),
    templateVmid: vms[0].cloneFrom,
    vms,
    provisioning: {
      provisioner: plan.provisioner,
      phoenixCommand: plan.provisioning.phoenixCommand,
      phoenixVmConfig: plan.provisioning.phoenixVmConfig,
      images: plan.provisioning.images,
      ...optional('portainerAdmin', plan.provisioning.portainerAdmin),
    },
    composeFiles,
    gateway,
    qdrant,
    legacyGuests,
    guestDependencies: guestDependencies(world),
    portainer,
    backups: plan.backups,
    approvals: plan.approvals,
    timings: {
      remindEveryMs: plan.durations.remindEvery,
      deployTimeoutMs: plan.durations.deployTimeout,
      readinessRecheckMs: plan.durations.readinessRecheck,
      readinessTimeoutMs: plan.durations.readinessTimeout ?? plan.durations.deployTimeout,
      verifyBudgetMs: plan.durations.verifyBudget,
      soakMs: plan.durations.soak,
      soakProbeEveryMs: plan.durations.soakProbeEvery,
      shutdownTimeoutMs: plan.durations.shutdownTimeout,
    },
    ...optional('notify', plan.notify),
    ...optional(
      'phoenixSources',
      files.dir !== undefined
        ? {
            ...checkPhoenixSources(planPath, files.dir, gateway, problems),
            ...(plan.sources?.write ? { write: true } : {}),
          }
        : undefined,
    ),
  };
  return { ok: true, plan: resolved, digest: planDigest(resolved), warnings: problems.warnings };
}

/**
 * Phoenix's copies of the gateway site in the checkout: after the cutover, the next converge of the gateway CT
 * rewrites its site from them, so a copy still routing the upstream to the old servers would revert the cutover.
 */
function checkPhoenixSources(
  planPath: string,
  dir: string,
  gateway: GatewaySettings,
  problems: ProblemList,
): PhoenixSources {
  const found = gatewaySources(dir, gateway);
  const stale = staleSources(found, gateway.newServers);
  const command = `phoenix-migrate sources --plan ${displayPath(planPath)}`;
  for (const s of stale)
    problems.warning(
      s.file,
      [],
      `line ${s.line} (${s.kind}) routes ${gateway.upstream} to ${s.servers.join(', ')}: the next converge of CT ${gateway.ctid} would revert the cutover`,
      `after the run, \`${command} --write\` (it shows the change first without --write)`,
    );
  for (const e of found.errors)
    problems.warning(
      planPath,
      ['phoenix', 'dir'],
      `Phoenix's gateway sources cannot be rewritten: ${e}`,
      'fix that file by hand first',
    );
  return {
    dir,
    stale: stale.map((s) => ({ file: s.relative, kind: s.kind, line: s.line, servers: s.servers })),
    current: found.sources.filter((s) => !stale.includes(s)).map((s) => s.relative),
    problems: found.errors,
  };
}

/** When the plan itself is malformed we still check the Phoenix files it names, so one run shows every problem. */
function checkPhoenixFilesAnyway(
  planPath: string,
  raw: unknown,
  problems: ProblemList,
  phoenixDirOverride: string | undefined,
): void {
  const phoenix = (raw as { phoenix?: Record<string, unknown> } | null)?.phoenix;
  if (typeof phoenix !== 'object' || phoenix === null) return;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const section = { dir: text(phoenix.dir), vmConfigs: text(phoenix.vmConfigs), lxcConfigs: text(phoenix.lxcConfigs) };
  const files = phoenixFiles(section, path.dirname(planPath), phoenixDirOverride);
  if (!files || !checkPhoenixDir(planPath, files, phoenixDirOverride !== undefined, problems)) return;
  const world = loadPhoenixWorld(files.vmConfigs, files.lxcConfigs, problems, phoenixFilesNamedBy(planPath, section));
  if (world && files.dir !== undefined) world.phoenixDir = files.dir;
  const vms = (raw as { vms?: unknown }).vms;
  const ids = Array.isArray(vms)
    ? vms
        .map((v) => (typeof v === 'number' ? v : (v as { vmid?: unknown })?.vmid))
        .filter((v): v is number => typeof v === 'number')
    : [];
  if (world) checkPhoenixWorld(world, problems, new Set(ids));
}

/** `"TODO: …"` values `init` left for the operator: each one an error at its path, so validate names exactly those. */
function findTodos(value: unknown, planPath: string, problems: ProblemList): Set<string> {
  const found = new Set<string>();
  const walk = (v: unknown, at: PathPart[]) => {
    if (typeof v === 'string' && v.startsWith(TODO_PREFIX)) {
      problems.error(
        planPath,
        at,
        `left to decide: ${v.slice(TODO_PREFIX.length).trim()}`,
        'replace the "TODO: …" text with the value',
      );
      found.add(jsonPath(at));
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(value, []);
  return found;
}

/** Where a missing Phoenix file is reported: at the plan field that names it, or at `phoenix.dir` it defaults from. */
function phoenixFilesNamedBy(planPath: string, section: { vmConfigs?: string; lxcConfigs?: string }) {
  const at = (key: 'vmConfigs' | 'lxcConfigs') => ['phoenix', section[key] !== undefined ? key : 'dir'];
  return { file: planPath, vmAt: at('vmConfigs'), lxcAt: at('lxcConfigs') };
}

/** The checkout must be a directory: say so once, instead of two "file does not exist" problems. */
function checkPhoenixDir(planPath: string, files: PhoenixFiles, fromFlag: boolean, problems: ProblemList): boolean {
  if (files.dir === undefined) return true;
  let isDir = false;
  try {
    isDir = fs.statSync(files.dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir) return true;
  problems.error(
    fromFlag ? files.dir : planPath,
    fromFlag ? [] : ['phoenix', 'dir'],
    `the Phoenix checkout ${files.dir} is not a directory`,
    fromFlag
      ? 'pass --phoenix-dir the copy of /usr/local/phoenix_hypervisor (the directory holding etc/ and bin/)'
      : "point phoenix.dir at the copy of /usr/local/phoenix_hypervisor (relative to the plan file's directory)",
  );
  return false;
}

function sshEndpoint(s: PlanFile['proxmoxHost']): SshEndpoint {
  return {
    host: s.host,
    port: s.port,
    user: s.user,
    hostKey: {
      ...optional('fingerprint', s.hostKey.fingerprint),
      ...optional('knownHostsFile', s.hostKey.knownHostsFile),
    },
    privateKeyPathEnv: s.privateKeyPathEnv,
    ...optional('passphraseEnv', s.passphraseEnv),
    connectTimeoutMs: s.connectTimeoutMs,
    commandTimeoutMs: s.commandTimeoutMs,
  };
}

function checkGuestId(planFile: string, at: (string | number)[], id: number, problems: ProblemList): boolean {
  if (typeof id !== 'number') return false; // a partial plan: the schema error is already reported
  if (id >= MIN_VMID && id <= MAX_VMID) return true;
  problems.error(
    planFile,
    at,
    `guest id ${id} is outside ${MIN_VMID}..${MAX_VMID}`,
    'Proxmox only accepts guest ids in that range',
  );
  return false;
}

function resolveLegacyGuests(
  planFile: string,
  plan: PlanFile,
  world: PhoenixWorld,
  problems: ProblemList,
): LegacyGuest[] {
  const out: LegacyGuest[] = [];
  plan.legacyGuests.forEach((entry, i) => {
    const at = ['legacyGuests', i];
    if (!checkGuestId(planFile, [...at], entry.ctid, problems)) return;
    if (out.some((g) => g.ctid === entry.ctid)) {
      problems.error(planFile, at, `legacy guest ${entry.ctid} is listed twice`, 'list each guest once');
      return;
    }
    if (entry.ctid === plan.gateway.ctid) {
      problems.error(
        planFile,
        at,
        `legacy guest ${entry.ctid} is the gateway`,
        'the gateway is kept; remove it from legacyGuests or fix gateway.ctid',
      );
      return;
    }
    if (world.vms.has(entry.ctid)) {
      problems.error(
        planFile,
        at,
        `legacy guest ${entry.ctid} is a VM in ${path.basename(world.vmFile)}${isTemplate(world, entry.ctid) ? ' (the template)' : ''}`,
        'legacy guests are the containers being retired: fix the ctid',
      );
      return;
    }
    const ct = world.containers.get(entry.ctid);
    const name = entry.name ?? ct?.entry.name;
    if (ct && entry.name !== undefined && entry.name !== ct.entry.name) {
      problems.warning(
        planFile,
        [...at, 'name'],
        `legacy guest ${entry.ctid} is named "${entry.name}" here but "${ct.entry.name}" in the LXC config`,
        'make them agree; the name is checked against live state',
      );
    }
    const ip = ct?.entry.network_config?.ip;
    const address = entry.ip ?? (ip && ip !== 'dhcp' ? ip.split('/')[0] : undefined);
    out.push({
      ctid: entry.ctid,
      ...optional('name', name),
      node: entry.node ?? plan.proxmox.node,
      ...optional('ip', address),
      ...(typeof entry.volumes === 'string'
        ? { allVolumes: entry.volumes }
        : Object.keys(entry.volumes).length
          ? { volumes: entry.volumes }
          : {}),
    });
  });
  return out;
}

type GatewayGuest = Pick<GatewaySettings, 'ctid' | 'name' | 'ip'>;

function resolveGatewayGuest(
  planFile: string,
  plan: PlanFile,
  world: PhoenixWorld,
  problems: ProblemList,
): GatewayGuest | undefined {
  const ctid = plan.gateway.ctid;
  if (!checkGuestId(planFile, ['gateway', 'ctid'], ctid, problems)) return undefined;
  const ct = world.containers.get(ctid);
  if (!ct) {
    problems.error(
      planFile,
      ['gateway', 'ctid'],
      `gateway CT ${ctid} is not in ${path.basename(world.lxcFile)}`,
      'use the CTID of the nginx gateway container (e.g. 101)',
    );
    return undefined;
  }
  const ip = ct.entry.network_config?.ip;
  const address = ip && ip !== 'dhcp' ? ip.split('/')[0] : undefined;
  if (!address) {
    problems.error(
      world.lxcFile,
      ['lxc_configs', ct.key, 'network_config', 'ip'],
      `gateway CT ${ctid} has no static address`,
      'give it a static "ip" in CIDR form',
    );
    return undefined;
  }
  return { ctid, name: ct.entry.name, ip: address };
}

function resolveGateway(
  planFile: string,
  plan: PlanFile,
  guest: GatewayGuest,
  problems: ProblemList,
): GatewaySettings | undefined {
  const g = plan.gateway;
  let ok = true;
  for (const field of ['siteFile', 'backupDir', 'lockFile', 'pidFile', 'errorLog'] as const) {
    const value = g[field];
    if (!isCleanAbsolutePath(value)) {
      problems.error(
        planFile,
        ['gateway', field],
        `gateway.${field} "${value}" must be a clean absolute path`,
        'start it with "/" and leave out "." and ".." segments and doubled slashes, e.g. "/etc/nginx/sites-available/default"',
      );
      ok = false;
    } else if (!isSafeRemotePath(value)) {
      problems.error(
        planFile,
        ['gateway', field],
        `gateway.${field} "${value}" has characters outside [A-Za-z0-9._/@:+-]`,
        'it reaches a shell on the gateway: remove spaces and shell metacharacters',
      );
      ok = false;
    }
  }
  if (ok && /^\/etc\/nginx(\/|$)/.test(g.backupDir)) {
    problems.warning(
      planFile,
      ['gateway', 'backupDir'],
      `backups in ${g.backupDir} may be included by nginx`,
      'keep them outside /etc/nginx, e.g. /var/backups/phoenix-migrate',
    );
  }
  const newServers = g.newServers ?? [hostPortOf(plan.qdrant.newUrl)];
  newServers.forEach((server, i) => {
    const hp = parseHostPort(server);
    const at = g.newServers ? ['gateway', 'newServers', i] : ['qdrant', 'newUrl'];
    if (!hp) {
      problems.error(
        planFile,
        at,
        `"${server}" is not HOST:PORT with a port in 1..65535`,
        'write it like "10.0.0.102:6333"',
      );
      ok = false;
    } else if (!hp.isIp) {
      problems.warning(
        planFile,
        at,
        `"${server}" is a host name: nginx resolves it only at reload and fails the reload if it cannot`,
        'prefer an IP literal',
      );
    }
  });
  if (!ok) return undefined;
  return {
    ...guest,
    access: g.access.via === 'pct' ? { via: 'pct' } : { via: 'ssh', ssh: sshEndpoint(g.access.ssh) },
    siteFile: g.siteFile,
    upstream: g.upstream,
    newServers,
    nginxCommand: g.nginxCommand,
    backupDir: g.backupDir,
    lockFile: g.lockFile,
    pidFile: g.pidFile,
    errorLog: g.errorLog,
  };
}

function hostPortOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

function resolveQdrant(plan: PlanFile): QdrantSettings {
  const q = plan.qdrant;
  const strip = (u: string) => u.replace(/\/+$/, '');
  return {
    gatewayUrl: strip(q.gatewayUrl),
    newUrl: strip(q.newUrl),
    legacyUrl: strip(q.legacyUrl),
    ...optional('apiKey', q.apiKey),
    expectedCollections: q.expectedCollections.map((c) => ({ name: c.name, ...optional('minCount', c.minCount) })),
    data: q.data,
  };
}

function resolvePortainer(
  planFile: string,
  plan: PlanFile,
  world: PhoenixWorld,
  vms: VmSpec[],
  composeFiles: ComposeFile[],
  problems: ProblemList,
): PortainerSettings | undefined {
  const p = plan.portainer;
  const byRole = (role: 'primary' | 'agent') =>
    vms.find((v) => v.portainerRole === role)?.ip ??
    [...world.vms.values()]
      .find((v) => v.entry.portainer_role === role && v.entry.network_config?.ip !== 'dhcp')
      ?.entry.network_config?.ip.split('/')[0];
  const url = p.url ?? (byRole('primary') ? `https://${byRole('primary')}:9443` : undefined);
  const agentUrl = p.agentUrl ?? (byRole('agent') ? `tcp://${byRole('agent')}:9001` : undefined);
  let ok = true;
  if (!url) {
    problems.error(
      planFile,
      ['portainer', 'url'],
      'no Portainer URL, and no VM with portainer_role "primary" to derive it from',
      'set portainer.url, e.g. "https://10.0.0.101:9443"',
    );
    ok = false;
  }
  if (!agentUrl) {
    problems.error(
      planFile,
      ['portainer', 'agentUrl'],
      'no agent URL, and no VM with portainer_role "agent" to derive it from',
      'set portainer.agentUrl, e.g. "tcp://10.0.0.102:9001"',
    );
    ok = false;
  }
  if (!p.tls) {
    problems.error(
      planFile,
      ['portainer', 'tls'],
      "how to trust Portainer's certificate is not set",
      'add {"caFile": …}, {"fingerprint": …}, or (Portainer\'s self-signed default) {"insecure": true}',
    );
    ok = false;
  } else if (p.mode === 'api' && p.tls.mode === 'insecure') {
    problems.warning(
      planFile,
      ['portainer', 'tls'],
      'Portainer API calls (with credentials) will not verify the server certificate',
      'pin its fingerprint once VM 1001 runs: {"fingerprint": "AB:CD:…"}',
    );
  }
  if (p.mode === 'api') {
    const c = p.credentials;
    if (!c || !(c.apiKey || (c.username && c.password))) {
      problems.error(
        planFile,
        ['portainer', 'credentials'],
        'mode "api" needs credentials',
        'set credentials.apiKey (preferred) or credentials.username and credentials.password, each as {"env": …} or {"file": …}',
      );
      ok = false;
    }
  }
  let composeFileIndex = -1;
  if (p.composeFile !== undefined) {
    composeFileIndex = composeFiles.findIndex((c) => c.destination === p.composeFile);
    if (composeFileIndex < 0) {
      problems.error(
        planFile,
        ['portainer', 'composeFile'],
        `no compose file of the VMs to create has destination "${p.composeFile}"`,
        `use one of: ${composeFiles.map((c) => JSON.stringify(c.destination)).join(', ') || '(none: add docker_compose_files to a VM)'}`,
      );
      ok = false;
    }
  } else if (composeFiles.length === 1) {
    composeFileIndex = 0;
  } else if (vms.length > 0) {
    problems.error(
      planFile,
      ['portainer', 'composeFile'],
      composeFiles.length === 0
        ? 'none of the VMs to create carries a compose file for the stack'
        : 'several compose files exist: which one does the stack deploy?',
      composeFiles.length === 0
        ? 'add docker_compose_files to the Portainer VM in the VM config'
        : `set portainer.composeFile to one of: ${composeFiles.map((c) => JSON.stringify(c.destination)).join(', ')}`,
    );
    ok = false;
  }
  if (!ok || !url || !agentUrl || !p.tls) return undefined;
  return {
    mode: p.mode,
    url: url.replace(/\/+$/, ''),
    tls: p.tls,
    environmentName: p.environmentName,
    agentUrl,
    stackName: p.stackName,
    composeFileIndex,
    ...optional('credentials', p.credentials),
    allowStackUpdate: p.allowStackUpdate,
  };
}

/** URLs that point somewhere other than the guests the plan names are likely copy-paste mistakes. */
function crossCheckUrls(
  planFile: string,
  plan: PlanFile,
  vms: VmSpec[],
  legacy: LegacyGuest[],
  gateway: GatewaySettings | undefined,
  problems: ProblemList,
): void {
  const host = (u: string) => new URL(u).hostname;
  const vmIps = new Set(vms.map((v) => v.ip));
  // Qdrant runs where Portainer deploys the stack: the agent VM (the primary VM runs Portainer itself).
  const qdrantVms = vms.filter((v) => v.portainerRole !== 'primary');
  const qdrantIps = (qdrantVms.length > 0 ? qdrantVms : vms).map((v) => `${v.ip} (VM ${v.vmid} ${v.name})`).join(', ');
  if (vms.length > 0 && !vmIps.has(host(plan.qdrant.newUrl))) {
    problems.warning(
      planFile,
      ['qdrant', 'newUrl'],
      `newUrl host ${host(plan.qdrant.newUrl)} is not the address of a VM this plan creates`,
      `use the new Qdrant VM's address: ${qdrantIps}`,
    );
  }
  if (gateway && host(plan.qdrant.gatewayUrl) !== gateway.ip) {
    problems.warning(
      planFile,
      ['qdrant', 'gatewayUrl'],
      `gatewayUrl host ${host(plan.qdrant.gatewayUrl)} is not the gateway CT's address ${gateway.ip}`,
      'verification must go through the gateway being changed',
    );
  }
  const legacyIps = legacy.map((g) => g.ip).filter((ip): ip is string => ip !== undefined);
  if (legacyIps.length > 0 && !legacyIps.includes(host(plan.qdrant.legacyUrl))) {
    problems.warning(
      planFile,
      ['qdrant', 'legacyUrl'],
      `legacyUrl host ${host(plan.qdrant.legacyUrl)} is not the address of a legacy guest`,
      'point it at the legacy Qdrant (e.g. CT 952)',
    );
  }
  if (gateway && vms.length > 0) {
    gateway.newServers.forEach((s, i) => {
      const h = parseHostPort(s)?.host;
      if (h && !vmIps.has(h)) {
        problems.warning(
          planFile,
          plan.gateway.newServers ? ['gateway', 'newServers', i] : ['qdrant', 'newUrl'],
          `new upstream server ${s} is not on a VM this plan creates`,
          `point it at the new Qdrant VM: ${qdrantIps}`,
        );
      }
    });
  }
  if (plan.qdrant.data.mode === 'reindex' && plan.qdrant.expectedCollections.length === 0) {
    problems.warning(
      planFile,
      ['qdrant', 'expectedCollections'],
      'data mode "reindex" with no expected collections: nothing will be waited for',
      'list the collections the new instance must hold',
    );
  }
}

/** A guest that stays but depends on a guest being retired will break when it goes. */
function warnAboutDependents(world: PhoenixWorld, legacy: LegacyGuest[], problems: ProblemList): void {
  const retiring = new Set(legacy.map((g) => g.ctid));
  for (const [id, ct] of world.containers) {
    if (retiring.has(id)) continue;
    (ct.entry.dependencies ?? []).forEach((dep, i) => {
      if (retiring.has(Number(dep))) {
        problems.warning(
          world.lxcFile,
          ['lxc_configs', ct.key, 'dependencies', i],
          `CT ${id} depends on ${dep}, which this plan decommissions`,
          'move that dependency to the new VM first, or keep the legacy guest',
        );
      }
    });
  }
}
