/**
 * Run-level commands: start, status, watch, the operator's answers, cancel and history. They talk to Temporal
 * only through the client and the shared message definitions, never to activities.
 */
import fs from 'node:fs';
import os from 'node:os';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { loadAndResolvePlan } from '../config';
import type { MigrationInput } from '../config/resolved-plan';
import { loadTemporalTarget, webUiUrl, type TemporalTarget } from '../temporal/connection';
import { fetchRunChain, historyExportJSON } from '../temporal/history';
import { startMigration, workflowIdFor } from '../temporal/start';
import { memoWaitingFor, queryStatus, STATUS_QUERY_TIMEOUT_MS } from '../temporal/status-query';
import {
  abortUpdate,
  approveDecommissionUpdate,
  confirmPortainerDeployUpdate,
  reindexDoneUpdate,
  retryVerificationUpdate,
  type OperatorAction,
} from '../workflows/messages';
import { continueCommandFor } from '../workflows/continue-commands';
import type { MigrationReport } from '../workflows/report';
import { endsByItself, type MigrationStatus, type WaitingFor } from '../workflows/status';
import { deliverAnswer, DEFAULT_ANSWER_WAIT_SECONDS } from './answer';
import { CliError, ExitCode, type CliIo } from './io';
import { printProblems, rankedLines } from './problems';
import { selfCommand } from './self';

export interface ConnectionFlags {
  profile?: string;
  address?: string;
  namespace?: string;
}

export interface RunRef extends ConnectionFlags {
  plan?: string;
  id?: string;
}

export async function connect(
  flags: ConnectionFlags,
): Promise<{ client: Client; target: TemporalTarget; close(): Promise<void> }> {
  let target: TemporalTarget;
  try {
    target = loadTemporalTarget(flags);
  } catch (err) {
    // A profile that does not exist, or a temporal.toml that does not parse: the person's input, not a failed run.
    throw new CliError(
      (err as Error).message.split('\n')[0],
      'check --profile / TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE and the TEMPORAL_* variables',
      ExitCode.badInput,
    );
  }
  let connection: Connection;
  try {
    const { address, tls, apiKey, metadata } = target.connectionOptions;
    connection = await Connection.connect({ address, tls, apiKey, metadata, connectTimeout: '5s' });
  } catch (err) {
    throw new CliError(
      `cannot reach the Temporal server at ${target.address}: ${(err as Error).message}`,
      'start one (`npm run lab` does, or `temporal server start-dev`), or set TEMPORAL_ADDRESS / --address',
      ExitCode.unavailable,
    );
  }
  return { client: new Client({ connection, namespace: target.namespace }), target, close: () => connection.close() };
}

/** `--id` wins; otherwise the id derives from the plan's name, so the plan file is only read for its name. */
export function resolveRunId(ref: RunRef): string {
  if (ref.id && ref.plan) {
    // Both given: --id would win silently, so a --plan naming another run would be ignored. Refuse that case.
    const resolved = loadAndResolvePlan(ref.plan);
    const planRun = resolved.ok ? workflowIdFor(resolved.plan.name) : undefined;
    if (planRun !== ref.id)
      throw new CliError(
        `--id ${ref.id} and --plan ${ref.plan} name different runs${planRun ? ` (the plan's run is ${planRun})` : ' (the plan is not valid)'}`,
        'give only one of them: --id for a run by its id, --plan for the run of that plan',
        ExitCode.badInput,
      );
  }
  if (ref.id) return ref.id;
  if (!ref.plan)
    throw new CliError(
      'which run? no --id or --plan given',
      'pass --id migration-<plan name> or --plan FILE',
      ExitCode.badInput,
    );
  const resolved = loadAndResolvePlan(ref.plan);
  if (!resolved.ok)
    throw new CliError(
      `the plan ${ref.plan} is not valid`,
      `run: ${selfCommand()} validate --plan ${ref.plan}`,
      ExitCode.badInput,
    );
  return workflowIdFor(resolved.plan.name);
}

export function operator(by?: string, note?: string): OperatorAction {
  return { by: by ?? process.env.USER ?? os.userInfo().username, ...(note ? { note } : {}) };
}

export async function runStart(
  opts: ConnectionFlags & { plan: string; dryRun?: boolean; id?: string },
  io: CliIo,
): Promise<number> {
  const resolved = loadAndResolvePlan(opts.plan);
  if (!resolved.ok) {
    printProblems(resolved.problems, io);
    return ExitCode.badInput;
  }
  for (const line of rankedLines(resolved.warnings)) io.err(line);
  const { plan, digest } = resolved;
  const input: MigrationInput = { plan, digest, ...(opts.dryRun ? { dryRun: true } : {}) };
  const workflowId =
    opts.id ?? (opts.dryRun ? `${workflowIdFor(plan.name)}-plan-${Date.now()}` : workflowIdFor(plan.name));
  const { client, target, close } = await connect(opts);
  try {
    // PHOENIX_TASK_QUEUE: the same variable the worker reads, so a run started here reaches that worker.
    await startMigration(client, input, { workflowId, taskQueue: process.env.PHOENIX_TASK_QUEUE || undefined });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new CliError(
        `a run of plan ${plan.name} is already open: ${workflowId}`,
        `follow it with: ${selfCommand()} watch --id ${workflowId}${connectionArgs(opts)}`,
        ExitCode.conflict,
      );
    }
    throw err;
  } finally {
    await close();
  }
  io.out(`started ${workflowId}`);
  io.out(`Temporal UI: ${webUiUrl(target, workflowId)}`);
  io.out(`follow it:   ${selfCommand()} watch --id ${workflowId}${connectionArgs(opts)}`);
  return ExitCode.ok;
}

