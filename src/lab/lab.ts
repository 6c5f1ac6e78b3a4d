/**
 * `npm run lab`: the whole migration on one machine. Builds the loopback world, starts a Temporal dev server (Web UI
 * on :8233, persistent db), a worker process, then starts — or resumes — the migration and follows it, telling the
 * person what to do (or doing it, with --auto-confirm).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { readUpstreams } from '../nginx/upstream';
import { startMigration, workflowIdFor } from '../temporal/start';
import type { MigrationReport } from '../workflows/report';
import type { FaultSettings } from './proxmox-sim';
import { driveRun, type DriveResult } from './driver';
import { temporalDevServer, workerProcess, type ManagedProcess } from './processes';
import { startWorld, type GatewayFaults, type World } from './world';
import type { RehearsalOptions } from './rehearsal/checkout';
import type { SiteSource } from './rehearsal/site-source';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** `--faults`: the Proxmox simulator's, and the gateway's (see parseFaultSpec). */
export interface LabFaults {
  proxmox: FaultSettings;
  gateway: GatewayFaults;
  /** Inside the VMs' sandboxes. */
  guests?: { aptFailRate?: number };
}

export interface LabOptions {
  dir: string;
  temporalCli: string;
  autoConfirm?: boolean;
  reportFile?: string;
  faults?: LabFaults;
  reset?: boolean;
  portainerMode?: 'manual' | 'api';
  dataMode?: 'none' | 'reindex' | 'snapshot';
  provisioner?: 'native' | 'phoenix-cli' | 'none';
  /** A rehearsal of the operator's homelab: their Phoenix checkout and plan (and an `nginx -T` dump of the gateway). */
  rehearsal?: RehearsalOptions;
  say?: (line: string) => void;
}

export interface LabReport {
  status: string;
  workflowId: string;
  phases: { name: string; status: string; startedAt?: string; endedAt?: string }[];
  changes: string[];
  gatewayUpstream: string[];
  deleted: number[];
  refused: { ctid: number; reason: string }[];
  /** Every legacy CT of the plan and what became of it. */
  decommission: {
    ctid: number;
    outcome: 'deleted' | 'already-absent' | 'refused' | 'kept' | 'not-reached';
    reason?: string;
  }[];
  /** CTs the operator kept at the approval (`--keep`), apart from those a gate refused. */
  keptByOperator: number[];
  /** The data gate's view: each legacy collection's count on the legacy and the new Qdrant. */
  data: { mode: string; collections: { name: string; legacyCount: number; newCount: number }[] };
  /** The backups made before deleting, with the volume mount points each holds. */
  backups: { ctid: number; volid: string; size?: number; mountPointsIncluded?: string[] }[];
  addressMap: Record<string, string>;
  auditLog: string;
  eventLog: string;
  /** Phase 3 per VM: adopted or cloned, each feature applied or already there, the disk's size after the run. */
  vms: {
    vmid: number;
    name: string;
    adopted: boolean;
    cloned: boolean;
    diskGb?: number;
    features: { name: string; outcome: string }[];
  }[];
  /** Why the run ended as it did, with what stays (the run's own end reason). */
  endReason?: string;
  /** Who answered through the gateway in the last verification (Qdrant's per-process telemetry id). */
  verification: { identitySeen: 'new' | 'legacy' | 'none'; newId: string | null; legacyId: string | null };
  /** With `phoenix.dir` in the plan: Phoenix's gateway sources still to update, or updated by the run. */
  phoenixSources?: MigrationReport['phoenixSources'];
  failure?: string;
  /** A rehearsal (`--phoenix`): where the gateway site it served came from. */
  gatewaySiteSource?: SiteSource;
}

export const FAULT_KEYS = [
  'transient',
  'lock',
  'lost',
  'latency',
  'seed',
  'backup-job',
  'gateway-reload-noop',
  'gateway-new-dead',
  'guest-apt-fail',
] as const;

/**
 * `transient=0.2,lock=0.1,lost=0.1,latency=200,seed=7` → Proxmox simulator faults;
 * `backup-job=SECONDS` → the node's scheduled backup job starts just before the run's first backup and runs SECONDS
 *   (every guest on the node, each locked while it runs): the run's backups wait for the node's backup lock;
 * `gateway-reload-noop=N` → the first N `nginx -s reload` exit 0 but nginx keeps its old configuration;
 * `gateway-new-dead=1` → the new Qdrant answers directly but never through the gateway;
 * `guest-apt-fail=1` → apt-get fails inside the VMs' sandboxes (a share 0..1 of guest commands).
 */
