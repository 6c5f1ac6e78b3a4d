/**
 * What chaos runs and the benchmark share: a lab world + Temporal dev server + worker process in a throwaway dir,
 * starting a migration, and reading figures out of a run's Temporal history.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { PROJECT_ROOT } from '../lab/lab';
import { temporalDevServer, workerProcess, type ManagedProcess, type TemporalDevServer } from '../lab/processes';
import { freePort } from '../lab/services/ports';
import { startWorld, type World, type WorldOptions } from '../lab/world';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The Temporal CLI: $TEMPORAL_CLI_PATH (set by scripts/bench.js and scripts/chaos.js), else found or installed. */
export function temporalCliPath(): string {
  if (process.env.TEMPORAL_CLI_PATH) return process.env.TEMPORAL_CLI_PATH;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ensureTemporalCli } = require(path.join(PROJECT_ROOT, 'scripts', 'ensure-temporal-cli.js')) as {
    ensureTemporalCli(): string;
  };
  return ensureTemporalCli();
}

export interface LabRun {
  dir: string;
  world: World;
  temporal: TemporalDevServer;
  /** The first worker process (of `workers`). */
  worker: ManagedProcess;
  /** Every worker process, all polling the same task queue. */
  workers: ManagedProcess[];
  client: Client;
  /** sha256 (16 hex) of the gateway site file before anything ran: the baseline for "effective" gateway changes. */
  initialSiteSha: string;
  stop(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function siteSha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
}

/** A fresh lab in `dir` (wiped first: --reset semantics), headless Temporal, `workers` (1) worker processes. */
export async function startLabRun(opts: {
  dir: string;
  world?: Omit<WorldOptions, 'dir'>;
  workerEnv?: Record<string, string>;
  workers?: number;
}): Promise<LabRun> {
  const dir = path.resolve(opts.dir);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  try {
    const world = await startWorld({ ...opts.world, dir });
    stops.push(() => world.stop());
    const initialSiteSha = siteSha(world.gateway.realSiteFile);
    const temporal = await temporalDevServer({
      cliPath: temporalCliPath(),
      dbFile: path.join(dir, 'temporal', 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
      ui: false,
      port: await freePort(),
    });
    await temporal.start();
    stops.push(() => temporal.stop());
    const workers: ManagedProcess[] = [];
    for (let i = 0; i < (opts.workers ?? 1); i++) {
      const worker = workerProcess({
        projectRoot: PROJECT_ROOT,
        address: temporal.address,
        env: { ...world.workerEnv, PHOENIX_LOG_LEVEL: 'info', ...opts.workerEnv },
        logFile: path.join(dir, i === 0 ? 'worker.log' : `worker-${i + 1}.log`),
      });
      await worker.start();
      stops.push(() => worker.stop());
      workers.push(worker);
    }
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const client = new Client({ connection });
    return { dir, world, temporal, worker: workers[0], workers, client, initialSiteSha, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export function eventTimeMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6);
}

/** When each activity completed (epoch ms), in order. */
export function activityCompletions(events: HistoryEvent[]): number[] {
  return events
    .filter((e) => e.activityTaskCompletedEventAttributes)
    .map(eventTimeMs)
    .sort((a, b) => a - b);
}

/**
 * For each restart: how long until the next activity completed (none after it → not counted). With `kills`, a restart
 * whose next completion comes only after another kill is not counted: that stretch belongs to the later kill, whose
 * own restart is measured (without `kills`, the stretch counts for both: the "including later kills" figure).
 */
export function recoveryTimesMs(restarts: number[], completions: number[], kills?: number[]): number[] {
  return restarts.flatMap((r) => {
    const next = completions.find((c) => c >= r);
    if (next === undefined) return [];
    if (kills?.some((k) => k > r && k < next)) return [];
    return [next - r];
  });
}

/**
 * Why a recovery took long: what the history shows between a restart and the next completed activity (event types,
 * activity types with their attempt) — printed by chaos for a recovery over its goal.
 */
export function describeRecovery(events: HistoryEvent[], restartMs: number): string {
  const scheduled = new Map<number, string>();
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(Number(e.eventId), s.activityType?.name ?? '?');
  }
  const after = events.filter((e) => eventTimeMs(e) >= restartMs);
  const end = after.findIndex((e) => e.activityTaskCompletedEventAttributes);
  const window = end === -1 ? after : after.slice(0, end + 1);
  return window
    .map((e) => {
      const at = `+${((eventTimeMs(e) - restartMs) / 1000).toFixed(1)}s`;
      // The event's type, named by its one attributes field (activityTaskStartedEventAttributes → ActivityTaskStarted).
      const field = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k as keyof HistoryEvent]);
      const type = field ? field[0].toUpperCase() + field.slice(1, -'EventAttributes'.length) : String(e.eventType);
      const started = e.activityTaskStartedEventAttributes;
      const done =
        e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskTimedOutEventAttributes;
      const ref = Number(started?.scheduledEventId ?? done?.scheduledEventId ?? 0);
      const what = ref ? ` ${scheduled.get(ref) ?? '?'}${started?.attempt ? ` attempt ${started.attempt}` : ''}` : '';
      return `${at} ${type}${what}`;
    })
    .join('; ');
}

