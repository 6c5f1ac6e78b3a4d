/**
 * Delivering a person's answer (an Update) so that the command never hangs and never leaves the person guessing.
 * Temporal holds an Update until a worker runs the run: with no worker the client would wait forever, and while the
 * run's workflow task keeps failing (a worker crashed in it) Temporal refuses Updates outright. So: no worker polling
 * the run's task queue → nothing is sent; a worker must take the answer within `waitSeconds`; once taken, the run's own
 * checks (bounded by their activity timeouts) decide.
 */
import { isGrpcServiceError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { CliError, ExitCode, type CliIo } from './io';
import { selfCommand } from './self';

export const DEFAULT_ANSWER_WAIT_SECONDS = 60;

/** When the person is told that no worker has taken the answer yet (it may still come). */
const NOTICE_AFTER_MS = 10_000;

export interface AnswerDelivery {
  namespace: string;
  workflowId: string;
  /** How long a worker has to take the answer. */
  waitSeconds: number;
  /** Flags that reach this run again (`--address …`), for the commands the messages print. */
  connectionArgs: string;
  io: CliIo;
}

export async function deliverAnswer<Ret, Action>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, [Action]>,
  action: Action,
  d: AnswerDelivery,
): Promise<Ret> {
  await requireWorker(handle, d);
  const statusCommand = `${selfCommand()} status --id ${d.workflowId}${d.connectionArgs}`;
  const controller = new AbortController();
  const giveUp = setTimeout(() => controller.abort(), d.waitSeconds * 1000);
  const notice = setTimeout(
    () => d.io.err(`no worker has taken the answer yet; waiting up to ${d.waitSeconds} s in all (--wait)`),
    Math.min(NOTICE_AFTER_MS, d.waitSeconds * 500),
  );
  let taken;
  try {
    taken = await handle.client.withAbortSignal(controller.signal, () =>
      handle.startUpdate(update, { args: [action], waitForStage: WorkflowUpdateStage.ACCEPTED }),
    );
  } catch (err) {
    if (controller.signal.aborted)
      throw new CliError(
        `no worker took the answer within ${d.waitSeconds} s: the run's worker is not running, not connected to this Temporal, or stuck`,
        `Temporal keeps the answer until a worker runs the run, so it may still be taken then: ${statusCommand} shows whether it was. Answering again is safe: the run refuses an answer it already took`,
        ExitCode.unavailable,
      );
    if (workflowTaskFailing(err))
      throw new CliError(
        "Temporal refused the answer for now: the run's workflow task is failing or being retried (a worker crashed while running it, or cannot run it); nothing was taken",
        `answer again in a few seconds; if it keeps failing, read the worker's log and ${statusCommand}`,
        ExitCode.unavailable,
      );
    throw err;
  } finally {
    clearTimeout(giveUp);
    clearTimeout(notice);
  }
  return taken.result();
}

/** Refuses to send when no worker polls the run's task queue: the answer would only wait. */
async function requireWorker(handle: WorkflowHandle, d: AnswerDelivery): Promise<void> {
  const desc = await handle.describe();
  // An ended run answers for itself (the Update is "not found"): the caller says so.
  if (desc.status.name !== 'RUNNING') return;
  const { pollers } = await handle.client.workflowService.describeTaskQueue({
    namespace: d.namespace,
    taskQueue: { name: desc.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  if (!pollers?.length)
    throw new CliError(
      `no worker polls task queue ${desc.taskQueue} on namespace ${d.namespace}, so the run cannot take the answer now; nothing was sent`,
      `start the worker (\`${selfCommand()} worker${d.connectionArgs}\`, or \`systemctl start phoenix-migrate-worker\`), then answer again`,
      ExitCode.unavailable,
    );
}

/** Temporal's refusal while the run's workflow task is failing: FAILED_PRECONDITION, as the SDK's cause. */
function workflowTaskFailing(err: unknown): boolean {
  const cause = (err as { cause?: unknown })?.cause ?? err;
  return (
    isGrpcServiceError(cause) &&
    cause.code === 9 /* FAILED_PRECONDITION */ &&
    /workflow task in failed state/i.test(cause.details ?? cause.message)
  );
}
