/**
 * The benchmark's fleet: N migrations at once against ONE lab world's shared infrastructure — one Proxmox simulator
 * (each tenant gets its own vmids and legacy CTs in it), one real sshd, one real nginx gateway whose site file holds
 * every tenant's upstream and location, one Portainer simulator (a stack per tenant) — plus, per tenant, its own
 * legacy and new Qdrant simulators on their own loopback addresses. One worker process runs all of them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { ResolvedPlan } from '../config/resolved-plan';
import { request } from 'undici';
import { dispatcherFor } from '../http/tls';
import { parseUpstreamBlocks, type Block } from '../nginx/tokens';
import { PortainerClient } from '../portainer/client';
import { startQdrantSim, type QdrantSim } from '../lab/qdrant-sim';
import type { World } from '../lab/world';
import { HOMELAB_CONTAINERS, HOMELAB_STORAGE } from '../lab/homelab';
import type { SimGuestSeed } from '../lab/proxmox-sim';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate } from '../workflows/messages';
import { memoWaitingFor, queryStatus } from '../temporal/status-query';
import { endsByItself, type WaitingFor } from '../workflows/status';
import { sleep, type PersonAnswer } from './harness';
import { startMigration } from '../temporal/start';

export interface Tenant {
  index: number;
  plan: ResolvedPlan;
  legacy: QdrantSim;
  fresh: QdrantSim;
}

const vmidOf = (k: number, vmid: number) => 10_000 + k * 10 + (vmid % 10);
const ctidOf = (k: number, ctid: number) => 20_000 + k * 10 + (ctid % 10);
/** Tenant k lives on 127.1.k.* (legacy CTs) and 127.2.k.* (new VMs): distinct addresses keep dependency scans apart. */
const legacyIp = (k: number, ip: string) => ip.replace(/^127\.0\.0\./, `127.1.${k}.`);
const vmIp = (k: number, ip: string) => ip.replace(/^127\.0\.0\./, `127.2.${k}.`);

/** A VM the plan adopts, as the world had it before any run changed it (see existingVms). */
export interface ExistingVm {
  vmid: number;
  status: 'running' | 'stopped';
  config: Record<string, string | number>;
  image?: SimGuestSeed['image'];
}

/**
 * The VMs the world's plan adopts (1001 "Dr-Phoenix": running, Docker and the Portainer server in it, a 13.5 G disk),
 * as they are now: call it before the first run, which converges them. addTenants gives each tenant its own copy, so
 * a tenant adopts its *1 VM and clones only its *2, like the single run — not two clones.
 */
export function existingVms(world: World): ExistingVm[] {
  return world.plan.vms.flatMap((vm) => {
    const g = vm.adopt ? world.proxmox.guest(vm.vmid) : undefined;
    return g ? [structuredClone({ vmid: g.vmid, status: g.status, config: g.config, image: g.image })] : [];
  });
}

/**
 * Tenants `first` … `first + count - 1` (a second fleet on the same world takes the next indices). With `existing`
 * (from existingVms), each tenant's adopted VM exists before its run; without, the tenant clones it.
 */