/** An answer a person sent a run (an update's name), with when they first tried it. */
export interface PersonAnswer {
  update: string;
  sentAtMs: number;
}

/**
 * A person's answer → the next activity started, three ways: from when the person sent it (`sent`: what the person
 * waits through, the update's checks and any workflow task that ran out of time before it was accepted included), from
 * the update's acceptance in history (written when the workflow task that accepted it completed — under load long after
 * it was sent) and from the update's completion (the answer given). "Next" = the first ActivityTaskStarted at or after
 * the completion. `sent` pairs each accepted update with the person's send time of the same update name.
 */
export function confirmationLatenciesMs(
  events: HistoryEvent[],
  sent: PersonAnswer[] = [],
): { fromSent: number[]; fromAccepted: number[]; fromCompleted: number[] } {
  const out = { fromSent: [] as number[], fromAccepted: [] as number[], fromCompleted: [] as number[] };
  const starts = events
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map(eventTimeMs)
    .sort((a, b) => a - b);
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const unpaired = [...sent];
  for (const e of events) {
    const done = e.workflowExecutionUpdateCompletedEventAttributes;
    if (!done) continue;
    const at = eventTimeMs(e);
    const next = starts.find((s) => s >= at);
    if (next === undefined) continue;
    out.fromCompleted.push(next - at);
    const accepted = byId.get(Number(done.acceptedEventId));
    if (!accepted) continue;
    out.fromAccepted.push(next - eventTimeMs(accepted));
    const name = accepted.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
    const i = unpaired.findIndex((a) => a.update === name && a.sentAtMs <= at);
    if (i >= 0) out.fromSent.push(next - unpaired.splice(i, 1)[0].sentAtMs);
  }
  return out;
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Peak resident set (VmHWM) of a process, in MiB; undefined when /proc does not have it. */
export function peakRssMiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export const round = (n: number, digits = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

/**
 * How long each activity waited between being scheduled and being started by a worker (first attempts only: a retry's
 * wait includes its backoff) — with enough worker slots this is only dispatch latency.
 */
export function scheduleToStartMs(events: HistoryEvent[]): number[] {
  const scheduledAt = new Map<string, number>();
  const waits: number[] = [];
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes) scheduledAt.set(String(e.eventId), eventTimeMs(e));
    const started = e.activityTaskStartedEventAttributes;
    if (started && (started.attempt ?? 1) === 1) {
      const at = scheduledAt.get(String(started.scheduledEventId));
      if (at !== undefined) waits.push(eventTimeMs(e) - at);
    }
  }
  return waits;
}

/** A worker chaos killed: its pid (a worker's default identity is `pid@host`) and when. */
export interface KilledWorker {
  pid: number;
  atMs: number;
}

/**
 * Activities that completed only on a later attempt although no worker or server was killed while they ran: retries
 * of healthy activities (e.g. a heartbeat timeout on a worker that was alive but slow). A kill counts when it came
 * between the activity's scheduling and its end, or when it hit the worker that held the workflow task which scheduled
 * it, before the activity ended: that worker got the first attempt eagerly, in the answer to its task, and the server
 * may record the scheduling a moment after the worker died (seen in a chaos run: killed at .807, scheduled at .808).
 */
export function spuriousRetries(
  events: HistoryEvent[],
  killTimesMs: number[],
  killedWorkers: KilledWorker[] = [],
): number {
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  const startedAttempt = new Map<string, number>();
  let spurious = 0;
  for (const e of events) {
    if (e.activityTaskStartedEventAttributes)
      startedAttempt.set(String(e.eventId), e.activityTaskStartedEventAttributes.attempt ?? 1);
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (!done) continue;
    const attempt = startedAttempt.get(String(done.startedEventId)) ?? 1;
    if (attempt === 1) continue;
    const scheduled = byId.get(String(done.scheduledEventId));
    const from = scheduled ? eventTimeMs(scheduled) : 0;
    const to = eventTimeMs(e);
    if (killTimesMs.some((k) => k >= from && k <= to)) continue;
    if (killedWhileHoldingTheTask(byId, scheduled, to, killedWorkers)) continue;
    spurious++;
  }
  return spurious;
}

/** Whether the worker that held the workflow task which scheduled this activity was killed before the activity ended. */
function killedWhileHoldingTheTask(
  byId: Map<string, HistoryEvent>,
  scheduled: HistoryEvent | undefined,
  endMs: number,
  killedWorkers: KilledWorker[],
): boolean {
  const taskCompleted = byId.get(String(scheduled?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId));
  const attrs = taskCompleted?.workflowTaskCompletedEventAttributes;
  const taskStarted = byId.get(String(attrs?.startedEventId));
  if (!attrs?.identity || !taskStarted) return false;
  const pid = Number(attrs.identity.split('@')[0]);
  const heldFrom = eventTimeMs(taskStarted);
  return killedWorkers.some((w) => w.pid === pid && w.atMs >= heldFrom && w.atMs <= endMs);
}
