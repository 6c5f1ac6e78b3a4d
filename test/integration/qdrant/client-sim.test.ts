/** QdrantClient against the Qdrant simulator over real HTTP on loopback. */
import { QdrantClient } from '../../../src/qdrant/client';
import { startQdrantSim, type QdrantSim } from '../../../src/lab/qdrant-sim';

const HOST = '127.0.0.152';

describe('QdrantClient ↔ qdrant-sim', () => {
  let sim: QdrantSim;
  let client: QdrantClient;

  beforeAll(async () => {
    sim = await startQdrantSim({
      host: HOST,
      apiKey: 'k-legacy',
      collections: [
        { name: 'docs', points: 25 },
        { name: 'code', points: 3 },
      ],
    });
    client = new QdrantClient({ baseUrl: sim.url, apiKey: 'k-legacy', timeoutMs: 5000 });
  });
  afterAll(() => sim.stop());

  it('answers health, version and collections with real envelopes', async () => {
    expect(await client.healthz()).toBe('healthz check passed');
    expect((await client.version()).title).toMatch(/qdrant/);
    expect((await client.listCollections()).sort()).toEqual(['code', 'docs']);
    const info = await client.getCollection('docs');
    expect(info.status).toBe('green');
    expect(info.points_count).toBe(25);
    expect(await client.countExact('docs')).toBe(25);
  });

  it("types a missing collection as not-found, with Qdrant's message", async () => {
    await expect(client.countExact('nope')).rejects.toMatchObject({
      kind: 'not-found',
      status: 404,
      message: expect.stringContaining("Collection `nope` doesn't exist"),
    });
  });

  it('types missing and wrong api keys as auth, but health stays open', async () => {
    const anon = new QdrantClient({ baseUrl: sim.url, timeoutMs: 5000 });
    await expect(anon.listCollections()).rejects.toMatchObject({
      kind: 'auth',
      status: 401,
      message: expect.stringContaining('Must provide an API key'),
    });
    const wrong = new QdrantClient({ baseUrl: sim.url, apiKey: 'nope', timeoutMs: 5000 });
    await expect(wrong.listCollections()).rejects.toMatchObject({
      kind: 'auth',
      message: expect.stringContaining('Invalid API key'),
    });
    expect((await anon.readyz()).ready).toBe(true);
    // The key never appears in messages.
    await expect(wrong.listCollections()).rejects.toMatchObject({ message: expect.not.stringContaining('nope') });
  });

  it('supports producers re-indexing: create a collection and upsert points', async () => {
    await client.createCollection('fresh', { size: 3, distance: 'Cosine' });
    await client.upsertPoints('fresh', [
      { id: 1, vector: [0.1, 0.2, 0.3] },
      { id: 2, vector: [0.3, 0.2, 0.1], payload: { a: 1 } },
      { id: 1, vector: [0.1, 0.2, 0.4] },
    ]);
    expect(await client.countExact('fresh')).toBe(2);
    await expect(client.upsertPoints('fresh', [{ id: 3, vector: [1] }])).rejects.toMatchObject({
      kind: 'http',
      status: 400,
      message: expect.stringContaining('Vector dimension error'),
    });
  });

  it('creates, lists and recovers snapshots between two instances with checksums', async () => {
    const target = await startQdrantSim({ host: '127.0.0.102', apiKey: 'k-new' });
    try {
      const snap = await client.createSnapshot('docs');
      expect(snap.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect((await client.listSnapshots('docs')).map((s) => s.name)).toContain(snap.name);
      const newClient = new QdrantClient({ baseUrl: target.url, apiKey: 'k-new', timeoutMs: 5000 });
      await expect(
        newClient.recoverFromUrl('docs', client.snapshotUrl('docs', snap.name), 'f'.repeat(64), 'k-legacy'),
      ).rejects.toMatchObject({
        kind: 'http',
        message: expect.stringContaining('checksum mismatch'),
      });
      expect(
        await newClient.recoverFromUrl(
          'docs',
          client.snapshotUrl('docs', snap.name),
          snap.checksum ?? undefined,
          'k-legacy',
        ),
      ).toBe(true);
      expect(await newClient.countExact('docs')).toBe(25);
      await client.deleteSnapshot('docs', snap.name);
      expect(sim.snapshotNames('docs')).not.toContain(snap.name);
    } finally {
      await target.stop();
    }
  });

  it('serves /metrics whose request counters grow with each request', async () => {
    const before = await client.metrics();
    await client.listCollections();
    await client.listCollections();
    const after = await client.metrics();
    const count = (m: typeof before) =>
      m.samples
        .filter(
          (s) => s.name === 'rest_responses_total' && s.labels.endpoint === '/collections' && s.labels.method === 'GET',
        )
        .reduce((n, s) => n + s.value, 0);
    expect(count(after) - count(before)).toBe(2);
    // The first scrape itself is counted, but as a probe, not as data traffic.
    expect(after.totals.requestsTotal - before.totals.requestsTotal).toBe(3);
    expect(after.totals.dataRequestsTotal - before.totals.dataRequestsTotal).toBe(2);
  });
});

describe('qdrant-sim readiness', () => {
  it('switches between ready, not-ready and down (connection refused) at runtime on a stable URL', async () => {
    const sim = await startQdrantSim({ host: '127.0.0.103', ready: 'not-ready' });
    const client = new QdrantClient({ baseUrl: sim.url, timeoutMs: 3000 });
    try {
      expect(await client.readyz()).toEqual({ ready: false, status: 503, body: 'some shards are not ready' });
      await sim.setReady('down');
      await expect(client.readyz()).rejects.toMatchObject({
        kind: 'unreachable',
        status: 0,
        message: expect.stringContaining('ECONNREFUSED'),
      });
      await sim.setReady('ready');
      expect(await client.readyz()).toEqual({ ready: true, status: 200, body: 'all shards are ready' });
    } finally {
      await sim.stop();
    }
  });

  it('flaps with a pattern, one step per /readyz request', async () => {
    const sim = await startQdrantSim({ host: '127.0.0.103', ready: { flap: ['ready', 'not-ready', 'down'] } });
    const client = new QdrantClient({ baseUrl: sim.url, timeoutMs: 3000 });
    try {
      const seen: string[] = [];
      for (let i = 0; i < 6; i++) {
        try {
          seen.push((await client.readyz()).ready ? 'ready' : 'not-ready');
        } catch (e) {
          seen.push((e as { kind: string }).kind);
        }
      }
      expect(seen).toEqual(['ready', 'not-ready', 'unreachable', 'ready', 'not-ready', 'unreachable']);
    } finally {
      await sim.stop();
    }
  });

  it('works behind a path prefix (as through the gateway)', async () => {
    const sim = await startQdrantSim({
      host: '127.0.0.104',
      pathPrefix: '/qdrant',
      collections: [{ name: 'docs', points: 2 }],
    });
    try {
      expect(sim.url).toMatch(/\/qdrant$/);
      const client = new QdrantClient({ baseUrl: `${sim.url}/`, timeoutMs: 3000 });
      expect(client.url).toBe(sim.url);
      expect(await client.listCollections()).toEqual(['docs']);
      expect((await client.readyz()).ready).toBe(true);
      const unprefixed = new QdrantClient({ baseUrl: sim.url.replace(/\/qdrant$/, ''), timeoutMs: 3000 });
      await expect(unprefixed.listCollections()).rejects.toMatchObject({ kind: 'not-found' });
    } finally {
      await sim.stop();
    }
  });
});
