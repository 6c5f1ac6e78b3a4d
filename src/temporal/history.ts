/**
 * The history of a migration: every run of its chain (a long wait continues as new, so one migration may be several
 * runs under one workflow id), oldest first. One export format for the CLI, the lab and tests:
 * a single run is written as the plain history JSON (what `temporal workflow show --output json` and replay tools
 * read); a chain as `{ workflowId, runs: [{ runId, history }] }`.
 */
import type { WorkflowClient } from '@temporalio/client';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';

export interface RunHistory {
  runId: string;
  history: History;
}

/** Walks back from the newest run through `continuedExecutionRunId` to the first. */
export async function fetchRunChain(client: WorkflowClient, workflowId: string): Promise<RunHistory[]> {
  const chain: RunHistory[] = [];
  let runId: string | undefined = (await client.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history: History = await client.getHandle(workflowId, runId).fetchHistory();
    chain.unshift({ runId, history });
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    runId = started?.continuedExecutionRunId || undefined;
  }
  return chain;
}

export function historyExportJSON(workflowId: string, chain: RunHistory[]): string {
  if (chain.length === 1) return historyToJSON(chain[0].history);
  const runs = chain.map(({ runId, history }) => ({ runId, history: JSON.parse(historyToJSON(history)) }));
  return JSON.stringify({ workflowId, runs }, null, 2);
}

/** Reads either export format back, oldest run first. */
export function parseHistoryExport(text: string): RunHistory[] {
  const parsed = JSON.parse(text) as { runs?: { runId: string; history: unknown }[] };
  if (!parsed.runs) return [{ runId: '', history: historyFromJSON(parsed) }];
  return parsed.runs.map((r) => ({ runId: r.runId, history: historyFromJSON(r.history) }));
}
