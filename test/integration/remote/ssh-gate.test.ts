/**
 * deploy/proxmox-host/phoenix-ssh-gate as the forced command of a real sshd (as the lab's Proxmox host runs it):
 * every remote shape the gateway activities send passes — cutover, reload check, fence, rollback, through
 * `pct exec` — and anything else, or a script whose hash is not pinned, is refused with exit 126.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createGatewayActivities,
  type CutoverGatewayResult,
  type RollbackGatewayResult,
} from '../../../src/activities/gateway';
import { createLegacyScanActivities } from '../../../src/activities/legacy-scan';
import { READ_SCRIPT, WRITE_SCRIPT } from '../../../src/nginx/scripts';
import { withSsh } from '../../../src/remote';
import { gateCommand, writeGateConfig } from '../../../src/lab/services/ssh-gate';
import { gatewaySettings, startNginx, type NginxHandle } from '../../harness/nginx';
import { pctStandinDir } from '../../harness/pct';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { requireOrSkip } from '../../harness/tools';

const describeIf = requireOrSkip('sshd', 'nginx', 'flock', 'ssh-keygen', 'perl') ? describe : describe.skip;

describeIf('the SSH gate in front of the gateway activities', () => {
  let dir: string;
  let sshd: SshdHandle;
  let ng: NginxHandle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'phoenix-gate-'));
    ng = await startNginx();
    mkdirSync(join(dir, 'nfs', '1001'), { recursive: true });
    writeGateConfig(join(dir, 'gate'), {
      ct: 101,
      nfsRoot: join(dir, 'nfs'),
      backupDir: ng.backupDir,
      pidFile: ng.pidFile,
      errorLog: ng.errorLog,
      nginx: ng.nginxCommand,
      pct: [join(pctStandinDir(), 'pct')],
    });
    sshd = await startSshd({ extraPath: [pctStandinDir()], forcedCommand: gateCommand(join(dir, 'gate')).command });
  });
  afterAll(async () => {
    await sshd?.stop();
    await ng?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets the cutover, its reload check and the verbatim rollback through `pct exec` pass', async () => {
    expect(readFileSync(join(sshd.dir, 'authorized_keys'), 'utf8')).toMatch(/^restrict,command="\/usr\/bin\/perl /);
    const gateway = gatewaySettings(ng, { via: 'pct' });
    const acts = createGatewayActivities({ env: sshd.env });
    const original = readFileSync(ng.realSiteFile, 'utf8');
    const env = new MockActivityEnvironment();
    const cut = (await env.run(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway })) as CutoverGatewayResult;
    expect(cut).toMatchObject({ changed: true, reload: { taken: true } });
    // a retry after a lost answer (reads the record, reloads if needed, cats the newest backup when it must)
    const again = (await env.run(acts.cutoverGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
    })) as CutoverGatewayResult;
    expect(again.changed).toBe(false);
    const rb = (await env.run(acts.rollbackGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
      previousServers: cut.previousServers,
      upstreamBefore: cut.upstreamBefore,
      upstreamAfter: cut.upstreamAfter,
    })) as RollbackGatewayResult;
    expect(rb.outcome).toBe('restored');
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(original);
    const dry = (await env.run(acts.cutoverGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
      dryRun: true,
    })) as CutoverGatewayResult;
    expect(dry.changed).toBe(true);
  });

  it('lets the decommission scan read everything nginx loads (`nginx -T` in CT 101), and nothing beyond it', async () => {
    const { readGatewayRoutes } = createLegacyScanActivities({
      env: sshd.env,
      proxmoxFor: () => {
        throw new Error('no Proxmox here');
      },
    });
    const gateway = gatewaySettings(ng, { via: 'pct' });
    const routes = await readGatewayRoutes({ proxmoxHost: sshd.endpoint(), gateway });
    // nginx names each file as it includes it (the sites-enabled symlink).
    expect(routes.files).toContain(ng.siteFile);
    expect(routes.upstreams.find((u) => u.name === 'qdrant_service')?.file).toBe(ng.siteFile);
    // Only what a scan can use: the moved upstream by name, and routes to the given addresses.
    const embedding = routes.upstreams.find((u) => u.name === 'embedding_service')!;
    const only = await readGatewayRoutes({
      proxmoxHost: sshd.endpoint(),
      gateway,
      only: { addresses: [embedding.servers[0].host], keepUpstream: 'qdrant_service' },
    });
    expect(only.upstreams.map((u) => u.name).sort()).toEqual(
      routes.upstreams
        .filter((u) => u.name === 'qdrant_service' || u.servers.some((s) => s.host === embedding.servers[0].host))
        .map((u) => u.name)
        .sort(),
    );
    expect(only.upstreams.length).toBeLessThan(routes.upstreams.length);
    expect(only.literals).toEqual(routes.literals.filter((l) => l.host === embedding.servers[0].host));
    const refused = await withSsh(sshd.endpoint(), sshd.env, (s) =>
      s.run(['pct', 'exec', '101', '--', ...ng.nginxCommand, '-T', '-c', '/etc/passwd']),
    );
    expect(refused.code).toBe(126);
  });

  it('refuses anything else, and a script whose hash is not pinned', async () => {
    const record = (upstream: string) => [
      join(ng.backupDir, `${upstream}.previous`),
      '{"upstream":"x"}',
      join(ng.backupDir, `${upstream}.fence`),
      '99999999999999',
    ];
    const write = (records: string[]) => [
      'pct',
      'exec',
      '101',
      '--',
      'bash',
      '-c',
      WRITE_SCRIPT,
      'phoenix-gateway-write',
      ng.realSiteFile,
      '0'.repeat(64),
      '1'.repeat(64),
      join(ng.backupDir, 'x.bak'),
      ng.lockFile,
      '5',
      ng.pidFile,
      ng.errorLog,
      records.join('\n'),
      ...ng.nginxCommand,
    ];
    const outcomes = await withSsh(sshd.endpoint(), sshd.env, async (s) => [
      await s.run(['test', '-d', join(dir, 'nfs', '1001')]),
      await s.run(['id']),
      await s.run(['test', '-d', '/etc']),
      await s.run([
        'pct',
        'exec',
        '101',
        '--',
        'bash',
        '-c',
        `${READ_SCRIPT}# changed`,
        'phoenix-gateway-read',
        'a',
        'b',
        'c',
      ]),
      await s.run(['pct', 'exec', '102', '--', 'cat', '--', join(ng.backupDir, 'x.bak')]),
      // a joint write's records (four lines per upstream) pass when every state and fence is under the backup dir …
      await s.run(write(['', '', join(ng.backupDir, 'a.fence'), '99999999999999', ...record('b'), ...record('c')])),
      // … and are refused when one is not, or when a record is cut short
      await s.run(write([...record('b'), '/etc/passwd', '{}', join(ng.backupDir, 'c.fence'), '1'])),
      await s.run(write([...record('b'), '', ''])),
    ]);
    // 76: the gate let it through, and the script found the file not as "read" (its sha256 is made up)
    expect(outcomes.map((o) => o.code)).toEqual([0, 126, 126, 126, 126, 76, 126, 126]);
    expect(outcomes[1].stderr).toMatch(/phoenix-ssh-gate: refused: not a phoenix-migrate command/);
    expect(outcomes[3].stderr).toMatch(/is not in .*allowed-scripts.sha256/);
  });
});
