/**
 * How the worker is sized: its activities mostly wait (Proxmox tasks, the guest agent, SSH, HTTP probes) and use
 * almost no CPU or memory while they do, so slots are not the scarce resource and must never make a run wait.
 * BENCHMARKS.md has the measurements behind each number.
 */
import * as v8 from 'node:v8';
import type { WorkerOptions } from '@temporalio/worker';

/**
 * Activity slots. The SDK's default (100) is sized for CPU-bound work: a fleet's Proxmox waits held all of them and
 * 200 `ensureVm` ran in two waves, and a confirmation's check waited for a free slot (p99 49 s). A fixed, large
 * number is what an I/O-bound worker wants (a resource-based tuner would measure CPU/RAM, which waiting does not use);
 * `PHOENIX_ACTIVITY_SLOTS` overrides it.
 */
export const DEFAULT_ACTIVITY_SLOTS = 1_000;

/**
 * Workflow task slots. A run has at most one workflow task at a time, but a status query takes a slot too: a worker
 * serving N runs that people watch needs more than N. The SDK's default (40) ran out in the fleet of 100, and 100 did
 * once; with 200 at most 114 were taken (BENCHMARKS.md, "Results of 2026-12-02, morning"). A workflow task is
 * milliseconds of CPU, so that many at once still finish well inside the 5 s workflow task timeout (none ran past it);
 * `PHOENIX_WORKFLOW_SLOTS` overrides it.
 */
export const DEFAULT_WORKFLOW_SLOTS = 200;

/** The SDK sends heartbeats at most this often; with the 5 s heartbeat timeout that leaves two missed sends. */
export const HEARTBEAT_SEND_EVERY = '2s';

/** How long a run's workflow task waits for the worker that has the run cached before any worker may take it. */
export const STICKY_QUEUE_TIMEOUT = '2s';

export function ioBoundWorkerOptions(
  env: NodeJS.ProcessEnv = process.env,
): Pick<
  WorkerOptions,
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'maxHeartbeatThrottleInterval'
  | 'stickyQueueScheduleToStartTimeout'
> {
  return {
    maxConcurrentActivityTaskExecutions: slotsFromEnv(env, 'PHOENIX_ACTIVITY_SLOTS', DEFAULT_ACTIVITY_SLOTS),
    maxConcurrentWorkflowTaskExecutions: slotsFromEnv(env, 'PHOENIX_WORKFLOW_SLOTS', DEFAULT_WORKFLOW_SLOTS),
    maxHeartbeatThrottleInterval: HEARTBEAT_SEND_EVERY,
    // A run's next workflow task goes to the worker that has it cached; when that worker died, the task moves to the
    // shared queue after this (SDK default 10 s).
    stickyQueueScheduleToStartTimeout: STICKY_QUEUE_TIMEOUT,
  };
}

function slotsFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (!raw) return fallback;
  const slots = Number(raw);
  if (!(Number.isInteger(slots) && slots >= 1))
    throw new Error(
      `${name} must be a whole number ≥ 1 (got ${JSON.stringify(raw)}); unset it for the default ${fallback}`,
    );
  return slots;
}

/**
 * How far V8 lets the old generation grow past what survived the last full GC, in percent. V8's own factor on a machine
 * with GBs of RAM is up to 4×: a fleet's worker (≈ 50 MB live) let its heap grow to 160 MB of mostly garbage — the
 * results of SSH reads and API calls that outlived a scavenge while the machine was busy — before one full GC freed
 * it, and that garbage was the worker's peak RSS. At 50 % the full GCs come sooner (each ≈ tens of ms on a heap this
 * size) and the peak follows the live size. A factor, not a cap: a bigger fleet's live heap still grows freely.
 * `PHOENIX_HEAP_GROWING_PERCENT` overrides it (0: V8's default); node's own `--heap-growing-percent` or
 * `--max-old-space-size` (on its command line or in NODE_OPTIONS) wins over both.
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 50;

const OPERATOR_HEAP_FLAGS = /--(heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size)\b/;

/** The V8 flag the worker sets for its heap growth, or undefined when it leaves V8's (or the operator's) choice. */
export function heapGrowthFlag(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): string | undefined {
  const raw = env.PHOENIX_HEAP_GROWING_PERCENT;
  const percent = raw === undefined || raw === '' ? DEFAULT_HEAP_GROWING_PERCENT : Number(raw);
  if (!(Number.isInteger(percent) && percent >= 0 && percent <= 1000)) {
    throw new Error(
      `PHOENIX_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000 (got ${JSON.stringify(raw)}); unset it for the default ${DEFAULT_HEAP_GROWING_PERCENT}, or 0 for V8's own growth`,
    );
  }
  if ([...execArgv, env.NODE_OPTIONS ?? ''].some((a) => OPERATOR_HEAP_FLAGS.test(a))) return undefined;
  return percent === 0 ? undefined : `--heap-growing-percent=${percent}`;
}

/**
 * Sets heapGrowthFlag()'s answer in this process. V8 reads the factor each time it sizes the heap after a full GC, so
 * setting it once the process runs works (measured: BENCHMARKS.md, "The worker's heap (run C → D)"); node documents
 * runtime flags as best-effort, and the worst case is V8's default growth.
 */
export function applyHeapGrowth(flag: string | undefined): void {
  if (flag) v8.setFlagsFromString(flag);
}
