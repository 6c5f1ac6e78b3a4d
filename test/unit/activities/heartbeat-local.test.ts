/**
 * Local activities (the Portainer confirmation's checks) cannot heartbeat — the SDK's core warns "Activity heartbeat
 * failed" for each try — so neither the activities' own `heartbeat()` nor the worker's keep-alive sends one for them;
 * regular activities still do — new details at once, a repeat only when the last is a keep-alive period old.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { heartbeat, KEEP_ALIVE_EVERY_MS, keepAliveInterceptor } from '../../../src/activities/heartbeat';
import { Context } from '@temporalio/activity';

// Where the keep-alive's period must pass, it passes on jest's fake clock (Date.now included): on a busy machine a real
// one fired late and missed the test's window.
afterEach(() => jest.useRealTimers());

async function heartbeatsSent(isLocal: boolean): Promise<unknown[]> {
  jest.useFakeTimers();
  const env = new MockActivityEnvironment({ isLocal });
  const sent: unknown[] = [];
  env.on('heartbeat', (d: unknown) => sent.push(d));
  await env.run(async () => {
    const interceptors = keepAliveInterceptor(Context.current());
    await interceptors.inbound?.execute?.({ args: [], headers: {} }, async () => {
      heartbeat({ step: 'probe' });
      await jest.advanceTimersByTimeAsync(KEEP_ALIVE_EVERY_MS + 200);
      return undefined;
    });
  });
  return sent;
}

describe('heartbeats of local activities', () => {
  it('a local activity sends none', async () => {
    expect(await heartbeatsSent(true)).toEqual([]);
  });

  it('a regular activity sends its own and the keep-alive', async () => {
    const sent = await heartbeatsSent(false);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent).toContainEqual({ step: 'probe' });
  });
});

describe('heartbeats handed to the SDK', () => {
  it('hands on new details at once, and unchanged ones only when the last is a keep-alive period old', async () => {
    jest.useFakeTimers();
    const env = new MockActivityEnvironment();
    const sent: unknown[] = [];
    env.on('heartbeat', (d: unknown) => sent.push(d));
    await env.run(async () => {
      const interceptors = keepAliveInterceptor(Context.current());
      await interceptors.inbound?.execute?.({ args: [], headers: {} }, async () => {
        for (let i = 0; i < 5; i++) heartbeat({ step: 'poll', upid: 'UPID:a' });
        heartbeat({ step: 'poll', upid: 'UPID:b' });
        heartbeat();
        expect(sent).toEqual([
          { step: 'poll', upid: 'UPID:a' },
          { step: 'poll', upid: 'UPID:b' },
        ]);
        await jest.advanceTimersByTimeAsync(KEEP_ALIVE_EVERY_MS + 200);
        // The keep-alive repeats the last details; a poll right after it adds nothing.
        heartbeat({ step: 'poll', upid: 'UPID:b' });
        return undefined;
      });
    });
    expect(sent).toEqual([
      { step: 'poll', upid: 'UPID:a' },
      { step: 'poll', upid: 'UPID:b' },
      { step: 'poll', upid: 'UPID:b' },
    ]);
  });

  it('still stops at a heartbeat it does not hand on when the activity was cancelled', async () => {
    const env = new MockActivityEnvironment();
    await expect(
      env.run(async () => {
        heartbeat({ step: 'poll' });
        env.cancel('CANCELLED');
        await new Promise((r) => setImmediate(r));
        heartbeat({ step: 'poll' });
        return 'went on';
      }),
    ).rejects.toThrow();
  });
});
