/**
 * `npm run bench -- [--json] [--fleet N] [--scale F] [--dir D]`: a benchmark (not a test) against the lab's
 * simulators with fixed Proxmox task durations, in one run:
 *   a) one migration's wall time vs the critical-path lower bound → criticalPathRatio
 *   b) a fleet of N (default 100) concurrent migrations on one worker: p50/p95 duration vs the single run, worker peak RSS
 *   c) a person's confirmation, from when it is sent, → the next activity's start, p50/p99
 *   d) worker cold start with the prebuilt workflow bundle vs bundling at start
 * See BENCHMARKS.md for the design and recorded results.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { ResolvedPlan } from '../config/resolved-plan';
import { driveRun } from '../lab/driver';
import type { LabEvent } from '../lab/event-log';
import { addTenants, existingVms, runFleet, stepGrowth } from './fleet';
import { PROJECT_ROOT } from '../lab/lab';
import { workerProcess } from '../lab/processes';
import { countEffects } from './effects';
import { neverOutOfSlots, SLOT_KINDS, watchSlots, type SlotWatch } from './slots';
import { freePort } from '../lab/services/ports';
import {
  confirmationLatenciesMs,
  eventTimeMs,
  peakRssMiB,
  percentile,
  round,
  scheduleToStartMs,
  startLabRun,
} from './harness';
import { startMigration } from '../temporal/start';

/** Seconds-long simulated tasks, so the fixed overheads (polls, RPCs, workflow tasks) are small beside them. */
export const BENCH_TASK_MS = {
  qmclone: 30_000,
  resize: 6_000,
  qmstart: 10_000,
  vzdump: 24_000,
  vzshutdown: 10_000,
  vzdestroy: 8_000,
};
/** Until a started VM's guest agent answers; cloud-init's boot run ends with it here (the lab's world: 1.5 s more). */
export const BENCH_AGENT_DELAY_MS = 12_000;
/** Everything else (none on the critical path: config changes are synchronous in PVE and in the simulator). */
const DEFAULT_TASK_MS = 1_000;
const TEMPLATE_DISK_GB = 32;

interface Args {
  json: boolean;
  fleet: number;
  scale: number;
  dir: string;
  coldStarts: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    json: false,
    fleet: 100,
    scale: 1,
    dir: path.join(os.tmpdir(), `phoenix-bench-${process.pid}`),
    coldStarts: 3,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--json') args.json = true;
    else if (a === '--fleet') args.fleet = Math.round(num());
    else if (a === '--scale') args.scale = num();
    else if (a === '--cold-starts') args.coldStarts = Math.round(num());
    else if (a === '--dir') args.dir = path.resolve(argv[++i] ?? '.');
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: npm run bench -- [--json] [--fleet N (100)] [--scale F (1: task durations ×F)] [--cold-starts N (3)] [--dir DIR]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  return args;
}

export interface CriticalPath {
  seconds: number;
  chain: string[];
}

/** What Phase 3 did to one VM in the measured run (from its report and the lab's event log). */
export interface VmWork {
  vmid: number;
  /** The Proxmox tasks ensureVm ran: an adopted VM (1001) is neither cloned nor started, a clone (1002) is all three. */
  cloned: boolean;
  resized: boolean;
  started: boolean;
  /**
   * Its Phase 3 guest-agent commands (one per feature: converge.sh's check, cloud-init wait, apply, verify): count and
   * summed run time.
   */
  guestCommands: number;
  guestCommandMs: number;
}

