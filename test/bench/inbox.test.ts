/** The bench people's inbox (src/bench/inbox.ts): the runs' webhook notifications over real HTTP on loopback. */
import { request } from 'undici';
import { startInbox, type Inbox } from '../../src/bench/inbox';

describe("the bench people's inbox", () => {
  let inbox: Inbox;
  beforeEach(async () => {
    inbox = await startInbox();
  });
  afterEach(async () => {
    await inbox.close();
  });

  const post = async (body: unknown) => {
    const res = await request(inbox.url, { method: 'POST', body: JSON.stringify(body) });
    await res.body.dump();
    return res.statusCode;
  };

  it('wakes the person of the run that asks, also for a notification that came first', async () => {
    const waiting = inbox.next('run-1', 10_000);
    expect(await post({ event: 'waiting', workflowId: 'run-1', message: 'deploy the stack' })).toBe(204);
    await expect(waiting).resolves.toBe(true);
    await post({ event: 'reminder', workflowId: 'run-2', message: 'still waiting' });
    await expect(inbox.next('run-2', 10_000)).resolves.toBe(true);
  });

  it('does not wake anyone for what asks nothing, nor for another run', async () => {
    const waiting = inbox.next('run-1', 300);
    await post({ event: 'completed', workflowId: 'run-1', message: 'done' });
    await post({ event: 'waiting', workflowId: 'run-9', message: 'approve' });
    await post('not json at all');
    await expect(waiting).resolves.toBe(false);
    expect(inbox.received).toEqual({ completed: 1, waiting: 1 });
  });
});