export async function addTenants(
  world: World,
  count: number,
  first = 0,
  existing: ExistingVm[] = [],
): Promise<Tenant[]> {
  const base = world.plan;
  const tenants: Tenant[] = [];
  const legacyQdrantIp = new URL(base.qdrant.legacyUrl).hostname;
  const newQdrantIp = new URL(base.qdrant.newUrl).hostname;
  for (let k = first; k < first + count; k++) {
    const legacy = await startQdrantSim({
      host: legacyIp(k, legacyQdrantIp),
      ready: 'ready',
      collections: world.legacyQdrant.collections().map((c) => ({ name: c.name, points: c.count })),
    });
    const fresh = await startQdrantSim({ host: vmIp(k, newQdrantIp), ready: 'down' });
    const plan = structuredClone(base);
    const ctMap = new Map(base.legacyGuests.map((g) => [g.ctid, ctidOf(k, g.ctid)]));
    plan.name = `fleet-t${k}`;
    plan.vms = base.vms.map((vm) => ({
      ...vm,
      vmid: vmidOf(k, vm.vmid),
      name: `${vm.name}-t${k}`,
      ip: vmIp(k, vm.ip),
      ipconfig0: vm.ipconfig0.replace(/127\.0\.0\./g, `127.2.${k}.`),
    }));
    plan.composeFiles = base.composeFiles.map((f) => ({
      ...f,
      vmid: vmidOf(k, f.vmid),
      hostPath: path.join(path.dirname(f.hostPath), `t${k}`, path.basename(f.hostPath)),
    }));
    plan.legacyGuests = base.legacyGuests.map((g) => ({
      ...g,
      ctid: ctMap.get(g.ctid) ?? g.ctid,
      // A plan may leave a legacy CT nameless (preflight pins what the node shows): then the tenant's stays so too.
      name: g.name === undefined ? undefined : `${g.name}-t${k}`,
      ip: g.ip ? legacyIp(k, g.ip) : g.ip,
    }));
    plan.guestDependencies = Object.fromEntries(
      Object.entries(base.guestDependencies).map(([ct, deps]) => [
        String(ctMap.get(Number(ct)) ?? ct),
        deps.map((d) => ctMap.get(d) ?? d),
      ]),
    );
    plan.gateway = { ...base.gateway, upstream: `qdrant_t${k}`, newServers: [`${fresh.host}:${fresh.port}`] };
    plan.qdrant = {
      ...base.qdrant,
      gatewayUrl: base.qdrant.gatewayUrl.replace(/\/qdrant$/, `/qdrant-t${k}`),
      newUrl: fresh.url,
      legacyUrl: legacy.url,
    };
    plan.portainer = { ...base.portainer, stackName: `qdrant-t${k}` };
    // The tenant's legacy CTs as the homelab has them (src/lab/homelab.ts: rootfs, volume mount points that the
    // plan's `volumes` decide, net0) under the tenant's ctids and addresses; a CT the homelab no longer has (953) is
    // absent for the tenant too, as in the single run.
    world.proxmox.addWorld({
      node: base.proxmox.node,
      // Each tenant stands for a homelab of its own: its backups wait for each other, not for the other tenants'.
      backupLockDomain: `t${k}`,
      storage: base.vms[0]?.storage ?? 'local-lvm',
      backupStorage: base.backups.storage,
      extraStorages: [HOMELAB_STORAGE.ctDisks, HOMELAB_STORAGE.dataVolumes, HOMELAB_STORAGE.bulkData],
      guests: [
        ...existing.map((vm) => tenantVm(k, vm)),
        ...base.legacyGuests.flatMap((g, i) => {
          const home = HOMELAB_CONTAINERS.find((c) => c.ctid === g.ctid);
          if (!home) return [];
          const t = plan.legacyGuests[i];
          const renamed = (v: string) => v.replace(new RegExp(`-${g.ctid}-disk-`, 'g'), `-${t.ctid}-disk-`);
          return [
            {
              vmid: t.ctid,
              type: 'lxc' as const,
              name: t.name ?? `${home.name}-t${k}`,
              ip: t.ip,
              status: 'running' as const,
              config: {
                rootfs: `${HOMELAB_STORAGE.ctDisks}:subvol-${t.ctid}-disk-0,size=${home.rootfsGb}G`,
                ...Object.fromEntries(Object.entries(home.mountPoints ?? {}).map(([key, v]) => [key, renamed(v)])),
              },
            },
          ];
        }),
      ],
    });
    tenants.push({ index: k, plan, legacy, fresh });
  }
  // The gateway: every tenant's upstream (on its legacy Qdrant) and a location for it, plus a second upstream on
  // its CT *0 (like embedding_service on CT 950) so each dependency scan keeps one CT, as in the single run.
  const site = fs.readFileSync(world.gateway.realSiteFile, 'utf8');
  fs.writeFileSync(
    world.gateway.realSiteFile,
    withTenantRoutes(
      site,
      base.qdrant.gatewayUrl,
      tenants.map((t) => ({
        index: t.index,
        qdrant: `${t.legacy.host}:${t.legacy.port}`,
        embedding: `${legacyIp(t.index, '127.0.0.150')}:8000`,
      })),
    ),
  );
  const cmd = world.plan.gateway.nginxCommand;
  const master = Number(fs.readFileSync(world.gateway.pidFile, 'utf8').trim());
  const oldWorkers = childrenOf(master);
  for (const flag of [['-t'], ['-s', 'reload']]) {
    const r = spawnSync(cmd[0], [...cmd.slice(1), ...flag], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`fleet gateway: nginx ${flag.join(' ')} failed: ${r.stderr}`);
  }
  // The reload is asynchronous: new workers start, and the old ones keep answering (with the old site) on the
  // connections they hold until they exit. Only once they are gone does every request see the tenants' routes.
  await waitUntilGone(oldWorkers);
  for (const t of tenants) await waitForRoute(`${t.plan.qdrant.gatewayUrl}/readyz`);
  return tenants;
}

