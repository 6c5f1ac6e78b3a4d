import { connectTestTemporal, createTestWorker, type TestTemporal } from '../../harness/temporal';

describe('the shared Temporal dev server', () => {
  let t: TestTemporal;
  beforeAll(async () => {
    t = await connectTestTemporal();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('runs a workflow with an activity on a real worker', async () => {
    const taskQueue = t.newTaskQueue('harness');
    const worker = await createTestWorker(t, {
      taskQueue,
      activities: { greet: async (name: string) => `hello, ${name}` },
    });
    const result = await worker.runUntil(
      t.client.workflow.execute('harnessSelfCheck', {
        taskQueue,
        workflowId: `harness-${taskQueue}`,
        args: ['phoenix'],
      }),
    );
    expect(result).toBe('hello, phoenix');
  });

  it('has the search attributes the migration needs', async () => {
    const res = await t.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(res.customAttributes ?? {})).toEqual(expect.arrayContaining(['MigrationPhase', 'PlanName']));
  });
});