export function parseFaultSpec(spec: string): LabFaults {
  const out: FaultSettings = {};
  const gateway: GatewayFaults = {};
  const guests: { aptFailRate?: number } = {};
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [key, raw] = part.split('=');
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`--faults: "${part}" needs a non-negative number (e.g. transient=0.2)`);
    const rate = () => {
      if (value > 1) throw new Error(`--faults: ${key} is a share between 0 and 1, got ${raw}`);
      return value;
    };
    switch (key) {
      case 'transient':
        out.transientRate = rate();
        break;
      case 'lock':
        out.lockRate = rate();
        break;
      case 'lost':
        out.lostResponseRate = rate();
        break;
      case 'latency':
        out.latencyMs = value;
        break;
      case 'seed':
        out.seed = value;
        break;
      case 'backup-job':
        out.scheduledBackupJobMs = value * 1000;
        break;
      case 'gateway-reload-noop':
        if (!Number.isInteger(value))
          throw new Error(`--faults: gateway-reload-noop counts reloads, a whole number; got ${raw}`);
        gateway.reloadNoop = value;
        break;
      case 'gateway-new-dead':
        if (value !== 0 && value !== 1) throw new Error(`--faults: gateway-new-dead is 0 or 1, got ${raw}`);
        gateway.newDeadThroughGateway = value === 1;
        break;
      case 'guest-apt-fail':
        guests.aptFailRate = rate();
        break;
      default:
        throw new Error(`--faults: unknown fault "${key}" (known: ${FAULT_KEYS.join(', ')})`);
    }
  }
  return { proxmox: out, gateway, guests };
}

export function labControlFile(dir: string): string {
  return path.join(dir, 'control.json');
}

/** A tiny loopback endpoint so `phoenix-migrate lab deploy-stack` (another process) can act in this world. */
async function startControl(dir: string, world: World): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/deploy-stack') {
      world.deployStack().then(
        (msg) => {
          world.events.write({ kind: 'manual-step', what: 'deploy-stack', detail: msg });
          res.writeHead(200).end(msg);
        },
        (err) => res.writeHead(500).end((err as Error).message),
      );
      return;
    }
    res.writeHead(404).end('unknown lab action');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  fs.writeFileSync(labControlFile(dir), JSON.stringify({ url: `http://127.0.0.1:${addr.port}`, pid: process.pid }));
  return server;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function buildLabReport(world: World, workflowId: string, result: DriveResult): LabReport {
  const site = fs.readFileSync(world.gateway.realSiteFile, 'utf8');
  const upstream = readUpstreams(site).find((u) => u.name === world.plan.gateway.upstream);
  const report = result.report;
  const phases = (report?.phases.length ? report.phases : (result.status?.phases ?? [])).map((p) => ({
    name: p.name,
    status: p.status,
    startedAt: p.startedAt,
    endedAt: p.endedAt,
  }));
  return {
    status: report?.outcome ?? (result.state === 'RUNNING' ? 'running' : result.state.toLowerCase()),
    workflowId,
    phases,
    changes: report?.changes ?? [],
    gatewayUpstream: upstream?.servers.map((s) => s.address) ?? [],
    deleted: report?.decommission.deleted ?? [],
    refused: report?.decommission.refused ?? [],
    decommission: world.plan.legacyGuests.map((g) => {
      const refusal = report?.decommission.refused.find((r) => r.ctid === g.ctid);
      const result = report?.decommission.results.find((r) => r.ctid === g.ctid);
      if (report?.decommission.keptByOperator.includes(g.ctid)) return { ctid: g.ctid, outcome: 'kept' as const };
      if (refusal) return { ctid: g.ctid, outcome: 'refused' as const, reason: refusal.reason };
      if (result?.outcome === 'deleted' || result?.outcome === 'already-absent')
        return { ctid: g.ctid, outcome: result.outcome };
      return { ctid: g.ctid, outcome: 'not-reached' as const };
    }),
    keptByOperator: report?.decommission.keptByOperator ?? [],
    data: report?.data ?? { mode: world.plan.qdrant.data.mode, collections: [] },
    backups: report?.backups ?? [],
    addressMap: world.addressMap,
    auditLog: path.resolve(world.auditLogPath),
    eventLog: path.resolve(world.events.file),
    vms: (report?.provisioned ?? []).map((v) => ({
      vmid: v.vmid,
      name: v.name,
      adopted: v.adopted,
      cloned: v.cloned,
      ...(v.diskGb !== undefined ? { diskGb: v.diskGb } : {}),
      features: v.features.map((f) => ({ name: f.name, outcome: f.outcome })),
    })),
    ...(report?.endReason ? { endReason: report.endReason } : {}),
    verification: {
      identitySeen: report?.verification?.identitySeen ?? 'none',
      newId: report?.verification?.newId ?? null,
      legacyId: report?.verification?.legacyId ?? null,
    },
    ...(report?.phoenixSources ? { phoenixSources: report.phoenixSources } : {}),
    ...(result.failure ? { failure: result.failure } : {}),
    ...(world.gatewaySiteSource ? { gatewaySiteSource: world.gatewaySiteSource } : {}),
  };
}

