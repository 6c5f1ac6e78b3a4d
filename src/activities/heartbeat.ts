import { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';

/** The details each running activity last reported: a heartbeat without details repeats them, never erases them. */
const lastDetails = new WeakMap<Context, unknown>();

/**
 * Heartbeat when running inside a Temporal activity (a no-op when called directly: tests, scripts), and stop at this
 * safe point when the activity was cancelled (the run was cancelled, or the worker is shutting down) instead of
 * going on to the next change: every step before it is done and visible in live state, so a retry converges.
 */
export function heartbeat(details?: unknown): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return; // Not in an activity context.
  }
  if (details !== undefined) lastDetails.set(ctx, details);
  ctx.heartbeat(lastDetails.get(ctx));
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('activity cancelled');
}

/** How often the keep-alive heartbeats (the SDK sends at most one per `maxHeartbeatThrottleInterval`, src/worker.ts). */
export const KEEP_ALIVE_EVERY_MS = 1_000;

/**
 * Worker interceptor: while an activity runs, heartbeat every second with its last details. The heartbeat timeout
 * then measures one thing — is the worker that holds this attempt alive? — whatever the activity is awaiting (an SSH
 * command, a long HTTP call). A crashed worker is noticed within the timeout (5 s); a stalled-but-alive step is bounded
 * by its own timeout (SSH command, HTTP request, Proxmox task wait) and the activity's start-to-close instead.
 * Cancellation is still acted on at the activity's own safe points (`heartbeat()` above).
 */
export function keepAliveInterceptor(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const timer = setInterval(() => ctx.heartbeat(lastDetails.get(ctx)), KEEP_ALIVE_EVERY_MS);
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  };
}
