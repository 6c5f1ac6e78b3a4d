/**
 * Fault matrix (issue 10 §2), the gateway and Qdrant's readiness, as three runs in one world (each run picks up what
 * the one before left, as a real operator's next attempt would):
 *   1. nginx's reload fails → the run stops safely: site file as it was, traffic still on the legacy Qdrant, nothing
 *      deleted, and the message says what failed and that the old content was put back;
 *   2. the new Qdrant's readiness flaps between "not ready" and "gone" from the cutover on → the gateway is rolled back,
 *      the run asks, the operator aborts: traffic on the legacy Qdrant, nothing deleted;
 *   3. readiness flaps (ready / not ready / gone) during the confirmation and the cutover, then settles → completes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { readUpstreams } from '../../src/nginx/upstream';
import {
  activityOutcomes,
  driveToEnd,
  effectiveCalls,
  gatewayBackend,
  param,
  sleepMs,
  switchableNginx,
  type NginxSwitch,
} from './support';
import { FailureType } from '../../src/failure-types';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;
/** A run takes 5–25 s here; the margin is for a machine shared with other test runs. */
const TEST_MS = 120_000;
const WAIT_MS = 90_000;

describeIf('fault matrix: nginx reload failure and Qdrant readiness flapping', () => {
  let mw: MigrationWorld;
  let nginx: NginxSwitch;
  let runs = 0;
  const legacyCts = () => mw.world.plan.legacyGuests.map((g) => g.ctid).filter((ctid) => mw.world.proxmox.guest(ctid));
  const upstream = () =>
    readUpstreams(fs.readFileSync(mw.world.gateway.realSiteFile, 'utf8'))
      .find((u) => u.name === mw.world.plan.gateway.upstream)
      ?.servers.map((s) => s.address);
  const legacyServer = () => new URL(mw.world.plan.qdrant.legacyUrl).host;
  const start = () => mw.start({ workflowId: `migration-${mw.world.plan.name}-gw-${runs++}` });

  beforeAll(async () => {
    mw = await startMigrationWorld({ durations: { verifyBudget: '5s', readinessRecheck: '1s' } });
    nginx = switchableNginx(mw.world);
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  it(
    'a failing nginx reload stops the run safely: site file restored, legacy still serving, nothing deleted',
    async () => {
      const siteBefore = fs.readFileSync(mw.world.gateway.realSiteFile, 'utf8');
      nginx.failReloads(true);
      const handle = await start();
      const result = await driveToEnd(mw, handle).finally(() => nginx.failReloads(false));

      expect(result.state).toBe('FAILED');
      expect(result.failure).toMatch(/-s reload` failed on CT 101/);
      expect(result.failure).toMatch(/old content was put back/);
      expect(result.failure).toMatch(/invalid PID number/); // what nginx said
      expect(nginx.reloadsAttempted()).toBeGreaterThanOrEqual(1);
      // Not retried: the reload failure is a fact about the gateway, not a hiccup.
      expect((await activityOutcomes(handle)).filter((o) => o.failed)).toEqual([
        expect.objectContaining({
          activity: 'cutoverGateway',
          attempt: 1,
          failureType: FailureType.GatewayReloadFailed,
          nonRetryable: true,
        }),
      ]);
      expect(fs.readFileSync(mw.world.gateway.realSiteFile, 'utf8')).toBe(siteBefore);
      expect(
        fs.readdirSync(path.dirname(mw.world.gateway.realSiteFile)).filter((f) => f.includes('phoenix-tmp')),
      ).toEqual([]);
      expect(await gatewayBackend(mw.world)).toBe('legacy');
      expect(legacyCts()).toEqual([950, 951, 952]);
      expect(result.report?.endReason).toMatch(/nothing deleted/);
      // The VMs stay for the next attempt.
      for (const vm of mw.world.plan.vms) expect(mw.world.proxmox.guest(vm.vmid)).toBeDefined();
    },
    TEST_MS,
  );

  it(
    'readiness flapping between not-ready and gone after the cutover: rolled back, aborted, legacy still serving',
    async () => {
      // Hold the cutover's reload a moment, and make the new Qdrant flap exactly then.
      nginx.pauseNextReload.arm('', 500);
      const handle = await start();
      const flapping = nginx.pauseNextReload
        .waitReached(WAIT_MS)
        .then(() => mw.world.newQdrant.setReady({ flap: ['not-ready', 'down'] }));
      const log: string[] = [];
      const [result] = await Promise.all([driveToEnd(mw, handle, log), flapping]).finally(() =>
        mw.world.newQdrant.setReady('ready'),
      );

      expect(result.state).toBe('COMPLETED');
      expect(result.report?.outcome).toBe('aborted');
      // The identity proof says why: the new Qdrant answers through the gateway, but not ready (or not at all).
      expect(log.join('\n')).toMatch(
        /Verification failed \(the (new Qdrant answers through the gateway but is not ready|gateway did not answer)/,
      );
      expect(result.report?.gateway.rolledBack).toBe(true);
      expect(result.report?.endReason).toMatch(/gateway back on .*nothing deleted/);
      expect(upstream()).toEqual([legacyServer()]);
      expect(await gatewayBackend(mw.world)).toBe('legacy');
      expect(legacyCts()).toEqual([950, 951, 952]);
    },
    TEST_MS,
  );

  it(
    'readiness flapping that settles: the confirmation and the cutover ride it out, the run completes',
    async () => {
      await mw.world.newQdrant.setReady({ flap: ['not-ready', 'down', 'ready'] });
      nginx.pauseNextReload.arm('', 500);
      const handle = await start();
      // Flapping through the confirmation and into the cutover's check; steady 2 s after the reload.
      const settle = nginx.pauseNextReload.waitReached(WAIT_MS).then(async () => {
        await sleepMs(2000);
        await mw.world.newQdrant.setReady('ready');
      });
      const log: string[] = [];
      const [result] = await Promise.all([driveToEnd(mw, handle, log), settle]).finally(() =>
        mw.world.newQdrant.setReady('ready'),
      );
      if (result.state !== 'COMPLETED' || result.report?.outcome !== 'completed')
        throw new Error(`run ended ${result.state}/${result.report?.outcome}: ${result.failure}\n${log.join('\n')}`);

      expect(upstream()).toEqual(mw.world.plan.gateway.newServers);
      expect(await gatewayBackend(mw.world)).toBe('new');
      expect(result.report?.gateway.previousServers).toEqual([legacyServer()]);
      expect(result.report?.decommission.deleted.slice().sort()).toEqual([951, 952, 953]);
      expect(legacyCts()).toEqual([950]);
      // Three runs, still one clone per cloned VM (none for the adopted VM 1001) and one delete per CT.
      for (const vm of mw.world.plan.vms) {
        expect(
          effectiveCalls(mw.world, 'POST', /\/qemu\/\d+\/clone$/).filter((e) => param(e, 'newid') === String(vm.vmid)),
        ).toHaveLength(vm.adopt ? 0 : 1);
      }
      for (const ctid of [951, 952])
        expect(effectiveCalls(mw.world, 'DELETE', new RegExp(`/lxc/${ctid}$`))).toHaveLength(1);
    },
    TEST_MS,
  );
});