export async function runLab(opts: LabOptions): Promise<number> {
  const say = opts.say ?? ((l: string) => process.stdout.write(`${l}\n`));
  const dir = path.resolve(opts.dir);
  if (opts.reset) fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const control = labControlFile(dir);
  if (fs.existsSync(control)) {
    const { pid } = JSON.parse(fs.readFileSync(control, 'utf8')) as { pid: number };
    if (pid !== process.pid && alive(pid))
      throw new Error(`a lab is already running in ${dir} (pid ${pid}); stop it with Ctrl-C there, or use --dir`);
  }

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
  };
  let interruptResolve!: () => void;
  const interrupted = new Promise<void>((r) => (interruptResolve = r));
  const onSignal = () => {
    say('\nstopping the lab (the run stays in the Temporal db: `npm run lab` resumes it) …');
    interruptResolve();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    say(
      opts.rehearsal
        ? `building a rehearsal of ${path.resolve(opts.rehearsal.phoenixDir)} with the plan ${path.resolve(opts.rehearsal.planFile)} (simulators, real sshd and nginx on loopback) …`
        : 'building the lab world (Proxmox/Qdrant/Portainer simulators, real sshd and nginx on loopback) …',
    );
    const world = await startWorld({
      dir,
      standardPorts: true,
      proxmoxFaults: opts.faults?.proxmox,
      gatewayFaults: opts.faults?.gateway,
      guestFaults: opts.faults?.guests,
      provisioner: opts.provisioner,
      portainerMode: opts.portainerMode,
      dataMode: opts.dataMode,
      ...(opts.rehearsal ? { rehearsal: opts.rehearsal } : {}),
    });
    stops.push(() => world.stop());

    const temporal = await temporalDevServer({
      cliPath: opts.temporalCli,
      dbFile: path.join(dir, 'temporal', 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
    });
    await temporal.start();
    stops.push(() => temporal.stop());

    const worker: ManagedProcess = workerProcess({
      projectRoot: PROJECT_ROOT,
      address: temporal.address,
      env: { ...world.workerEnv, PHOENIX_LOG_LEVEL: 'info' },
      logFile: path.join(dir, 'worker.log'),
    });
    await worker.start();
    stops.push(() => worker.stop());

    const controlServer = await startControl(dir, world);
    stops.push(async () => {
      await new Promise<void>((r) => controlServer.close(() => r()));
      fs.rmSync(control, { force: true });
    });

    say('\nThe lab world (real addresses → lab addresses):');
    for (const [real, lab] of Object.entries(world.addressMap).sort()) say(`  ${real.padEnd(12)} → ${lab}`);
    say(`  Proxmox API      ${world.plan.proxmox.apiUrl}   (simulator; audit log ${world.auditLogPath})`);
    say(
      `  Proxmox host     ssh ${world.plan.proxmoxHost.user}@${world.plan.proxmoxHost.host} -p ${world.plan.proxmoxHost.port}   (real sshd, pct stand-in)`,
    );
    say(`  gateway (LXC 101) ${world.plan.qdrant.gatewayUrl}/   (real nginx, site file ${world.gateway.realSiteFile})`);
    say(`  Portainer        ${world.plan.portainer.url}   (simulator)`);
    say(`  Temporal UI      ${temporal.uiUrl}   (server ${temporal.address})`);
    say(`  lab plan         ${world.planPath}`);
    say(`  event log        ${world.events.file}`);
    if (world.gatewaySiteSource) say(`  gateway site     ${describeSiteSource(world.gatewaySiteSource)}`);
    for (const note of world.rehearsalNotes ?? []) say(`  note: ${note}`);

    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const client = new Client({ connection });
    const workflowId = workflowIdFor(world.plan.name);
    const handle = client.workflow.getHandle(workflowId);
    let open = false;
    try {
      open = (await handle.describe()).status.name === 'RUNNING';
    } catch {
      open = false;
    }
    if (open) say(`\nresuming the open run ${workflowId}`);
    else {
      await startMigration(
        client,
        { plan: world.plan, digest: world.digest },
        { workflowId, note: `Lab world in \`${dir}\`; addresses 10.0.0.N are mapped onto 127.0.0.N.` },
      );
      world.events.write({ kind: 'run-started', workflowId });
      say(`\nstarted ${workflowId}`);
    }
    say(`watch it in the Temporal UI: ${temporal.uiUrl}/namespaces/default/workflows/${workflowId}\n`);

    const hintFlags = {
      dir: path.relative(PROJECT_ROOT, dir) === '.lab' ? undefined : dir,
      address: temporal.address === '127.0.0.1:7233' ? undefined : temporal.address,
    };
    const result = await driveRun({
      client,
      workflowId,
      world,
      autoConfirm: !!opts.autoConfirm,
      say,
      interrupted,
      hintFlags,
    });
    const report = buildLabReport(world, workflowId, result);
    if (opts.reportFile) {
      fs.writeFileSync(opts.reportFile, JSON.stringify(report, null, 2));
      say(`report written to ${opts.reportFile}`);
    }
    if (result.interrupted) return 130;
    say(`\nthe run ended: ${report.status}${result.failure ? ` — ${result.failure}` : ''}`);
    say(`gateway upstream ${world.plan.gateway.upstream} → ${report.gatewayUpstream.join(', ')}`);
    if (report.gatewaySiteSource) say(`gateway site rehearsed from ${describeSiteSource(report.gatewaySiteSource)}`);
    say(
      `deleted: ${report.deleted.join(', ') || 'none'}${report.refused.length ? `; kept: ${report.refused.map((r) => r.reason).join('; ')}` : ''}`,
    );
    for (const line of sourcesLines(report.phoenixSources, opts.rehearsal)) say(line);
    return report.status === 'completed' ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
  }
}

