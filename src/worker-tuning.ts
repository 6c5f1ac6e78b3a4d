/**
 * How the worker is sized: its activities mostly wait (Proxmox tasks, the guest agent, SSH, HTTP probes) and use
 * almost no CPU or memory while they do, so slots are not the scarce resource and must never make a run wait.
 * BENCHMARKS.md has the measurements behind each number.
 */
import type { WorkerOptions } from '@temporalio/worker';

/**
 * Activity slots. The SDK's default (100) is sized for CPU-bound work: a fleet's Proxmox waits held all of them and
 * 200 `ensureVm` ran in two waves, and a confirmation's check waited for a free slot (p99 49 s). A fixed, large
 * number is what an I/O-bound worker wants (a resource-based tuner would measure CPU/RAM, which waiting does not use);
 * `PHOENIX_ACTIVITY_SLOTS` overrides it.
 */
export const DEFAULT_ACTIVITY_SLOTS = 1_000;

/** The SDK sends heartbeats at most this often; with the 5 s heartbeat timeout that leaves two missed sends. */
export const HEARTBEAT_SEND_EVERY = '2s';

/** How long a run's workflow task waits for the worker that has the run cached before any worker may take it. */
export const STICKY_QUEUE_TIMEOUT = '2s';

export function ioBoundWorkerOptions(
  env: NodeJS.ProcessEnv = process.env,
): Pick<
  WorkerOptions,
  'maxConcurrentActivityTaskExecutions' | 'maxHeartbeatThrottleInterval' | 'stickyQueueScheduleToStartTimeout'
> {
  const fromEnv = env.PHOENIX_ACTIVITY_SLOTS ? Number(env.PHOENIX_ACTIVITY_SLOTS) : undefined;
  if (fromEnv !== undefined && !(Number.isInteger(fromEnv) && fromEnv >= 1)) {
    throw new Error(
      `PHOENIX_ACTIVITY_SLOTS must be a whole number ≥ 1 (got ${JSON.stringify(env.PHOENIX_ACTIVITY_SLOTS)}); unset it for the default ${DEFAULT_ACTIVITY_SLOTS}`,
    );
  }
  return {
    maxConcurrentActivityTaskExecutions: fromEnv ?? DEFAULT_ACTIVITY_SLOTS,
    maxHeartbeatThrottleInterval: HEARTBEAT_SEND_EVERY,
    // A run's next workflow task goes to the worker that has it cached; when that worker died, the task moves to the
    // shared queue after this (SDK default 10 s).
    stickyQueueScheduleToStartTimeout: STICKY_QUEUE_TIMEOUT,
  };
}
