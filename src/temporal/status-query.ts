/**
 * The run's `status` query with a deadline. Temporal hands a query to the worker that has the run (or to a poll in
 * flight); when that worker dies with the query in hand, the query waits out the server's 30 s — chaos series 19,
 * run 15: the lab's person saw nothing for 25 s after a kill while the run waited, healthy, for them. A query asked
 * again goes to a live worker.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../workflows/messages';
import type { MigrationStatus } from '../workflows/status';

/** A healthy worker answers in milliseconds; a busy fleet's in about a second. */
export const STATUS_QUERY_TIMEOUT_MS = 5_000;

export function queryStatus(handle: WorkflowHandle, timeoutMs = STATUS_QUERY_TIMEOUT_MS): Promise<MigrationStatus> {
  return handle.client.connection.withDeadline(Date.now() + timeoutMs, () => handle.query(statusQuery));
}

/** What the run waits for by its memo (`waitingFor`), for when its worker cannot answer a query. */
export function memoWaitingFor(memo: Record<string, unknown> | undefined): string | undefined {
  const w = memo?.waitingFor;
  return typeof w === 'string' ? w : undefined;
}
