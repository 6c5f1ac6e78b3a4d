import { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';

/**
 * Every activity heartbeats through here. Temporal delivers a cancellation (the run was cancelled, or the worker is
 * shutting down) only to an activity that heartbeats, so every wait, probe loop and multi-step change calls
 * `heartbeat` between steps and waits with `pause`.
 */

/** The details each running activity last reported: a heartbeat without details repeats them, never erases them. */
const lastDetails = new WeakMap<Context, unknown>();

/** What every heartbeat of an activity carries besides its step's details (its progress, for a retry to resume from). */
const carried = new WeakMap<Context, Record<string, unknown>>();

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // Not in an activity context (tests, scripts).
  }
}

/**
 * Heartbeat when running inside a Temporal activity (a no-op when called directly: tests, scripts), and stop at this
 * safe point when the activity was cancelled instead of going on to the next change: every step before it is done
 * and visible in live state, so a retry converges.
 */
export function heartbeat(details?: unknown): void {
  const ctx = currentContext();
  if (!ctx) return;
  const progress = carried.get(ctx);
  if (progress && details !== undefined && typeof details === 'object') details = { ...details, ...progress };
  const changed = details !== undefined && !sameDetails(lastDetails.get(ctx), details);
  if (details !== undefined) lastDetails.set(ctx, details);
  // A local activity (the confirmation's checks) has no heartbeat: its workflow task stands for it. Unchanged details
  // only say "alive", which the keep-alive says every second anyway; each call costs the worker's main thread an
  // encoding and a call into the SDK's core, on every poll of every running activity (10 s of a fleet's 88 s).
  if (!ctx.info.isLocal && (changed || !sentRecently(ctx))) send(ctx);
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('activity cancelled');
}

/**
 * From now on every heartbeat of this activity carries `progress` (with whatever its current step reports), and this
 * one goes out now: a retry reads it back with `heartbeatDetails()`. A no-op outside an activity.
 */
export function carryInHeartbeats(progress: Record<string, unknown>): void {
  const ctx = currentContext();
  if (!ctx) return;
  carried.set(ctx, progress);
  const last = lastDetails.get(ctx);
  heartbeat(last !== null && typeof last === 'object' ? last : {});
}

/** When each running activity last handed its details to the SDK (which sends at most one per throttle interval). */
const lastSentAt = new WeakMap<Context, number>();

function send(ctx: Context): void {
  ctx.heartbeat(lastDetails.get(ctx));
  lastSentAt.set(ctx, Date.now());
}

function sentRecently(ctx: Context): boolean {
  return Date.now() - (lastSentAt.get(ctx) ?? -Infinity) < KEEP_ALIVE_EVERY_MS;
}

function sameDetails(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false; // not JSON (the SDK would refuse it too): treat as news
  }
}

/** Wait `ms`, ending at once (rejecting with the cancellation) when the activity is cancelled meanwhile. */
export async function pause(ms: number): Promise<void> {
  const ctx = currentContext();
  if (!ctx) return new Promise((resolve) => setTimeout(resolve, ms));
  await ctx.sleep(ms);
}

/** What an earlier attempt of this activity last heartbeated (undefined on a first attempt or outside an activity). */
export function heartbeatDetails<T>(): T | undefined {
  return currentContext()?.info.heartbeatDetails as T | undefined;
}

/** How often the keep-alive heartbeats (the SDK sends at most one per `maxHeartbeatThrottleInterval`, src/worker.ts). */
export const KEEP_ALIVE_EVERY_MS = 1_000;

/**
 * Worker interceptor: while an activity runs, heartbeat every second with its last details. The heartbeat timeout
 * then measures one thing — is the worker that holds this attempt alive? — whatever the activity is awaiting (an SSH
 * command, a long HTTP call). A crashed worker is noticed within the timeout (5 s); a stalled-but-alive step is bounded
 * by its own timeout (SSH command, HTTP request, Proxmox task wait) and the activity's start-to-close instead.
 * Cancellation is still acted on at the activity's own safe points (`heartbeat()` and `pause()` above).
 */
export function keepAliveInterceptor(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        if (ctx.info.isLocal) return next(input);
        const timer = setInterval(() => sentRecently(ctx) || send(ctx), KEEP_ALIVE_EVERY_MS);
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  };
}
