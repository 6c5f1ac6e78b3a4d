/** The verification activities against Qdrant simulators over real HTTP, in a mock activity context. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createVerifyActivities } from '../../../src/activities/verify';
import { startQdrantSim, type QdrantSim } from '../../../src/lab/qdrant-sim';
import { FailureType } from '../../../src/failure-types';

const KEY_ENV = 'PHX_TEST_QDRANT_KEY';
const KEY = 'qdrant-test-key-123';

/** Expected failures are asserted below; the SDK's warning log of each would only bury jest's report. */
const mockEnv = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

const succeeded = (): never => {
  throw new Error('expected the activity to fail, but it succeeded');
};

/** `MockActivityEnvironment.run` loses the activity's result type; this keeps it. */
function runIn<A, R>(env: MockActivityEnvironment, fn: (input: A) => Promise<R>, input: A): Promise<R> {
  return env.run(fn, input) as Promise<R>;
}

function failureOf(e: unknown) {
  return e as { type?: string; nonRetryable?: boolean; message: string; details?: unknown[] };
}

describe('copyQdrantCollections (snapshot mode)', () => {
  let legacy: QdrantSim;
  let fresh: QdrantSim;
  const acts = createVerifyActivities();

  beforeAll(async () => {
    process.env[KEY_ENV] = KEY;
    legacy = await startQdrantSim({
      host: '127.0.0.152',
      apiKey: KEY,
      collections: [
        { name: 'docs', points: 120 },
        { name: 'code', points: 7 },
      ],
    });
    fresh = await startQdrantSim({ host: '127.0.0.102', apiKey: KEY });
  });
  afterAll(async () => {
    await legacy.stop();
    await fresh.stop();
    delete process.env[KEY_ENV];
  });

  it('moves two collections with equal exact counts, and skips them the second time', async () => {
    const env = mockEnv();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const input = { legacyUrl: legacy.url, newUrl: fresh.url, apiKey: { env: KEY_ENV } };
    const first = await runIn(env, acts.copyQdrantCollections, input);
    expect(first).toEqual([
      { name: 'docs', legacyCount: 120, newCount: 120, ok: true, skipped: false },
      { name: 'code', legacyCount: 7, newCount: 7, ok: true, skipped: false },
    ]);
    expect(fresh.collections()).toEqual([
      { name: 'docs', count: 120 },
      { name: 'code', count: 7 },
    ]);
    expect(beats.length).toBeGreaterThan(0);
    // Snapshots are cleaned off the legacy disk after a successful recovery.
    expect(legacy.snapshotNames('docs')).toEqual([]);

    const again = await runIn(mockEnv(), acts.copyQdrantCollections, input);
    expect(again.map((r) => r.skipped)).toEqual([true, true]);
    expect(legacy.snapshotNames('docs')).toEqual([]);
  });

  it('fails non-retryably naming the collection when exact counts differ after recovery', async () => {
    const target = await startQdrantSim({
      host: '127.0.0.105',
      apiKey: KEY,
      faults: { dropPointsOnRecover: { code: 2 } },
    });
    try {
      const err = await runIn(mockEnv(), acts.copyQdrantCollections, {
        legacyUrl: legacy.url,
        newUrl: target.url,
        apiKey: { env: KEY_ENV },
        collections: ['docs', 'code'],
      }).then(succeeded, failureOf);
      expect(err).toMatchObject({ type: FailureType.QdrantCountMismatch, nonRetryable: true });
      expect(err.message).toContain('Collection code');
      expect(err.message).toContain('5 points');
      expect(err.message).toContain('holds 7');
      expect(err.message).not.toContain(KEY);
    } finally {
      await target.stop();
    }
  });

  it('says which collection is missing on the legacy instance', async () => {
    const err = await runIn(mockEnv(), acts.copyQdrantCollections, {
      legacyUrl: legacy.url,
      newUrl: fresh.url,
      apiKey: { env: KEY_ENV },
      collections: ['ghost'],
    }).then(succeeded, failureOf);
    expect(err).toMatchObject({ type: FailureType.QdrantNotFound, nonRetryable: true });
    expect(err.message).toContain('ghost');
  });

  it('is retryable while the new instance is down', async () => {
    const target = await startQdrantSim({ host: '127.0.0.106', apiKey: KEY, ready: 'down' });
    try {
      const err = await runIn(mockEnv(), acts.copyQdrantCollections, {
        legacyUrl: legacy.url,
        newUrl: target.url,
        apiKey: { env: KEY_ENV },
        collections: ['code'],
      }).then(succeeded, failureOf);
      expect(err).toMatchObject({ type: FailureType.QdrantUnreachable, nonRetryable: false });
    } finally {
      await target.stop();
    }
  });

  it('reads legacy traffic counters that grow with real requests', async () => {
    const env = mockEnv();
    const before = await runIn(env, acts.readLegacyTraffic, { url: legacy.url, apiKey: { env: KEY_ENV } });
    await fetch(`${legacy.url}/collections`, { headers: { 'api-key': KEY } });
    const after = await runIn(env, acts.readLegacyTraffic, { url: legacy.url, apiKey: { env: KEY_ENV } });
    expect(after.dataRequestsTotal - before.dataRequestsTotal).toBe(1);
    expect(after.requestsTotal - before.requestsTotal).toBe(2);
  });
});

