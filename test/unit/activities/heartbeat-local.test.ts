/**
 * Local activities (the Portainer confirmation's checks) cannot heartbeat — the SDK's core warns "Activity heartbeat
 * failed" for each try — so neither the activities' own `heartbeat()` nor the worker's keep-alive sends one for them;
 * regular activities still do.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { heartbeat, keepAliveInterceptor } from '../../../src/activities/heartbeat';
import { Context } from '@temporalio/activity';

async function heartbeatsSent(isLocal: boolean): Promise<unknown[]> {
  const env = new MockActivityEnvironment({ isLocal });
  const sent: unknown[] = [];
  env.on('heartbeat', (d: unknown) => sent.push(d));
  await env.run(async () => {
    const interceptors = keepAliveInterceptor(Context.current());
    await interceptors.inbound?.execute?.({ args: [], headers: {} }, async () => {
      heartbeat({ step: 'probe' });
      await new Promise((r) => setTimeout(r, 1_200));
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