/**
 * The lower bound of one migration: the longest chain of dependent durations the lab imposes, with zero overhead
 * from the engine (no polling delay, no RPC, no workflow task). The terms, in run order:
 * - Phase 3, per VM, in parallel (the workflow runs both VMs at once; the longer chain counts):
 *   · `qmclone` — only for a VM that is cloned (1002). VM 1001 is adopted in place: it exists, nothing is cloned.
 *   · `resize` — whenever ensureVm grows the disk: 1002's clone (template 32 G → 64 G), and 1001 too (Phoenix left it
 *     at 13.5 G; the plan says 32 G). Proxmox grows a running VM's disk, so 1001 needs no start for it.
 *   · `qmstart` and then the guest agent's delay — only for a VM that was stopped (a fresh clone); an adopted VM
 *     runs and its agent answers at once.
 *   · the provisioning features (mount, base_setup, docker, the Portainer server/agent: each one guest command,
 *     check → cloud-init wait → apply → verify, one after another). The lab runs each command for real in the VM's
 *     sandbox (src/lab/guest-sandbox: bash + the recording stand-ins; no configured sleep), so their cost is
 *     measured: the sum of the commands' own run times from the event log. Not counted: noticing that a command ended
 *     (exec-status polling), the SSH volume directory, the Portainer probes — engine overhead, like everywhere else.
 * - After Phase 3: guest commands of later phases (readiness asks VM 1001/1002 for docker and the compose file), as
 *   the measured union of their intervals (they may overlap). The rest up to the approval (file push, readiness over
 *   SSH/HTTP, the Portainer wait, cutover, verification, dependency scan) has no imposed duration: it is overhead.
 *   Human waits are answered at once (auto-confirm) and count zero.
 * - The CT decommissions, in parallel: vzdump (if backups.enabled) → vzshutdown → vzdestroy — but a node runs one
 *   vzdump job at a time (its global backup lock, src/lab/proxmox-sim/backup-job.ts), so the last CT's shutdown waits
 *   for every backup job of the run, one after another.
 */
export function criticalPath(
  plan: ResolvedPlan,
  taskMs: Record<string, number>,
  agentDelayMs: number,
  cts: { deleted: number; backupJobs: number },
  vms: VmWork[],
  laterGuestCommandMs = 0,
): CriticalPath {
  const d = (type: string) => taskMs[type] ?? DEFAULT_TASK_MS;
  const vmChains = plan.vms.map((vm) => {
    const work = vms.find((w) => w.vmid === vm.vmid);
    // Without a record of the run, assume the worst case the plan allows: a clone that grows its disk.
    const cloned = work?.cloned ?? true;
    const resized = work?.resized ?? vm.diskSizeGb > TEMPLATE_DISK_GB;
    const started = work?.started ?? true;
    const steps: [string, number][] = [];
    if (cloned) steps.push([`qmclone ${vm.vmid}`, d('qmclone')]);
    else if (vm.adopt) steps.push([`adopt ${vm.vmid} (no clone)`, 0]);
    if (resized) steps.push([`resize ${vm.vmid}`, d('resize')]);
    if (started) steps.push([`qmstart ${vm.vmid}`, d('qmstart')], [`guest agent ${vm.vmid}`, agentDelayMs]);
    if (work && work.guestCommands > 0)
      steps.push([`provisioning ${vm.vmid} (${work.guestCommands} guest commands)`, work.guestCommandMs]);
    return steps;
  });
  const later: [string, number][] = laterGuestCommandMs > 0 ? [['later guest commands', laterGuestCommandMs]] : [];
  const jobs = plan.backups.enabled ? cts.backupJobs : 0;
  const backups: [string, number][] =
    jobs === 0
      ? []
      : [[jobs === 1 ? 'vzdump' : `vzdump ×${jobs} one after another (the node's backup lock)`, jobs * d('vzdump')]];
  const ctChain: [string, number][] =
    cts.deleted > 0 ? [...backups, ['vzshutdown', d('vzshutdown')], ['vzdestroy', d('vzdestroy')]] : [];
  const total = (c: [string, number][]) => c.reduce((n, [, ms]) => n + ms, 0);
  const longestVm = vmChains.reduce((a, b) => (total(b) > total(a) ? b : a), [] as [string, number][]);
  const chain = [...longestVm, ...later, ...ctChain];
  return {
    seconds: Math.round(total(chain)) / 1000,
    chain: chain.map(([n, ms]) => `${n} ${Math.round(ms) / 1000} s`),
  };
}

/** The vzdump jobs the node started (a lost answer still started one; a refused call did not). */
export function backupJobsIn(events: LabEvent[]): number {
  return events.filter(
    (e) => e.kind === 'proxmox' && e.method === 'POST' && String(e.path).endsWith('/vzdump') && e.effect === true,
  ).length;
}

/**
 * Phase 3's work per VM in the run that `report` describes: the Proxmox tasks from ensureVm's changes, the guest
 * commands (sandbox `guest-exec` events with their run time) that ended within the Phase 3 window; and the guest
 * commands after it, as the length of the union of their intervals.
 */