/** The pids whose parent is `pid` (nginx's workers, for its master). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function waitUntilGone(pids: number[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  const alive = (pid: number) => fs.existsSync(`/proc/${pid}`);
  while (pids.some(alive)) {
    if (Date.now() > deadline)
      throw new Error(`fleet gateway: nginx workers ${pids.filter(alive).join(', ')} still run 10 s after the reload`);
    await sleep(50);
  }
}

/** Tenant k's copy of an adopted VM: its own vmid, disks and address; the same image (Docker, Portainer, NFS). */
function tenantVm(k: number, vm: ExistingVm): SimGuestSeed {
  const vmid = vmidOf(k, vm.vmid);
  const config = Object.fromEntries(
    Object.entries(vm.config)
      // net0 names the base VM's MAC: the simulator makes one from the new vmid instead.
      .filter(([key]) => key !== 'net0')
      .map(([key, v]) => [
        key,
        typeof v === 'string'
          ? v.replace(new RegExp(`-${vm.vmid}-`, 'g'), `-${vmid}-`).replace(/127\.0\.0\./g, `127.2.${k}.`)
          : v,
      ]),
  );
  if (typeof config.name === 'string') config.name = `${config.name}-t${k}`;
  return {
    vmid,
    type: 'qemu',
    name: String(config.name ?? `vm-${vmid}`),
    status: vm.status,
    config,
    ...(vm.image ? { image: structuredClone(vm.image) } : {}),
  };
}

export interface TenantRoute {
  index: number;
  /** `HOST:PORT` of the tenant's legacy Qdrant (`qdrant_tK`) and of its CT *0 stand-in (`embedding_tK`). */
  qdrant: string;
  embedding: string;
}

/**
 * The gateway site with each tenant's upstreams (after the site's last upstream, or before the first server block)
 * and its `location /qdrant-tK/` inside the server block that serves `gatewayUrl` — the one whose `listen` has the
 * URL's port (and `ssl` exactly when the URL is https). The real site has two servers (port 80 for the API routes,
 * HTTPS for Portainer): a location put into the wrong one would never be reached through the tenant's gatewayUrl.
 * Parsed with the repo's nginx tokenizer, so comments, quotes and nested locations cannot mislead it. Pure.
 */
