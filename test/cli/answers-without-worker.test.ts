/**
 * A person's answer when no worker can take it, against the shared real Temporal dev server: the command must not
 * hang (Temporal holds an Update until a worker runs the run) and must say what to do. Each run here is on a task
 * queue of its own that no worker of the suite polls.
 */
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ExitCode } from '../../src/cli/io';
import { cli, STACK_TRACE, testAddress } from './support';

let connection: Connection;
let client: Client;
const address = () => testAddress();

beforeAll(async () => {
  connection = await Connection.connect({ address: address() });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

/** A migration run nobody runs: started on a task queue of its own (its input is never read). */
async function unrunRun(taskQueue: string) {
  return client.workflow.start('migration', {
    taskQueue,
    workflowId: `${taskQueue}-run`,
    args: [{}],
    workflowTaskTimeout: '1s',
  });
}

/** What the server recorded of updates on the run: nothing may have been taken. */
async function updateEvents(handle: Awaited<ReturnType<typeof unrunRun>>): Promise<string[]> {
  const { events } = await handle.fetchHistory();
  return (events ?? [])
    .filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes,
    )
    .map((e) => String(e.eventType));
}

/**
 * Registers a poller on the run's task queue that takes nothing: a long poll cut short by a deadline (the server
 * refuses one under 2 s). Temporal lists it among the queue's pollers for minutes, like a worker that just crashed.
 */
async function pollOnceAndLeave(taskQueue: string): Promise<void> {
  await client
    .withDeadline(Date.now() + 3000, () =>
      client.workflowService.pollWorkflowTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue },
        identity: 'a worker that crashed',
      }),
    )
    .catch(() => undefined);
}

/** Plays a worker that takes the run's workflow task and fails it, `times` times over (as a crash-looping one would). */
async function failWorkflowTask(taskQueue: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const task = await client.withDeadline(Date.now() + 10_000, () =>
      client.workflowService.pollWorkflowTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue },
        identity: 'a crash-looping worker',
      }),
    );
    await client.workflowService.respondWorkflowTaskFailed({
      namespace: 'default',
      taskToken: task.taskToken,
      cause: temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
      identity: 'a crash-looping worker',
    });
  }
}

describe('answers when no worker can take them', () => {
  it('no worker polls the run task queue: exit 6 at once, nothing sent, and how to start one', async () => {
    const taskQueue = `no-worker-${Date.now()}`;
    const handle = await unrunRun(taskQueue);
    const startedAt = Date.now();
    const r = await cli('confirm-portainer', '--id', handle.workflowId, '--by', 'tester', '--address', address());
    expect(r.code).toBe(ExitCode.unavailable);
    expect(r.err).toContain(`no worker polls task queue ${taskQueue} on namespace default`);
    expect(r.err).toContain('nothing was sent');
    expect(r.err).toMatch(/phoenix-migrate.* worker --address /);
    expect(r.all).not.toMatch(STACK_TRACE);
    expect(Date.now() - startedAt).toBeLessThan(10_000); // it did not wait for a worker
    expect(await updateEvents(handle)).toEqual([]);
    await handle.terminate('test done');
  });

  it('a worker polled but does not take the answer: the command waits --wait seconds, says so, then exit 6', async () => {
    const taskQueue = `gone-worker-${Date.now()}`;
    await pollOnceAndLeave(taskQueue);
    const handle = await unrunRun(taskQueue);
    const r = await cli(
      'approve-decommission',
      '--id',
      handle.workflowId,
      '--by',
      'tester',
      '--wait',
      '2',
      '--address',
      address(),
    );
    expect(r.code).toBe(ExitCode.unavailable);
    expect(r.err).toContain('no worker has taken the answer yet; waiting up to 2 s in all (--wait)');
    expect(r.err).toContain('no worker took the answer within 2 s');
    expect(r.err).toContain(`status --id ${handle.workflowId} --address ${address()}`);
    expect(r.err).toContain('Answering again is safe');
    expect(r.all).not.toMatch(STACK_TRACE);
    expect(await updateEvents(handle)).toEqual([]);
    await handle.terminate('test done');
  });

  it("the run's workflow task keeps failing: Temporal refuses the answer, the command says to answer again (exit 6)", async () => {
    const taskQueue = `failing-task-${Date.now()}`;
    const handle = await unrunRun(taskQueue);
    // From the second failed attempt on, Temporal refuses Updates until a workflow task completes.
    await failWorkflowTask(taskQueue, 2);
    const r = await cli('confirm-portainer', '--id', handle.workflowId, '--by', 'tester', '--address', address());
    expect(r.code).toBe(ExitCode.unavailable);
    expect(r.err).toContain("Temporal refused the answer for now: the run's workflow task is failing or being retried");
    expect(r.err).toContain('nothing was taken');
    expect(r.err).toContain(`answer again in a few seconds; if it keeps failing, read the worker's log and`);
    expect(r.all).not.toMatch(STACK_TRACE);
    expect(await updateEvents(handle)).toEqual([]);
    await handle.terminate('test done');
  });

  it("status of a run whose worker crashed: the memo's wait within the query's deadline, not Temporal's 30 s", async () => {
    const taskQueue = `crashed-worker-${Date.now()}`;
    await pollOnceAndLeave(taskQueue);
    const handle = await client.workflow.start('migration', {
      taskQueue,
      workflowId: `${taskQueue}-run`,
      args: [{}],
      memo: { waitingFor: 'portainer-deploy' },
    });
    const startedAt = Date.now();
    const r = await cli('status', '--id', handle.workflowId, '--address', address());
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(r.code).toBe(ExitCode.waitingForPerson);
    expect(r.out).toContain('no worker answered the status query within 5 s');
    expect(r.out).toMatch(/it waits for you; then run: .*confirm-portainer --id crashed-worker-\d+-run/);
    expect(r.all).not.toMatch(STACK_TRACE);
    await handle.terminate('test done');
  });

  it('--wait takes whole seconds from 1 to 3600', async () => {
    const r = await cli('confirm-portainer', '--id', 'x', '--wait', '0', '--address', address());
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.err).toContain('--wait');
  });
});
