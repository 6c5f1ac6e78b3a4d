/**
 * Fault matrix (issue 10 §2), SSH: the link to the Proxmox host drops in the middle of the compose-file upload and in
 * the middle of the gateway cutover. The worker reaches the host through a loopback TCP proxy (the plan's
 * proxmoxHost.port points at it); pause hooks in the host's shell hold the remote step at a known point — the upload
 * before its content is written, the cutover between the rewrite and nginx's reload — and the proxy then resets every
 * connection. The run must complete: the file written once and whole, the gateway moved once and reloaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { readUpstreams } from '../../src/nginx/upstream';
import {
  activityOutcomes,
  driveToEnd,
  gatewayBackend,
  pauseHookOnHost,
  planVariant,
  startCuttingProxy,
  switchableNginx,
  type CuttingProxy,
} from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

describeIf('fault matrix: SSH connection dropped mid-upload and mid-cutover', () => {
  let mw: MigrationWorld;
  let proxy: CuttingProxy;
  beforeAll(async () => {
    mw = await startMigrationWorld({ durations: { verifyBudget: '5s', readinessRecheck: '1s' } });
    proxy = await startCuttingProxy(mw.world.sshd.host, { host: mw.world.sshd.host, port: mw.world.sshd.port });
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await mw?.close();
  });

  it('completes: the compose file whole and written once, the gateway cut over and reloaded', async () => {
    const { plan, digest } = planVariant(mw.world, (raw) => {
      raw.proxmoxHost.port = proxy.port;
    });
    const compose = plan.composeFiles[0];
    const upload = pauseHookOnHost(mw.world, 'mkdir', '/bin/mkdir');
    upload.arm(` ${path.dirname(compose.hostPath)} `, 3000);
    const nginx = switchableNginx(mw.world);
    nginx.pauseNextReload.arm('', 3000);

    const handle = await mw.start({ plan, digest });
    const cuts: Record<string, number> = {};
    const cutWhen = async (name: string, hook: { waitReached(ms?: number): Promise<void> }) => {
      await hook.waitReached(90_000);
      cuts[name] = proxy.cutAll();
    };
    const log: string[] = [];
    const [result] = await Promise.all([
      driveToEnd(mw, handle, log),
      cutWhen('upload', upload),
      cutWhen('cutover', nginx.pauseNextReload),
    ]);
    if (result.state !== 'COMPLETED')
      throw new Error(`run ended ${result.state}: ${result.failure}\n${log.join('\n')}`);

    // Each drop hit a live connection, and the activity it cut was tried again (and then succeeded).
    expect(cuts.upload).toBeGreaterThanOrEqual(1);
    expect(cuts.cutover).toBeGreaterThanOrEqual(1);
    const outcomes = await activityOutcomes(handle);
    expect(outcomes.filter((o) => o.failed)).toEqual([]);
    expect(outcomes.find((o) => o.activity === 'provisionComposeFiles')?.attempt).toBeGreaterThanOrEqual(2);
    expect(outcomes.find((o) => o.activity === 'cutoverGateway')?.attempt).toBeGreaterThanOrEqual(2);

    // The compose file is whole, and no temp file of the cut upload is left in the export.
    const onDisk = fs.readFileSync(compose.hostPath);
    expect(createHash('sha256').update(onDisk).digest('hex')).toBe(compose.sha256);
    expect(fs.readdirSync(path.dirname(compose.hostPath)).filter((f) => f.includes('phoenix-tmp'))).toEqual([]);

    // The gateway: moved, reloaded (traffic reaches the new Qdrant), and the run still knows where it came from.
    const report = result.report;
    const site = fs.readFileSync(mw.world.gateway.realSiteFile, 'utf8');
    expect(
      readUpstreams(site)
        .find((u) => u.name === plan.gateway.upstream)
        ?.servers.map((s) => s.address),
    ).toEqual(plan.gateway.newServers);
    expect(await gatewayBackend(mw.world)).toBe('new');
    expect(report?.gateway.previousServers).toEqual([new URL(plan.qdrant.legacyUrl).host]);
    expect(report?.changes.join('\n')).toMatch(
      /nginx upstream qdrant_service: 127\.0\.0\.152:\d+ → 127\.0\.0\.102:\d+/,
    );
    expect(
      fs.readdirSync(path.dirname(mw.world.gateway.realSiteFile)).filter((f) => f.includes('phoenix-tmp')),
    ).toEqual([]);
    expect(report?.decommission.deleted.slice().sort()).toEqual([951, 952, 953]);
  }, 120_000);
});
