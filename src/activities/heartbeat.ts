import { Context } from '@temporalio/activity';

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
  ctx.heartbeat(details);
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('activity cancelled');
}
