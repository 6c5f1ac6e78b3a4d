/**
 * `sources --id RUN`: the CTs a completed run deleted leave Phoenix's LXC config, member by member, every other byte
 * kept; a run that has not completed is refused (its deletions are not certain yet).
 */
import { connectTestTemporal, createTestWorker, type TestTemporal } from '../harness/temporal';
import { copyCheckout, LXC, writePlan, type Checkout } from '../unit/sources/checkout';
import { cli, testAddress } from './support';

describe('phoenix-migrate sources --id', () => {
  let t: TestTemporal;
  let c: Checkout;
  beforeAll(async () => (t = await connectTestTemporal()));
  afterAll(async () => t?.close());
  beforeEach(() => (c = copyCheckout()));
  afterEach(() => c.remove());

  // named, as init writes them: once they leave the LXC config, only the plan knows their names
  const named = () =>
    writePlan(c, {
      legacyGuests: [950, { ctid: 951, name: 'vllm-granite-embed-r2' }, { ctid: 952, name: 'qdrant-VSCodeRag' }],
    });

  it('removes the CTs the run deleted from phoenix_lxc_configs.json (with the site rewrite), then finds nothing to do', async () => {
    const taskQueue = t.newTaskQueue('sources-id');
    const worker = await createTestWorker(t, { taskQueue, activities: {} });
    const workflowId = `migration-sources-id-${taskQueue}`;
    await worker.runUntil(async () => {
      const handle = await t.client.workflow.start('finishedRun', {
        taskQueue,
        workflowId,
        args: [{ outcome: 'completed', decommission: { deleted: [951, 952], refused: [], results: [] } }],
      });
      // still running: its deletions are not final, so it is refused and nothing is written
      const before = c.snapshot();
      const open = await cli('sources', '--plan', named(), '--id', workflowId, '--write', '--address', testAddress());
      expect(open.code).toBe(5);
      expect(open.err).toContain(`run ${workflowId} has not completed (it is running)`);
      expect(c.snapshot()).toEqual(before);
      await handle.signal('finish');
      await handle.result();
    });

    const lxcBefore = c.read(LXC);
    const r = await cli('sources', '--plan', named(), '--id', workflowId, '--write', '--address', testAddress());
    expect(r.code).toBe(0);
    expect(r.out).toContain(`# CTs deleted by ${workflowId}: 951, 952`);
    expect(r.out).toContain(`wrote ${LXC}`);
    const lxcAfter = c.read(LXC);
    const parsed = JSON.parse(lxcAfter) as { lxc_configs: Record<string, unknown> };
    expect(Object.keys(parsed.lxc_configs)).toEqual(['101', '102', '950']);
    // every other byte kept: exactly 950's end up to the end of 952's member is gone
    const end950 = lxcBefore.indexOf(',\n        "951"');
    const end952 = lxcBefore.lastIndexOf('\n    }\n}');
    expect(lxcAfter).toBe(lxcBefore.slice(0, end950) + lxcBefore.slice(end952));
    expect(parsed.lxc_configs['950']).toEqual((JSON.parse(lxcBefore) as typeof parsed).lxc_configs['950']);

    const again = await cli('sources', '--plan', named(), '--id', workflowId, '--write', '--address', testAddress());
    expect(again.code).toBe(0);
    expect(again.out).toContain('lists none of the CTs');
    expect(again.out).toContain('nothing to change');
    expect(c.read(LXC)).toBe(lxcAfter);

    const missing = await cli('sources', '--plan', named(), '--id', 'migration-nope', '--address', testAddress());
    expect(missing.code).toBe(4);
  });
});