export function measuredVmWork(
  report: {
    vms: { vmid: number; created: boolean; changes: string[] }[];
    phases: { name: string; startedAt?: string; endedAt?: string }[];
  },
  events: LabEvent[],
  runEndMs: number,
): { vms: VmWork[]; laterGuestCommandMs: number } {
  const phase3 = report.phases.find((p) => p.name === 'Infrastructure Provisioning');
  const from = phase3?.startedAt ? Date.parse(phase3.startedAt) : -Infinity;
  const to = phase3?.endedAt ? Date.parse(phase3.endedAt) : Infinity;
  const vmids = new Set(report.vms.map((v) => v.vmid));
  const execs = events
    .filter((e) => e.kind === 'guest-exec' && vmids.has(Number(e.vmid)) && typeof e.ms === 'number')
    .map((e) => ({ vmid: Number(e.vmid), end: Date.parse(e.time), ms: e.ms as number }));
  const vms = report.vms.map((v) => {
    const mine = execs.filter((x) => x.vmid === v.vmid && x.end >= from && x.end <= to);
    return {
      vmid: v.vmid,
      cloned: v.created,
      resized: v.changes.some((c) => c.startsWith('resize ')),
      started: v.changes.includes('start'),
      guestCommands: mine.length,
      guestCommandMs: mine.reduce((n, x) => n + x.ms, 0),
    };
  });
  const later = execs
    .filter((x) => x.end > to && x.end <= runEndMs)
    .map((x) => [x.end - x.ms, x.end] as const)
    .sort((a, b) => a[0] - b[0]);
  let laterGuestCommandMs = 0;
  let reach = -Infinity;
  for (const [start, end] of later) {
    laterGuestCommandMs += Math.max(0, end - Math.max(start, reach));
    reach = Math.max(reach, end);
  }
  return { vms, laterGuestCommandMs };
}

function coldStart(mode: 'prebuilt' | 'bundle', address: string): number {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'cold-start.js'), mode, address], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"mode"'));
  if (!line) throw new Error(`cold start (${mode}) failed: ${r.stderr.slice(-500)}`);
  return (JSON.parse(line) as { ms: number }).ms;
}

const median = (v: number[]) => percentile(v, 50);