export function withTenantRoutes(site: string, gatewayUrl: string, tenants: TenantRoute[]): string {
  const parsed = parseUpstreamBlocks(site);
  if (!parsed.ok) throw new Error(`fleet gateway: the site does not parse: ${parsed.error}`);
  const server = serverBlockFor(parsed.blocks, gatewayUrl);
  const siblings = parsed.upstreams.filter((u) =>
    parsed.blocks.some((b) => b.open === u.open && b.depth === server.depth),
  );
  const lastUpstream = siblings[siblings.length - 1];
  const upstreams = tenants
    .map(
      (t) =>
        `upstream qdrant_t${t.index} { server ${t.qdrant}; }\nupstream embedding_t${t.index} { server ${t.embedding}; }`,
    )
    .join('\n');
  const locations = tenants
    .map(
      (t) => `    location /qdrant-t${t.index}/ { proxy_pass http://qdrant_t${t.index}/; proxy_connect_timeout 2s; }\n`,
    )
    .join('');
  // Two insertions, the later offset first so the earlier one stays valid.
  const upstreamAt = lastUpstream ? lastUpstream.close + 1 : server.start;
  const upstreamText = lastUpstream ? `\n${upstreams}` : `${upstreams}\n\n`;
  // Before the server's `}`: at the start of its line when it stands alone there, else right before it.
  const closeLineStart = site.lastIndexOf('\n', server.close - 1) + 1;
  const ownLine = /^[ \t]*$/.test(site.slice(closeLineStart, server.close));
  const locationAt = ownLine ? closeLineStart : server.close;
  const locationText = ownLine ? locations : `\n${locations}`;
  return (
    site.slice(0, upstreamAt) +
    upstreamText +
    site.slice(upstreamAt, locationAt) +
    locationText +
    site.slice(locationAt)
  );
}

/** The `server` block that answers `url`: a `listen` with the URL's port, and `ssl` exactly when it is https. */
function serverBlockFor(blocks: Block[], url: string): Block {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  const port = Number(u.port || (https ? 443 : 80));
  const servers = blocks.filter((b) => b.words.length === 1 && b.words[0].value === 'server' && !b.words[0].quoted);
  const matches = servers.filter((b) =>
    b.statements.some((st) => {
      if (st.words[0].value !== 'listen' || st.words.length < 2) return false;
      const address = st.words[1].value;
      const m = /^(?:(.*):)?(\d+)$/.exec(address);
      if (!m || Number(m[2]) !== port) return false;
      const host = (m[1] ?? '*').replace(/^\[|\]$/g, '');
      const ssl = st.words.slice(2).some((w) => w.value === 'ssl');
      return ssl === https && (host === '*' || host === u.hostname.replace(/^\[|\]$/g, ''));
    }),
  );
  if (matches.length !== 1)
    throw new Error(
      `fleet gateway: ${matches.length === 0 ? 'no' : matches.length} server block(s) of the site listen for ${url} ` +
        `(servers listen on: ${servers.map((b) => listensOf(b).join(', ') || '(default)').join(' | ')})`,
    );
  return matches[0];
}

const listensOf = (b: Block) =>
  b.statements
    .filter((st) => st.words[0].value === 'listen')
    .map((st) =>
      st.words
        .slice(1)
        .map((w) => w.value)
        .join(' '),
    );