export async function withRun<T>(
  ref: RunRef,
  fn: (handle: WorkflowHandle, ctx: { target: TemporalTarget; workflowId: string }) => Promise<T>,
): Promise<T> {
  const workflowId = resolveRunId(ref);
  const { client, target, close } = await connect(ref);
  try {
    return await fn(client.workflow.getHandle(workflowId), { target, workflowId });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || isGrpcNotFound(err)) {
      throw new CliError(
        `no run ${workflowId} on ${target.address} (namespace ${target.namespace})`,
        `start one with: ${selfCommand()} start --plan FILE${connectionArgs(ref)}`,
        ExitCode.notFound,
      );
    }
    throw err;
  } finally {
    await close();
  }
}

export interface RunSnapshot {
  workflowId: string;
  state: string;
  status?: MigrationStatus;
  /** While the run waits for a person: the command that continues it (the CLI's words, not the run's). */
  continueWith?: string;
  report?: MigrationReport;
  failure?: string;
}

/** The run's live status (query) plus, once closed, its result or failure. */
export async function snapshot(handle: WorkflowHandle, workflowId: string): Promise<RunSnapshot> {
  const desc = await handle.describe();
  const state = desc.status.name;
  const snap: RunSnapshot = { workflowId, state };
  try {
    snap.status = await queryStatus(handle);
    const w = snap.status.waitingFor;
    if (w) snap.continueWith = continueCommandFor(w.what, workflowId);
  } catch {
    // A closed run whose worker is gone cannot answer queries; its result still tells the story. A running one whose
    // worker is restarting still says in its memo what it waits for.
    const what = state === 'RUNNING' ? memoWaitingFor(desc.memo) : undefined;
    if (what) snap.continueWith = continueCommandFor(what as WaitingFor, workflowId);
  }
  if (state === 'COMPLETED') snap.report = (await handle.result()) as MigrationReport;
  if (state === 'FAILED') {
    try {
      await handle.result();
    } catch (err) {
      snap.failure = causeMessage(err);
    }
  }
  return snap;
}

export async function runStatus(ref: RunRef & { json?: boolean }, io: CliIo): Promise<number> {
  return withRun(ref, async (handle, { target, workflowId }) => {
    const snap = await snapshot(handle, workflowId);
    if (ref.json) io.out(JSON.stringify(snap, null, 2));
    else io.out(renderSnapshot(snap, webUiUrl(target, workflowId), ref));
    return exitCodeOf(snap);
  });
}

export function exitCodeOf(snap: RunSnapshot): number {
  if (snap.state === 'COMPLETED')
    return snap.report?.outcome === 'completed' || snap.report?.outcome === 'dry-run' ? ExitCode.ok : ExitCode.failed;
  if (snap.state === 'RUNNING')
    return snap.status?.waitingFor || snap.continueWith ? ExitCode.waitingForPerson : ExitCode.ok;
  return ExitCode.failed;
}