const freeSlotsText = (w: SlotWatch) => SLOT_KINDS.map((k) => w.minFree[k] ?? '?').join(' / ');

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const args = parseArgs(argv);
  const say = (l: string) => process.stdout.write(`${l}\n`);
  const taskMs = Object.fromEntries(Object.entries(BENCH_TASK_MS).map(([k, v]) => [k, Math.round(v * args.scale)]));
  const agentDelayMs = Math.round(BENCH_AGENT_DELAY_MS * args.scale);
  say(
    `bench: ${os.cpus().length} CPU(s), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; task durations ${JSON.stringify(taskMs)}, guest agent ${agentDelayMs} ms; fleet ${args.fleet}`,
  );
  // The workers' Prometheus metrics: their free slots through the fleets (slots.ts).
  const metricsPorts = [await freePort(), await freePort()];
  const lab = await startLabRun({
    dir: args.dir,
    world: {
      taskDurations: taskMs,
      defaultTaskMs: Math.round(DEFAULT_TASK_MS * args.scale),
      agentDelayMs,
      // Folded into the agent's 12 s: the bound and the figures stay comparable with earlier benches.
      cloudInitMs: 0,
    },
    workerEnv: { PHOENIX_METRICS_PORT: String(metricsPorts[0]) },
  });
  try {
    const { world, client } = lab;
    // VM 1001 as the single run finds it (it adopts and converges it): each fleet tenant starts from the same.
    const adoptable = existingVms(world);

    // ── a) one migration vs its critical path ───────────────────────────────────────────────────────────────
    say('a) one migration …');
    const handle = await startMigration(client, { plan: world.plan, digest: world.digest });
    const single = await driveRun({
      client,
      workflowId: handle.workflowId,
      world,
      autoConfirm: true,
      say: () => undefined,
      pollMs: 100,
    });
    if (single.report?.outcome !== 'completed')
      throw new Error(`the single run did not complete: ${single.failure ?? single.state}`);
    const singleHistory = (await handle.fetchHistory()).events ?? [];
    const singleSeconds = (eventTimeMs(singleHistory[singleHistory.length - 1]) - eventTimeMs(singleHistory[0])) / 1000;
    const singleEndMs = eventTimeMs(singleHistory[singleHistory.length - 1]);
    const singleEvents = world.events.read();
    const work = measuredVmWork(single.report, singleEvents, singleEndMs);
    // The lab's auto-confirm records when it sent each answer; everything in the log so far is the single run's.
    const singleAnswers = singleEvents
      .filter((e) => e.kind === 'confirmation' && typeof e.sentAt === 'string')
      .map((e) => ({ update: String(e.what), sentAtMs: Date.parse(e.sentAt as string) }));
    const bound = criticalPath(
      world.plan,
      taskMs,
      agentDelayMs,
      { deleted: single.report.decommission.deleted.length, backupJobs: backupJobsIn(singleEvents) },
      work.vms,
      work.laterGuestCommandMs,
    );
    const criticalPathRatio = singleSeconds / bound.seconds;
    const seconds = (x: { startedAt?: string; endedAt?: string }) =>
      x.startedAt && x.endedAt ? ((Date.parse(x.endedAt) - Date.parse(x.startedAt)) / 1000).toFixed(2) : undefined;
    for (const p of single.report.phases) {
      if (seconds(p) === undefined) continue;
      say(`   phase ${p.name}: ${seconds(p)} s`);
      // Where the time goes, step by step (the steps of a phase overlap where the run does things in parallel).
      for (const s of single.report.steps.filter((x) => x.phase === p.name && seconds(x) !== undefined))
        say(`     ${s.name}: ${seconds(s)} s`);
    }
    say(
      `   ${singleSeconds.toFixed(1)} s vs lower bound ${bound.seconds} s (${bound.chain.join(' → ')}) → ratio ${criticalPathRatio.toFixed(3)}`,
    );

    // ── b) the fleet, on a freshly started worker (so its peak RSS is the fleet's) ──────────────────────────
    say(`b) fleet of ${args.fleet} …`);
    await lab.worker.stop();
    await lab.worker.start();
    const tenants = await addTenants(world, args.fleet, 0, adoptable);
    const fleetStart = Date.now();
    let rssPeakSampled = 0;
    const sampler = setInterval(
      () => (rssPeakSampled = Math.max(rssPeakSampled, peakRssMiB(lab.worker.pid()) ?? 0)),
      2000,
    );
    const slotsOneWorker = watchSlots(metricsPorts[0]);
    const runs = await runFleet(client, world, tenants);
    const slotWatch = await slotsOneWorker.stop();
    clearInterval(sampler);
    const fleetWall = (Date.now() - fleetStart) / 1000;
    const workerPeakRssMiB = peakRssMiB(lab.worker.pid()) ?? rssPeakSampled;
    const durations = runs.filter((r) => r.outcome === 'completed').map((r) => r.seconds);
    const fleetCompleted = durations.length;
    const failed = runs.filter((r) => r.outcome !== 'completed');
    for (const f of failed.slice(0, 5)) say(`   ${f.handle.workflowId}: ${f.outcome}`);
    const p50 = percentile(durations, 50);
    const p95 = percentile(durations, 95);
    say(
      `   ${fleetCompleted}/${args.fleet} completed in ${fleetWall.toFixed(1)} s; p50 ${p50.toFixed(1)} s, p95 ${p95.toFixed(1)} s; worker peak RSS ${workerPeakRssMiB} MiB`,
    );
    const growth = stepGrowth(single.report.steps, runs);
    say('   where the fleet loses time (median step time, fleet vs single run):');
    for (const g of growth) say(`     ${g.step}: ${g.fleetP50Seconds} s vs ${g.singleSeconds} s`);

    // ── b2) the same fleet size on two worker processes (same task queue), on fresh tenants ─────────────────
    say(`b2) fleet of ${args.fleet} on two workers …`);
    const second = workerProcess({
      projectRoot: PROJECT_ROOT,
      address: lab.temporal.address,
      env: { ...world.workerEnv, PHOENIX_LOG_LEVEL: 'info', PHOENIX_METRICS_PORT: String(metricsPorts[1]) },
      logFile: path.join(lab.dir, 'worker-2.log'),
    });
    await second.start();
    const tenants2 = await addTenants(world, args.fleet, args.fleet, adoptable);
    const fleet2Start = Date.now();
    const slotsTwoWorkers = metricsPorts.map((port) => watchSlots(port));
    const runs2 = await runFleet(client, world, tenants2);
    const slotWatchesTwoWorkers = await Promise.all(slotsTwoWorkers.map((w) => w.stop()));
    const fleetWallTwoWorkers = (Date.now() - fleet2Start) / 1000;
    const fleet2Completed = runs2.filter((r) => r.outcome === 'completed').length;
    for (const f of runs2.filter((r) => r.outcome !== 'completed').slice(0, 5))
      say(`   ${f.handle.workflowId}: ${f.outcome}`);
    await second.stop();
    say(`   ${fleet2Completed}/${args.fleet} completed in ${fleetWallTwoWorkers.toFixed(1)} s`);
    // Side effects over everything the bench ran (single run and both fleets): a clone or delete twice is a defect.
    const effects = countEffects(world.events.read(), lab.initialSiteSha);
    const duplicateClonesAndDeletes = [...Object.values(effects.clones), ...Object.values(effects.deletes)].filter(
      (n) => n > 1,
    ).length;

    // ── c) confirmation → next activity start ─────────────────────────────────────────────────────────────
    const singleLatencies = confirmationLatenciesMs(singleHistory, singleAnswers);
    const fromSent = [...singleLatencies.fromSent];
    const fromAccepted = [...singleLatencies.fromAccepted];
    const fromCompleted = [...singleLatencies.fromCompleted];
    const scheduleToStart: number[] = [];
    // Workflow tasks that timed out, by kind: waiting on the sticky queue (its 2 s) or running past their 5 s.
    const workflowTaskTimeouts = { scheduleToStart: 0, startToClose: 0 };
    for (const r of runs) {
      const events = (await r.handle.fetchHistory()).events ?? [];
      for (const e of events) {
        const type = e.workflowTaskTimedOutEventAttributes?.timeoutType;
        if (type === temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START)
          workflowTaskTimeouts.scheduleToStart++;
        else if (type === temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE)
          workflowTaskTimeouts.startToClose++;
      }
      const l = confirmationLatenciesMs(events, r.answers);
      fromSent.push(...l.fromSent);
      fromAccepted.push(...l.fromAccepted);
      fromCompleted.push(...l.fromCompleted);
      scheduleToStart.push(...scheduleToStartMs(events));
    }

    // A task waits for a slot only while none of its kind is free; else its scheduled → started is dispatch alone.
    const slotsNeverOut = neverOutOfSlots(slotWatch);

    // ── d) cold start ─────────────────────────────────────────────────────────────────────────────────────
    say('d) worker cold starts …');
    const prebuilt: number[] = [];
    const bundled: number[] = [];
    for (let i = 0; i < args.coldStarts; i++) {
      prebuilt.push(coldStart('prebuilt', lab.temporal.address));
      bundled.push(coldStart('bundle', lab.temporal.address));
    }

    const result = {
      criticalPathRatio: round(criticalPathRatio, 3),
      singleRunSeconds: round(singleSeconds, 1),
      criticalPathSeconds: bound.seconds,
      criticalPathChain: bound.chain,
      fleetSize: args.fleet,
      fleetCompleted,
      fleetWallSeconds: round(fleetWall, 1),
      fleetP50Seconds: round(p50, 1),
      fleetP95Seconds: round(p95, 1),
      fleetP50VsSingle: round(p50 / singleSeconds, 2),
      fleetP95VsSingle: round(p95 / singleSeconds, 2),
      workerPeakRssMiB,
      fleetWallSecondsOneWorker: round(fleetWall, 1),
      fleetStepGrowth: growth,
      fleetWallSecondsTwoWorkers: round(fleetWallTwoWorkers, 1),
      fleetTwoWorkersCompleted: fleet2Completed,
      fleetDuplicateEffects: duplicateClonesAndDeletes,
      // Every run the bench started: the single run and both fleets.
      runs: 1 + 2 * args.fleet,
      runsCompleted: 1 + fleetCompleted + fleet2Completed,
      slotWaitP50Ms: slotsNeverOut ? 0 : percentile(scheduleToStart, 50),
      slotWaitP99Ms: slotsNeverOut ? 0 : percentile(scheduleToStart, 99),
      slotWaitBasis: slotsNeverOut
        ? `no slot kind ever ran out (${slotWatch.samples} samples)`
        : `${Object.keys(slotWatch.samplesWithoutFreeSlot).join(', ')} ran out: scheduled → started, an upper bound`,
      minFreeSlots: slotWatch.minFree,
      slotRunOutSamples: { ...slotWatch.samplesWithoutFreeSlot, of: slotWatch.samples },
      // A sticky workflow task not taken within 2 s (the worker had no free slot to poll with) or one that ran past
      // its 5 s (a busy worker): each costs its run that time.
      fleetWorkflowTaskTimeouts: workflowTaskTimeouts,
      minFreeSlotsTwoWorkers: slotWatchesTwoWorkers.map((w) => w.minFree),
      scheduleToStartP50Ms: percentile(scheduleToStart, 50),
      scheduleToStartP99Ms: percentile(scheduleToStart, 99),
      // What the goal means: the person sends the answer → the run's next activity starts.
      confirmToActivityP50Ms: percentile(fromSent, 50),
      confirmToActivityP99Ms: percentile(fromSent, 99),
      confirmToActivityMaxMs: percentile(fromSent, 100),
      acceptedToActivityP50Ms: percentile(fromAccepted, 50),
      acceptedToActivityP99Ms: percentile(fromAccepted, 99),
      answeredToActivityP50Ms: percentile(fromCompleted, 50),
      answeredToActivityP99Ms: percentile(fromCompleted, 99),
      confirmToActivitySamples: fromSent.length,
      confirmToActivitySingleRunMs: singleLatencies.fromSent,
      coldStartPrebuiltMs: median(prebuilt),
      coldStartBundleMs: median(bundled),
      coldStartRuns: args.coldStarts,
      machine: { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      scale: args.scale,
    };
    const rows: [string, string, string][] = [
      ['a', 'single migration wall time', `${result.singleRunSeconds} s`],
      ['a', 'critical-path lower bound', `${result.criticalPathSeconds} s`],
      ['a', 'criticalPathRatio (goal ≤ 1.04)', String(result.criticalPathRatio)],
      ['b', `fleet completed`, `${fleetCompleted}/${args.fleet} in ${result.fleetWallSeconds} s`],
      ['b', 'fleet p50 / p95 duration', `${result.fleetP50Seconds} s / ${result.fleetP95Seconds} s`],
      ['b', 'p50 / p95 vs single run', `${result.fleetP50VsSingle}× / ${result.fleetP95VsSingle}×`],
      ['b', 'worker peak RSS (VmHWM)', `${workerPeakRssMiB} MiB`],
      ['b', 'slot wait p50 / p99', `${result.slotWaitP50Ms} ms / ${result.slotWaitP99Ms} ms (${result.slotWaitBasis})`],
      ['b', 'fewest free slots, workflow / activity / local', freeSlotsText(slotWatch)],
      [
        'b',
        'activity scheduled → started p50 / p99',
        `${result.scheduleToStartP50Ms} ms / ${result.scheduleToStartP99Ms} ms`,
      ],
      [
        'b2',
        'fleet wall time, one / two workers',
        `${result.fleetWallSecondsOneWorker} s / ${result.fleetWallSecondsTwoWorkers} s`,
      ],
      ['b', 'duplicate clones or deletes (all runs)', String(duplicateClonesAndDeletes)],
      ['b2', 'runs completed (single + both fleets)', `${result.runsCompleted}/${result.runs}`],
      [
        'c',
        'confirmation sent → next activity start p50 / p99',
        `${result.confirmToActivityP50Ms} ms / ${result.confirmToActivityP99Ms} ms (${fromSent.length} samples, max ${result.confirmToActivityMaxMs} ms)`,
      ],
      [
        'c',
        'update accepted (in history) → next activity p50 / p99',
        `${result.acceptedToActivityP50Ms} ms / ${result.acceptedToActivityP99Ms} ms`,
      ],
      [
        'c',
        'answer given → next activity start p50 / p99',
        `${result.answeredToActivityP50Ms} ms / ${result.answeredToActivityP99Ms} ms`,
      ],
      ['d', 'worker cold start, prebuilt bundle (median)', `${result.coldStartPrebuiltMs} ms`],
      ['d', 'worker cold start, bundling at start (median)', `${result.coldStartBundleMs} ms`],
    ];
    say('');
    for (const [part, what, value] of rows) say(`${part}  ${what.padEnd(48)} ${value}`);
    say('(2 shared cores: figures are noisy; see BENCHMARKS.md)');
    if (args.json) say(JSON.stringify(result));
    for (const t of [...tenants, ...tenants2]) await Promise.all([t.legacy.stop(), t.fresh.stop()]);
    return fleetCompleted === args.fleet && fleet2Completed === args.fleet && duplicateClonesAndDeletes === 0 ? 0 : 1;
  } finally {
    await lab.stop();
    fs.rmSync(args.dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
      process.exit(2);
    },
  );
}
