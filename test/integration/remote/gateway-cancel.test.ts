/** The gateway's verification through nginx heartbeats and stops when its activity is cancelled. */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createGatewayActivities } from '../../../src/activities/gateway';
import { gatewaySettings, startNginx, type NginxHandle } from '../../harness/nginx';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { requireOrSkip } from '../../harness/tools';

const describeIf = requireOrSkip('sshd', 'nginx', 'flock', 'ssh-keygen') ? describe : describe.skip;

describeIf('gateway verification and cancellation', () => {
  let sshd: SshdHandle;
  let ng: NginxHandle;

  beforeAll(async () => {
    sshd = await startSshd();
    ng = await startNginx();
  });
  afterAll(async () => {
    await ng?.stop();
    await sshd?.stop();
  });

  it('a cancelled rollback stops verifying at once instead of using up its budget', async () => {
    const gateway = gatewaySettings(ng, { via: 'ssh', ssh: sshd.endpoint() });
    const acts = createGatewayActivities({ env: sshd.env, verifyIntervalMs: 10 });
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const beats: unknown[] = [];
    let beatsAtCancel = -1;
    env.on('heartbeat', (d: { attempt?: number }) => {
      if (d?.attempt === undefined) return;
      beats.push(d);
      if (beats.length === 2) {
        beatsAtCancel = beats.length;
        env.cancel();
      }
    });
    // The upstream already points at the old backend (nothing to write); the verify URL answers 404 for ever and the
    // budget is far beyond jest's timeout: only the cancellation can end the verification.
    const outcome = await (
      env.run(acts.rollbackGateway, {
        proxmoxHost: sshd.endpoint(),
        gateway,
        previousServers: [ng.oldBackend.address],
        verifyUrl: `${ng.url}/no-such-route`,
        verifyBudgetMs: 3_600_000,
      }) as Promise<unknown>
    ).then(
      () => new Error('expected the cancellation to end the activity'),
      (e: unknown) => e,
    );
    expect(outcome).toMatchObject({ name: 'CancelledFailure' });
    expect(beats.length).toBeLessThanOrEqual(beatsAtCancel + 1);
  });
});