export function renderSnapshot(snap: RunSnapshot, uiUrl: string, flags: ConnectionFlags = {}): string {
  const lines = [`${snap.workflowId}: ${snap.state}${snap.status ? ` — ${snap.status.phase}` : ''}`];
  for (const s of snap.status?.steps ?? []) {
    const mark = { pending: ' ', running: '…', waiting: '?', done: '✓', failed: '✗', skipped: '-' }[s.status];
    lines.push(`  ${mark} [${s.phase}] ${s.name}${s.error ? ` — ${s.error}` : s.detail ? ` — ${s.detail}` : ''}`);
  }
  const w = snap.status?.waitingFor;
  if (w) {
    lines.push('', `WAITING FOR YOU: ${w.message}`);
    for (const item of w.items) lines.push(`  - ${item}`);
    lines.push(
      `then run: ${runnableCommand(snap.continueWith ?? continueCommandFor(w.what, snap.workflowId), snap.workflowId, flags)}`,
    );
  } else if (snap.state === 'RUNNING' && !snap.status)
    lines.push(
      '',
      `no worker answered the status query within ${STATUS_QUERY_TIMEOUT_MS / 1000} s (restarting? see its log); the run's memo says:`,
      snap.continueWith
        ? `it waits for you; then run: ${runnableCommand(snap.continueWith, snap.workflowId, flags)}`
        : 'it names no wait for a person (runs started before 2026-12-07 name none in any case)',
    );
  if (snap.report)
    lines.push(
      '',
      `outcome: ${snap.report.outcome}${snap.report.endReason ? ` — ${snap.report.endReason}` : ''}`,
      ...snap.report.changes.map((c) => `  * ${c}`),
    );
  if (snap.failure) lines.push('', `failed: ${snap.failure}`);
  const sources = snap.report?.phoenixSources;
  if (sources?.updated?.length)
    lines.push('', "Phoenix's sources updated by the run:", ...sources.updated.map((s) => `  - ${s}`));
  if (sources?.notWritten?.length)
    lines.push('', "Phoenix's sources the run could not write:", ...sources.notWritten.map((s) => `  - ${s}`));
  if (sources && sources.stillToUpdate.length > 0 && snap.report?.outcome === 'completed')
    lines.push(
      '',
      "Phoenix's sources still to update (the next converge of the gateway CT would revert the cutover):",
      ...sources.stillToUpdate.map((s) => `  - ${s}`),
      `then run: ${sources.command}`,
    );
  lines.push('', `Temporal UI: ${uiUrl}`);
  return lines.join('\n');
}

