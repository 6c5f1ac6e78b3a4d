/**
 * Issue 6, in the real world: while it waits for the Portainer deploy, the run's reminders reach a real webhook; after
 * `deployTimeout` it fails with a clear message and the gateway and legacy CTs are untouched. Both durations come from
 * the input. How MANY reminders is counted in virtual time (test/unit/workflows/waits.test.ts), not here: a count
 * over seconds of real time depends on how loaded the machine is.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { continueCommandFor } from '../../src/workflows/continue-commands';
import { legacyCtsPresent, upstreamServers } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('migration: nobody deploys', () => {
  let mw: MigrationWorld;
  let webhook: http.Server;
  const events: { event: string; message: string }[] = [];
  beforeAll(async () => {
    webhook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        events.push(JSON.parse(body) as { event: string; message: string });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
    mw = await startMigrationWorld({
      durations: { remindEvery: '1s', deployTimeout: '6s' },
      notifyWebhookUrlEnv: 'PHOENIX_E2E_WEBHOOK',
      workerEnv: { PHOENIX_E2E_WEBHOOK: url },
    });
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
    await new Promise((r) => webhook?.close(r));
  });

  it('reminds, then fails with nothing downstream changed', async () => {
    const before = upstreamServers(mw);
    const handle = await mw.start();
    const waiting = await mw.waitFor(
      handle,
      (s) => s.waitingFor?.what === 'portainer-deploy' && (s.waitingFor.reminders ?? 0) >= 1,
    );
    expect(continueCommandFor(waiting.waitingFor!.what, waiting.workflowId)).toMatch(/confirm-portainer/);

    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(
      /Nobody confirmed the Portainer deploy within 6s; nothing downstream was changed/,
    );
    const reminders = events.filter((e) => e.event === 'reminder');
    expect(reminders.length).toBeGreaterThanOrEqual(1);
    expect(reminders[0].message).toMatch(/Still waiting \(reminder 1, .* left\): In Portainer/);
    expect(events.map((e) => e.event)).toContain('failed');
    expect(upstreamServers(mw)).toEqual(before);
    expect(legacyCtsPresent(mw)).toEqual([950, 951, 952]);
  }, 120_000);
});
