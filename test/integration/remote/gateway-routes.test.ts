/**
 * The decommission scans' read of the gateway (`nginx -T` in CT 101, real nginx over a real sshd and the pct
 * stand-in): scans that ask at once share fresh reads (src/activities/fresh-reads.ts), each still gets its own routes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLegacyScanActivities } from '../../../src/activities/legacy-scan';
import { gatewaySettings, startNginx, type NginxHandle } from '../../harness/nginx';
import { pctStandinDir } from '../../harness/pct';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { requireOrSkip } from '../../harness/tools';

const describeIf = requireOrSkip('sshd', 'nginx', 'ssh-keygen') ? describe : describe.skip;

describeIf('readGatewayRoutes when many scans ask at once', () => {
  let sshd: SshdHandle;
  let ng: NginxHandle;
  let log: string;

  beforeAll(async () => {
    ng = await startNginx();
    log = join(ng.prefix, 'pct.log');
    sshd = await startSshd({ extraPath: [pctStandinDir()], setEnv: { PCT_STANDIN_LOG: log } });
  });
  afterAll(async () => {
    await sshd?.stop();
    await ng?.stop();
  });

  it('twenty scans cost at most two reads, and each gets the routes touching its own addresses', async () => {
    const { readGatewayRoutes } = createLegacyScanActivities({
      env: sshd.env,
      proxmoxFor: () => {
        throw new Error('no Proxmox here');
      },
    });
    const gateway = gatewaySettings(ng, { via: 'pct' });
    const all = await readGatewayRoutes({ proxmoxHost: sshd.endpoint(), gateway });
    writeFileSync(log, '');
    const addresses = ['127.0.0.151', '127.0.0.154', '127.0.0.199'];
    const scans = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        readGatewayRoutes({
          proxmoxHost: sshd.endpoint(),
          gateway,
          only: { addresses: [addresses[i % 3]], keepUpstream: 'qdrant_service' },
        }),
      ),
    );
    const reads = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(reads.length).toBeLessThanOrEqual(2);
    scans.forEach((scan, i) => {
      const on = addresses[i % 3];
      expect(scan.upstreams.map((u) => u.name).sort()).toEqual(
        all.upstreams
          .filter((u) => u.name === 'qdrant_service' || u.servers.some((s) => s.host === on))
          .map((u) => u.name)
          .sort(),
      );
    });
    expect(scans[0].upstreams.map((u) => u.name).sort()).toEqual(['embedding_service', 'qdrant_service']);
    expect(scans[2].upstreams.map((u) => u.name)).toEqual(['qdrant_service']);
  });
});
