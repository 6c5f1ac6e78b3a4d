/**
 * The workflow's handles on the activities, with their options set once here. A call adds only what is its own
 * (its UI summary) with `executeWithOptions({ summary }, args)`, which merges over these.
 */
import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { MigrationActivities } from '../activities';

// The first retries come soon: after a worker crash the heartbeat timeout has already waited 3–5 s, and an activity
// killed on two attempts in a row spent the first retry's wait on top of two timeouts (chaos: 8.4 s with 1 s). Later
// retries back off as before, up to the same 30 s.
const retry: ActivityOptions['retry'] = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 20,
};
// A worker that dies mid-activity is noticed when its heartbeats stop: the timeout bounds how long a crash costs.
// The worker heartbeats every running activity each second (keepAliveInterceptor) and sends one at least every 2 s
// (src/worker-tuning.ts), so 5 s is two missed sends — chosen from chaos runs (BENCHMARKS.md: "Heartbeats").
const heartbeatTimeout = '5s';

/** Reads, checks and single changes: they answer within minutes. */
export const quick = proxyActivities<MigrationActivities>({ startToCloseTimeout: '2m', heartbeatTimeout, retry });

/** Work that waits on Proxmox tasks, copies or a verification budget. */
export const long = proxyActivities<MigrationActivities>({ startToCloseTimeout: '30m', heartbeatTimeout, retry });

/**
 * A VM's features in one activity: each step in it has its own deadline (cloud-init 15 min, an apply 20 min, a check
 * or verify 2 min), so this bounds their sum for the most features a VM gets — a hung but live worker, as a dead one
 * is noticed by its heartbeats.
 */
export const featureRuns = proxyActivities<MigrationActivities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout,
  retry,
});

/** Notifications must never block or fail the run. */
export const notifying = proxyActivities<MigrationActivities>({
  scheduleToCloseTimeout: '5m',
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5 },
});

/** Checks run inside a person's confirmation: bounded, so the caller gets an answer quickly. */
export const bounded = proxyActivities<MigrationActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 2, initialInterval: '1s' },
});

/**
 * The same checks as local activities: run by the worker that runs the confirmation, with no schedule → task queue →
 * start round trip through the server — the person waits for the answer, and under a busy server each of those hops
 * waits its turn (BENCHMARKS.md c).
 */
export const boundedHere = proxyLocalActivities<MigrationActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 2, initialInterval: '1s' },
});
