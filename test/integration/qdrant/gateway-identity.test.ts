/**
 * verifyGatewayIdentity against a REAL nginx in front of two Qdrant simulators: only answers that carry the new
 * instance's telemetry id count. Today's check (HTTP 200 from /readyz) passes in every case below where the legacy
 * Qdrant answers; this one names who answered.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  createGatewayIdentityActivities,
  type VerifyGatewayIdentityResult,
} from '../../../src/activities/gateway-identity';
import { startQdrantSim, type QdrantSim } from '../../../src/lab/qdrant-sim';
import { gatewaySiteText, startGatewayNginx, type GatewayNginx } from '../../../src/lab/services/nginx';
import { QdrantClient } from '../../../src/qdrant/client';
import { freePort } from '../../harness/sshd';
import { requireOrSkip } from '../../harness/tools';

const describeIf = requireOrSkip('nginx') ? describe : describe.skip;
const KEY = 'k-identity';

describeIf('verifyGatewayIdentity through a real nginx', () => {
  let prefix: string;
  let legacy: QdrantSim;
  let fresh: QdrantSim;
  let gw: GatewayNginx;
  let listen: string;
  const { verifyGatewayIdentity } = createGatewayIdentityActivities({ resolveSecret: async () => KEY });

  /** Point qdrant_service at `server` and reload, waiting until the gateway answers from it. */
  async function routeTo(sim: QdrantSim): Promise<void> {
    writeFileSync(gw.realSiteFile, gatewaySiteText(listen, { qdrant: `${sim.host}:${sim.port}`, others: [] }));
    execFileSync(gw.nginxCommand[0], ['-s', 'reload']);
    const via = new QdrantClient({ baseUrl: `${gw.url}/qdrant`, apiKey: KEY, timeoutMs: 2000 });
    for (let i = 0; i < 200; i++) {
      const id = await via.identity().then(
        (r) => r.id,
        () => '',
      );
      if (id === sim.identity) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the gateway never switched');
  }

  const verify = (budgetMs: number, extra: Record<string, unknown> = {}): Promise<VerifyGatewayIdentityResult> =>
    new MockActivityEnvironment().run(verifyGatewayIdentity, {
      gatewayUrl: `${gw.url}/qdrant`,
      newUrl: fresh.url,
      legacyUrl: legacy.url,
      apiKey: { env: 'UNUSED' },
      expectedCollections: [{ name: 'docs', minCount: 5 }],
      budgetMs,
      intervalMs: 50,
      ...extra,
    });

  beforeAll(async () => {
    prefix = mkdtempSync(join(tmpdir(), 'phoenix-identity-'));
    legacy = await startQdrantSim({ host: '127.0.0.152', apiKey: KEY, collections: [{ name: 'docs', points: 9 }] });
    fresh = await startQdrantSim({ host: '127.0.0.102', apiKey: KEY, collections: [{ name: 'docs', points: 9 }] });
    const port = await freePort('127.0.0.1');
    listen = `127.0.0.1:${port}`;
    gw = await startGatewayNginx({
      prefix,
      listenHost: '127.0.0.1',
      port,
      siteName: 'vllm_gateway',
      siteText: gatewaySiteText(listen, { qdrant: `${legacy.host}:${legacy.port}`, others: [] }),
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([legacy?.stop(), fresh?.stop()]);
    rmSync(prefix, { recursive: true, force: true });
  });

  it('every simulated instance has its own identity, and /telemetry needs the api key like Qdrant', async () => {
    expect(legacy.identity).not.toBe(fresh.identity);
    expect((await new QdrantClient({ baseUrl: legacy.url, apiKey: KEY, timeoutMs: 2000 }).identity()).id).toBe(
      legacy.identity,
    );
    await expect(new QdrantClient({ baseUrl: legacy.url, timeoutMs: 2000 }).identity()).rejects.toMatchObject({
      kind: 'auth',
    });
  });

  it('names the legacy instance when the gateway still routes to it (readyz would have said 200)', async () => {
    await routeTo(legacy);
    expect((await new QdrantClient({ baseUrl: `${gw.url}/qdrant`, timeoutMs: 2000 }).readyz()).ready).toBe(true);
    const r = await verify(1500);
    expect(r).toMatchObject({ ok: false, identitySeen: 'legacy', newId: fresh.identity, legacyId: legacy.identity });
    expect(r.detail).toMatch(/LEGACY Qdrant .* answered through the gateway.*budget of 1500 ms used up/);
  });

  it('stops early on legacy answers when nginx did not replace its workers', async () => {
    await routeTo(legacy);
    const r = await verify(60_000, { reloadTaken: false });
    expect(r).toMatchObject({ ok: false, identitySeen: 'legacy' });
    expect(r.attempts).toBe(3);
    expect(r.detail).toMatch(/did not replace its workers/);
  });

  it('passes on the new identity N times in a row, with the collections checked through the gateway', async () => {
    await routeTo(fresh);
    const r = await verify(10_000);
    expect(r).toMatchObject({ ok: true, identitySeen: 'new', newId: fresh.identity, legacyId: legacy.identity });
    expect(r.collections).toEqual([{ name: 'docs', count: 9, ok: true }]);
    // the plan's collection checks still count: too few points is not verified, even from the right instance
    const short = await verify(800, { expectedCollections: [{ name: 'docs', minCount: 50 }] });
    expect(short).toMatchObject({ ok: false, identitySeen: 'new' });
    expect(short.detail).toMatch(/docs: 9 < 50/);
  });

  it('says "none" when the new instance never answers through the gateway (but does directly)', async () => {
    await routeTo(fresh);
    fresh.setFaults({ deadThroughProxy: true });
    try {
      expect((await new QdrantClient({ baseUrl: fresh.url, apiKey: KEY, timeoutMs: 2000 }).identity()).id).toBe(
        fresh.identity,
      );
      const r = await verify(1500);
      expect(r).toMatchObject({ ok: false, identitySeen: 'none', newId: fresh.identity });
      expect(r.detail).toMatch(/no Qdrant answer through the gateway/);
    } finally {
      fresh.setFaults({});
    }
  });
});