/** Polls `url` until it answers 200 (at most 10 s). */
async function waitForRoute(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await request(url, { headersTimeout: 2_000, bodyTimeout: 2_000 });
      await res.body.dump();
      if (res.statusCode === 200) return;
      last = `HTTP ${res.statusCode}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`fleet gateway: ${url} does not answer 200 after the reload (last: ${last})`);
}

/** The person's Portainer step for one tenant: a stack from its compose file; its new Qdrant then answers. */
async function deployTenantStack(world: World, t: Tenant, apiKey: string): Promise<void> {
  const p = t.plan.portainer;
  const content = fs.readFileSync(world.plan.composeFiles[p.composeFileIndex].hostPath, 'utf8');
  const dispatcher = dispatcherFor(p.tls);
  const client = new PortainerClient({ url: p.url, auth: { apiKey }, timeoutMs: 30_000, dispatcher });
  try {
    const [env] = await client.listEndpoints({ name: p.environmentName });
    if (!env) throw new Error(`Portainer has no environment "${p.environmentName}"`);
    if (!(await client.listStacks(env.Id)).some((s) => s.Name === p.stackName))
      await client.createStandaloneStackFromString(env.Id, p.stackName, content);
  } finally {
    await dispatcher.close();
  }
  await t.fresh.setReady('ready');
}

export interface FleetRun {
  handle: WorkflowHandle;
  outcome: string;
  seconds: number;
  /** The run's steps with their times (from its report), to say where a fleet's time goes. */
  steps: { name: string; phase: string; startedAt?: string; endedAt?: string }[];
  /** Each answer the person sent the run, with when it first tried (a rejected or lost try counts from its start). */
  answers: PersonAnswer[];
}

/** The waits the fleet's person answers. */
const PERSON_WAITS: ReadonlySet<string> = new Set(['portainer-deploy', 'decommission-approval']);

/**
 * What each run waits for, from ONE visibility list of the fleet's running runs per `everyMs`: the run keeps it in its
 * memo (`waitingFor`), which a list returns with each run — no query per run. A status query is a turn of the worker's
 * single workflow thread; a query per run per second (how this person looked until 2026-12-07) queued the fleet's
 * workflow tasks past their 5 s timeout (BENCHMARKS.md, "Results of 2026-12-07").
 */
function watchWaits(client: Client, workflowIds: Set<string>, everyMs: number) {
  let waits: Map<string, string | null> | undefined = new Map();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const seen = new Map<string, string | null>();
        for await (const w of client.workflow.list({ query: `ExecutionStatus = 'Running'` }))
          if (workflowIds.has(w.workflowId)) seen.set(w.workflowId, memoWaitingFor(w.memo) ?? null);
        waits = seen;
      } catch {
        // Visibility answered nothing this time: the person asks each run itself until the next list.
        waits = undefined;
      }
      await sleep(everyMs);
    }
  })();
  return {
    /** What the run waits for (null: nothing), or undefined when the last list failed or did not show the run. */
    of: (workflowId: string) => (waits?.has(workflowId) ? waits.get(workflowId) : undefined),
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/**
 * Starts every tenant's migration at once and plays the person for each: every `pollMs` it looks at what the fleet's
 * runs wait for (one list, the runs' memos) and answers the Portainer deploy and the decommission approval; a run
 * that waits for something else that does not end by itself is looked at with a status query (to report the wait).
 * When the list fails, each run is asked with a query every `idlePollMs`.
 */
export async function runFleet(
  client: Client,
  world: World,
  tenants: Tenant[],
  opts: { pollMs?: number; idlePollMs?: number; timeoutMs?: number } = {},
): Promise<FleetRun[]> {
  const apiKey = world.workerEnv.PHOENIX_LAB_PORTAINER_API_KEY;
  const pollMs = opts.pollMs ?? 1000;
  const idlePollMs = opts.idlePollMs ?? 10_000;
  const deadline = Date.now() + (opts.timeoutMs ?? 1_800_000);
  const handles = await Promise.all(tenants.map((t) => startMigration(client, { plan: t.plan, digest: world.digest })));
  const waits = watchWaits(client, new Set(handles.map((h) => h.workflowId)), pollMs);
  try {
    return await Promise.all(tenants.map((t, i) => playPerson(t, handles[i], waits.of)));
  } finally {
    await waits.stop();
  }

  async function playPerson(
    t: Tenant,
    handle: WorkflowHandle,
    listedWait: (workflowId: string) => string | null | undefined,
  ): Promise<FleetRun> {
    let steps: FleetRun['steps'] = [];
    const result = handle.result().then(
      (r) => {
        steps = (r as { steps?: FleetRun['steps'] }).steps ?? [];
        return (r as { outcome?: string }).outcome ?? 'completed';
      },
      // WorkflowFailedError says only "Workflow execution failed": the reason is its cause (and the cause's cause).
      (e: Error) => {
        const causes: string[] = [];
        for (let c = e.cause as Error | undefined; c && causes.length < 3; c = c.cause as Error | undefined)
          causes.push(c.message);
        return `failed: ${[e.message, ...causes].join(': ')}`;
      },
    );
    let outcome: string | undefined;
    void result.then((o) => (outcome = o));
    const answered = new Set<string>();
    // The first try of each answer: a try that failed here (rejected, or its call timed out) may still have been
    // accepted by the run, and the person has waited since the first try either way.
    const firstSent = new Map<string, number>();
    const answer = async (update: string, send: () => Promise<unknown>) => {
      if (!firstSent.has(update)) firstSent.set(update, Date.now());
      await send();
      answered.add(update);
    };
    let lastQuery = 0;
    await sleep(Math.random() * pollMs);
    while (outcome === undefined && Date.now() < deadline) {
      await sleep(pollMs);
      let what = listedWait(handle.workflowId);
      const answersItself =
        what === null || (what !== undefined && (PERSON_WAITS.has(what) || endsByItself(what as WaitingFor)));
      let message = '';
      if (!answersItself) {
        // No list, or a wait the bench does not answer: the run's status says what it is.
        if (Date.now() - lastQuery < (what === undefined ? idlePollMs : pollMs)) continue;
        lastQuery = Date.now();
        const w = await queryStatus(handle).then(
          (s) => s.waitingFor,
          () => undefined,
        );
        what = w?.what ?? null;
        message = w?.message ?? '';
      }
      try {
        if (what === 'portainer-deploy' && !answered.has(confirmPortainerDeployUpdate.name)) {
          await deployTenantStack(world, t, apiKey);
          await answer(confirmPortainerDeployUpdate.name, () =>
            handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'bench' }] }),
          );
        } else if (what === 'decommission-approval' && !answered.has(approveDecommissionUpdate.name)) {
          await answer(approveDecommissionUpdate.name, () =>
            handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'bench' }] }),
          );
        } else if (what && !PERSON_WAITS.has(what) && !endsByItself(what as WaitingFor)) {
          // A wait the bench does not answer (e.g. a failed verification asking retry-or-abort): the run's outcome
          // is that wait, reported with the others; it is ended so nothing keeps polling it. A readiness wait is left
          // alone: the run re-checks by itself (a check can fail under the fleet's load).
          outcome = `stuck: waits for ${what}: ${message}`;
          await handle.terminate(`bench: nobody answers ${what} in a fleet`).catch(() => undefined);
          break;
        }
      } catch {
        // A rejected answer (e.g. raced the run): look again.
      }
    }
    const final = outcome ?? (await Promise.race([result, sleep(1000).then(() => 'timed out')]));
    const desc = await handle.describe();
    const seconds = desc.closeTime ? (desc.closeTime.getTime() - desc.startTime.getTime()) / 1000 : NaN;
    const answers = [...firstSent].map(([update, sentAtMs]) => ({ update, sentAtMs }));
    return { handle, outcome: final, seconds, steps, answers };
  }
}

/**
 * Where a fleet's time goes: each step's median time over the fleet's completed runs against the single run's, the
 * steps that grew most first (steps with a generic name — "decommission CT 20031 …" — are grouped by their words).
 */
export function stepGrowth(
  single: FleetRun['steps'],
  runs: FleetRun[],
  top = 8,
): { step: string; singleSeconds: number; fleetP50Seconds: number }[] {
  const key = (name: string) => name.replace(/\b\d{3,}\b/g, 'N').replace(/ [A-Za-z0-9.-]*-[A-Za-z0-9.-]+$/, '');
  const secs = (x: { startedAt?: string; endedAt?: string }) =>
    x.startedAt && x.endedAt ? (Date.parse(x.endedAt) - Date.parse(x.startedAt)) / 1000 : undefined;
  const byKey = new Map<string, number[]>();
  for (const r of runs.filter((x) => x.outcome === 'completed'))
    for (const s of r.steps) {
      const t = secs(s);
      if (t !== undefined) byKey.set(key(s.name), [...(byKey.get(key(s.name)) ?? []), t]);
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return [...byKey.entries()]
    .map(([step, times]) => {
      const mine = single
        .filter((s) => key(s.name) === step)
        .map(secs)
        .filter((t): t is number => t !== undefined);
      return {
        step,
        singleSeconds: Math.round((mine.length ? median(mine) : 0) * 100) / 100,
        fleetP50Seconds: Math.round(median(times) * 100) / 100,
      };
    })
    .sort((a, b) => b.fleetP50Seconds - b.singleSeconds - (a.fleetP50Seconds - a.singleSeconds))
    .slice(0, top);
}