/** The connection flags the person gave, repeated in commands we print so they reach the same server. */
export function connectionArgs(flags: ConnectionFlags): string {
  const quote = (v: string) => (/^[A-Za-z0-9_.:@/-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  return [
    flags.profile !== undefined ? ` --profile ${quote(flags.profile)}` : '',
    flags.address !== undefined ? ` --address ${quote(flags.address)}` : '',
    flags.namespace !== undefined ? ` --namespace ${quote(flags.namespace)}` : '',
  ].join('');
}

/**
 * The run's "continue with" text (`phoenix-migrate retry-verification   or   phoenix-migrate abort --id X`) as
 * commands that work as printed: this CLI as it is invoked here, each alternative with the run id and the
 * connection flags.
 */
export function runnableCommand(command: string, workflowId: string, flags: ConnectionFlags = {}): string {
  return command
    .split(/\s+or\s+/)
    .map((alternative) => {
      const m = /^phoenix-migrate\s+(\S+)/.exec(alternative);
      return m ? `${selfCommand()} ${m[1]} --id ${workflowId}${connectionArgs(flags)}` : alternative;
    })
    .join('   or   ');
}

/** Live view until the run ends (0 done, 1 failed) or waits for a person (3). */
export async function runWatch(ref: RunRef & { intervalMs?: number; untilDone?: boolean }, io: CliIo): Promise<number> {
  return withRun(ref, async (handle, { target, workflowId }) => {
    let last = '';
    for (;;) {
      const snap = await snapshot(handle, workflowId);
      const view = renderSnapshot(snap, webUiUrl(target, workflowId), ref);
      if (view !== last) {
        io.out(`\n${new Date().toISOString()}\n${view}`);
        last = view;
      }
      if (snap.state !== 'RUNNING') return exitCodeOf(snap);
      if (snap.status?.waitingFor && !endsByItself(snap.status.waitingFor.what) && !ref.untilDone)
        return ExitCode.waitingForPerson;
      await new Promise((r) => setTimeout(r, ref.intervalMs ?? 1000));
    }
  });
}

const answers = {
  'confirm-portainer': confirmPortainerDeployUpdate,
  'approve-decommission': approveDecommissionUpdate,
  'retry-verification': retryVerificationUpdate,
  abort: abortUpdate,
  'reindex-done': reindexDoneUpdate,
} as const;
export type AnswerCommand = keyof typeof answers;

/** Sends the person's answer as an Update: prints what the run said, or why it refused. */
export async function runAnswer(
  command: AnswerCommand,
  ref: RunRef & { by?: string; note?: string; keep?: string[]; wait?: number },
  io: CliIo,
): Promise<number> {
  const keep = (ref.keep ?? []).map((k) => (/^[0-9]+$/.test(k) ? Number(k) : NaN));
  if (keep.some((k) => !Number.isInteger(k))) {
    io.err(
      `--keep takes a CT id (e.g. --keep 951), got ${(ref.keep ?? []).filter((k) => !/^[0-9]+$/.test(k)).join(', ')}`,
    );
    return ExitCode.badInput;
  }
  return withRun(ref, async (handle, { target, workflowId }) => {
    try {
      const action = { ...operator(ref.by, ref.note), ...(keep.length ? { keep } : {}) };
      const result = await deliverAnswer(handle, answers[command], action, {
        namespace: target.namespace,
        workflowId,
        waitSeconds: ref.wait ?? DEFAULT_ANSWER_WAIT_SECONDS,
        connectionArgs: connectionArgs(ref),
        io,
      });
      io.out(result);
      return ExitCode.ok;
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError || isRejection(err)) {
        io.err(`rejected: ${causeMessage(err)}`);
        return ExitCode.conflict;
      }
      if (err instanceof WorkflowNotFoundError) {
        // An update to a run that has ended is "not found" to Temporal; the run exists, it just takes no answers.
        const state = await handle.describe().then(
          (d) => d.status.name,
          () => undefined,
        );
        if (state && state !== 'RUNNING') {
          io.err(`rejected: the run has ended (${state}); it takes no more answers`);
          return ExitCode.conflict;
        }
      }
      throw err;
    }
  });
}

export async function runCancel(ref: RunRef, io: CliIo): Promise<number> {
  return withRun(ref, async (handle, { workflowId }) => {
    await handle.cancel();
    io.out(
      `cancel requested for ${workflowId}: the gateway is restored if it was changed, VMs are kept, nothing is deleted`,
    );
    return ExitCode.ok;
  });
}

export async function runHistoryExport(ref: RunRef & { export: string }, io: CliIo): Promise<number> {
  return withRun(ref, async (handle, { workflowId }) => {
    const chain = await fetchRunChain(handle.client, workflowId);
    fs.writeFileSync(ref.export, historyExportJSON(workflowId, chain));
    const events = chain.reduce((n, r) => n + (r.history.events?.length ?? 0), 0);
    const runs = chain.length > 1 ? ` in ${chain.length} runs (continued as new)` : '';
    io.out(`wrote ${events} events of ${workflowId}${runs} to ${ref.export}`);
    return ExitCode.ok;
  });
}

/** Raw gRPC NOT_FOUND (e.g. from fetchHistory), which the SDK does not turn into WorkflowNotFoundError. */
function isGrpcNotFound(err: unknown): boolean {
  const code = (e: unknown) => (e && typeof e === 'object' ? (e as { code?: unknown }).code : undefined);
  return code(err) === 5 || code((err as { cause?: unknown } | undefined)?.cause) === 5;
}

function isRejection(err: unknown): boolean {
  return (
    !!err &&
    typeof err === 'object' &&
    /update/i.test((err as Error).name ?? '') &&
    /reject|validat/i.test((err as Error).message ?? '')
  );
}

export function causeMessage(err: unknown): string {
  let e: unknown = err;
  // Temporal wraps the reason (validator error, ApplicationFailure) in `cause`; the innermost one says it best.
  while (e && typeof e === 'object' && (e as { cause?: unknown }).cause) e = (e as { cause?: unknown }).cause;
  return e instanceof Error ? e.message : String(e);
}