/** `heredoc /x/bin/phoenix_hypervisor_lxc_101.sh:32`. */
export function describeSiteSource(s: SiteSource): string {
  return `${s.kind} ${s.file}${s.line !== undefined ? `:${s.line}` : ''}`;
}

/** `phoenix-migrate lab deploy-stack`: the person's Portainer step, performed in the running lab's world. */
export async function labDeployStack(dir: string): Promise<string> {
  const control = labControlFile(path.resolve(dir));
  if (!fs.existsSync(control))
    throw new Error(`no lab is running in ${path.resolve(dir)} (start one with: npm run lab)`);
  const { url } = JSON.parse(fs.readFileSync(control, 'utf8')) as { url: string };
  const res = await fetch(`${url}/deploy-stack`, { method: 'POST' });
  const text = await res.text();
  if (!res.ok) throw new Error(`the lab could not deploy the stack: ${text}`);
  return text;
}

/** The end-of-run word on Phoenix's own gateway sources (plan `phoenix.dir`): updated by the run, or still to do. */
function sourcesLines(sources: LabReport['phoenixSources'], rehearsal?: RehearsalOptions): string[] {
  if (!sources) return [];
  // A rehearsal's run worked on a copy of the checkout in the lab: the operator's command names their own files.
  const command = rehearsal
    ? `phoenix-migrate sources --plan ${path.resolve(rehearsal.planFile)} --phoenix-dir ${path.resolve(rehearsal.phoenixDir)} --write`
    : sources.command;
  const where = rehearsal ? " (in the lab's copy of the checkout)" : '';
  return [
    ...(sources.updated ?? []).map((s) => `Phoenix source updated${where}: ${s}`),
    ...(sources.notWritten ?? []).map((s) => `Phoenix source not written: ${s}`),
    ...sources.stillToUpdate.map((s) => `Phoenix source still to update: ${s}`),
    ...(sources.stillToUpdate.length || rehearsal ? [`  at home, after the run: ${command}`] : []),
  ];
}