describe('probeQdrant and verifyQdrant', () => {
  const acts = createVerifyActivities();

  it('probe answers ready, not ready and down without throwing', async () => {
    const sim = await startQdrantSim({ host: '127.0.0.107', ready: 'not-ready' });
    const env = mockEnv();
    try {
      expect(await runIn(env, acts.probeQdrant, { url: sim.url, timeoutMs: 2000 })).toEqual({
        ready: false,
        detail: expect.stringContaining('some shards are not ready'),
      });
      await sim.setReady('down');
      expect(await runIn(env, acts.probeQdrant, { url: sim.url, timeoutMs: 2000 })).toEqual({
        ready: false,
        detail: expect.stringContaining('unreachable'),
      });
      await sim.setReady('ready');
      expect(await runIn(env, acts.probeQdrant, { url: sim.url, timeoutMs: 2000 })).toEqual({
        ready: true,
        detail: expect.stringContaining('is ready'),
      });
    } finally {
      await sim.stop();
    }
  });

  it('retries through a flapping instance and succeeds once ready, heartbeating each attempt', async () => {
    const sim = await startQdrantSim({
      host: '127.0.0.108',
      ready: { flap: ['not-ready', 'down', 'ready'] },
      collections: [{ name: 'docs', points: 3 }],
    });
    const env = mockEnv();
    const beats: { attempts: number }[] = [];
    env.on('heartbeat', (d: { attempts: number }) => beats.push(d));
    try {
      const res = await runIn(env, acts.verifyQdrant, {
        url: sim.url,
        expectedCollections: [{ name: 'docs', minCount: 3 }],
        budgetMs: 30_000,
        initialBackoffMs: 5,
        maxBackoffMs: 20,
      });
      expect(res).toEqual({
        ok: true,
        attempts: 3,
        detail: expect.stringContaining('docs=3'),
        collections: [{ name: 'docs', count: 3, ok: true }],
      });
      expect(beats.map((b) => b.attempts)).toEqual([1, 2, 3]);
    } finally {
      await sim.stop();
    }
  });

  it('returns ok:false with the reason when the budget runs out', async () => {
    const sim = await startQdrantSim({ host: '127.0.0.109', collections: [{ name: 'docs', points: 1 }] });
    try {
      const res = await runIn(mockEnv(), acts.verifyQdrant, {
        url: sim.url,
        expectedCollections: [{ name: 'docs', minCount: 5 }, { name: 'code' }],
        budgetMs: 100,
        initialBackoffMs: 10,
        maxBackoffMs: 20,
      });
      expect(res.ok).toBe(false);
      expect(res.attempts).toBeGreaterThanOrEqual(1);
      expect(res.detail).toContain('budget of 100 ms used up');
      expect(res.collections).toEqual([
        { name: 'docs', count: 1, ok: false, reason: 'exact count 1 is below the expected minimum 5' },
        { name: 'code', count: null, ok: false, reason: 'collection code does not exist yet' },
      ]);
    } finally {
      await sim.stop();
    }
  });

  it('stops early on a rejected api key, read from a file', async () => {
    const sim = await startQdrantSim({
      host: '127.0.0.110',
      apiKey: 'right',
      collections: [{ name: 'docs', points: 1 }],
    });
    const dir = mkdtempSync(join(tmpdir(), 'phx-qdrant-'));
    writeFileSync(join(dir, 'key'), 'wrong\n');
    try {
      const res = await runIn(mockEnv(), acts.verifyQdrant, {
        url: sim.url,
        apiKey: { file: join(dir, 'key') },
        expectedCollections: [{ name: 'docs' }],
        budgetMs: 60_000,
      });
      expect(res).toMatchObject({ ok: false, attempts: 1, detail: expect.stringContaining('Invalid API key') });
      expect(res.detail).toContain('stopped early');
    } finally {
      await sim.stop();
    }
  });

  it('names the missing secret variable, non-retryably', async () => {
    const err = await runIn(mockEnv(), acts.probeQdrant, {
      url: 'http://127.0.0.111:1',
      apiKey: { env: 'PHX_TEST_NOT_SET' },
      timeoutMs: 1000,
    }).then(succeeded, failureOf);
    expect(err).toMatchObject({ type: FailureType.SecretUnavailable, nonRetryable: true });
    expect(err.message).toContain('PHX_TEST_NOT_SET');
  });
});

describe('cancellation', () => {
  const acts = createVerifyActivities();

  it('a cancelled verifyQdrant stops waiting at once instead of using up its budget', async () => {
    const sim = await startQdrantSim({ host: '127.0.0.112', collections: [{ name: 'docs', points: 1 }] });
    const env = mockEnv();
    const beats: unknown[] = [];
    let beatsAtCancel = -1;
    env.on('heartbeat', (d: unknown) => {
      beats.push(d);
      if (beats.length === 2) {
        beatsAtCancel = beats.length;
        env.cancel();
      }
    });
    try {
      // Never satisfied (1 point < 5) and a budget far beyond jest's timeout: only the cancellation can end it.
      const err = await runIn(env, acts.verifyQdrant, {
        url: sim.url,
        expectedCollections: [{ name: 'docs', minCount: 5 }],
        budgetMs: 3_600_000,
        initialBackoffMs: 10,
        maxBackoffMs: 20,
      }).then(succeeded, failureOf);
      expect(err).toMatchObject({ name: 'CancelledFailure' });
      // At most the heartbeat that noticed the cancellation follows it; no further attempt is made.
      expect(beats.length).toBeLessThanOrEqual(beatsAtCancel + 1);
    } finally {
      await sim.stop();
    }
  });
});
