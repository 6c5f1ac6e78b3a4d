/**
 * Qdrant checks and the data copy: readiness probes, verification through the gateway within a budget, copying
 * collections from the legacy instance by snapshot, and reading the legacy instance's traffic counters.
 *
 * "Not ready" and "not yet verified" are answers, not failures: the probes return them and the workflow decides.
 * Qdrant client errors are classified by failures.ts (the activities only add what they were doing); every wait
 * heartbeats and ends when the activity is cancelled.
 */
import type { SecretRef } from '../config/resolved-plan';
import { FailureType } from '../failure-types';
import { resolveSecret } from '../secrets';
import { QdrantClient, type QdrantClientOptions } from '../qdrant/client';
import { isQdrantError } from '../qdrant/errors';
import { refuse, toActivityFailure, withFailureTranslation } from './failures';
import { heartbeat, heartbeatDetails, pause } from './heartbeat';

export interface VerifyDeps {
  /** Builds a Qdrant client (injected so the worker/tests choose dispatchers). */
  qdrantClient?: (opts: QdrantClientOptions) => QdrantClient;
  resolveSecret?: (ref: SecretRef) => Promise<string>;
}

export interface ProbeQdrantInput {
  url: string;
  apiKey?: SecretRef;
  timeoutMs: number;
}

export interface ProbeResult {
  ready: boolean;
  /** Why (not) ready, in words for the operator. */
  detail: string;
}

export interface ExpectedCollection {
  name: string;
  /** Exact count must be at least this; absent = the collection only has to exist. */
  minCount?: number;
}

export interface VerifyQdrantInput {
  url: string;
  apiKey?: SecretRef;
  expectedCollections: ExpectedCollection[];
  budgetMs: number;
  /** Per request; default 5 s (never more than what is left of the budget). */
  timeoutMs?: number;
  /** Backoff between attempts: starts here, doubles, capped at `maxBackoffMs`. Defaults 500 ms / 5 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface CollectionCheck {
  name: string;
  /** Exact count, or null when it could not be read. */
  count: number | null;
  ok: boolean;
  reason?: string;
}

export interface VerifyQdrantResult {
  ok: boolean;
  attempts: number;
  detail: string;
  collections: CollectionCheck[];
}

export interface CopyQdrantInput {
  legacyUrl: string;
  newUrl: string;
  apiKey?: SecretRef;
  /** Default: every collection on the legacy instance. */
  collections?: string[];
  /** Per request; snapshots of big collections take a while. Default 10 min. */
  timeoutMs?: number;
}

export interface CopiedCollection {
  name: string;
  legacyCount: number;
  newCount: number;
  ok: boolean;
  /** True when the new instance already held the same exact count (a retry after success). */
  skipped: boolean;
}

export interface ReadLegacyTrafficInput {
  url: string;
  apiKey?: SecretRef;
  timeoutMs?: number;
}

export interface LegacyTraffic {
  /** Every REST + gRPC response counted since the instance started. */
  requestsTotal: number;
  /** The same without health/metrics probes: what real clients sent. Compare two reads to see if anyone still uses it. */
  dataRequestsTotal: number;
}

export function createVerifyActivities(deps: VerifyDeps = {}) {
  const makeClient = deps.qdrantClient ?? ((o: QdrantClientOptions) => new QdrantClient(o));
  const readSecret = deps.resolveSecret ?? (async (ref: SecretRef) => resolveSecret(ref));

  async function apiKeyFor(ref: SecretRef | undefined): Promise<string | undefined> {
    if (!ref) return undefined;
    try {
      return await readSecret(ref);
    } catch (e) {
      throw toActivityFailure(e, 'Qdrant api key');
    }
  }

  async function clientFor(url: string, ref: SecretRef | undefined, timeoutMs: number): Promise<QdrantClient> {
    return makeClient({ baseUrl: url, apiKey: await apiKeyFor(ref), timeoutMs });
  }

  /** One bounded readiness probe. Never throws for "not ready": the reason comes back in `detail`. */
  async function probeQdrant(input: ProbeQdrantInput): Promise<ProbeResult> {
    heartbeat({ probing: input.url });
    const client = await clientFor(input.url, input.apiKey, input.timeoutMs);
    try {
      const r = await client.readyz();
      return r.ready
        ? { ready: true, detail: `Qdrant at ${client.url} is ready (${r.body || r.status})` }
        : { ready: false, detail: `Qdrant at ${client.url} is not ready: ${r.status} ${r.body}`.trim() };
    } catch (e) {
      if (isQdrantError(e)) return { ready: false, detail: e.message };
      throw e;
    }
  }

  /** One look at readiness and every expected collection. */
  async function checkOnce(
    client: QdrantClient,
    expected: ExpectedCollection[],
  ): Promise<VerifyQdrantResult & { fatal?: boolean }> {
    const unknown = (reason: string): CollectionCheck[] =>
      expected.map((c) => ({ name: c.name, count: null, ok: false, reason }));
    try {
      const r = await client.readyz();
      if (!r.ready) {
        const detail = `Qdrant at ${client.url} is not ready: ${r.status} ${r.body}`.trim();
        return { ok: false, attempts: 0, detail, collections: unknown('instance not ready') };
      }
      const present = new Set(await client.listCollections());
      const collections: CollectionCheck[] = [];
      for (const c of expected) {
        if (!present.has(c.name)) {
          collections.push({ name: c.name, count: null, ok: false, reason: `collection ${c.name} does not exist yet` });
          continue;
        }
        const count = await client.countExact(c.name);
        const ok = count >= (c.minCount ?? 0);
        collections.push(
          ok
            ? { name: c.name, count, ok }
            : { name: c.name, count, ok, reason: `exact count ${count} is below the expected minimum ${c.minCount}` },
        );
      }
      const bad = collections.filter((c) => !c.ok);
      const detail =
        bad.length === 0
          ? `Qdrant at ${client.url} is ready; ${collections.map((c) => `${c.name}=${c.count}`).join(', ') || 'no collections expected'}`
          : `Qdrant at ${client.url}: ${bad.map((c) => c.reason).join('; ')}`;
      return { ok: bad.length === 0, attempts: 0, detail, collections };
    } catch (e) {
      if (!isQdrantError(e)) throw e;
      // A wrong key will not become right by waiting: stop early and say so.
      return { ok: false, attempts: 0, detail: e.message, collections: unknown(e.kind), fatal: e.kind === 'auth' };
    }
  }

  /**
   * Verifies readiness and expected collections, retrying within `budgetMs` with backoff and heartbeats.
   * Returns ok:false with the last reason when the budget runs out (the workflow decides what follows).
   */
  async function verifyQdrant(input: VerifyQdrantInput): Promise<VerifyQdrantResult> {
    const deadline = Date.now() + input.budgetMs;
    const key = await apiKeyFor(input.apiKey);
    const prior = heartbeatDetails<{ attempts?: number }>();
    let attempts = prior?.attempts ?? 0;
    let backoff = input.initialBackoffMs ?? 500;
    const maxBackoff = input.maxBackoffMs ?? 5000;
    for (;;) {
      attempts++;
      const left = Math.max(deadline - Date.now(), 250);
      const client = makeClient({
        baseUrl: input.url,
        apiKey: key,
        timeoutMs: Math.min(input.timeoutMs ?? 5000, left),
      });
      const { fatal, ...result } = await checkOnce(client, input.expectedCollections);
      heartbeat({ attempts, detail: result.detail });
      if (result.ok) return { ...result, attempts };
      const remaining = deadline - Date.now();
      if (fatal || remaining <= 0) {
        const why = fatal ? 'stopped early' : `budget of ${input.budgetMs} ms used up`;
        return {
          ...result,
          attempts,
          detail: `${result.detail} (${why} after ${attempts} attempt${attempts === 1 ? '' : 's'})`,
        };
      }
      // A cancelled run (or a worker shutting down) ends the wait here.
      await pause(Math.min(backoff, remaining));
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }

  async function countOrNull(client: QdrantClient, name: string): Promise<number | null> {
    try {
      return await client.countExact(name);
    } catch (e) {
      if (isQdrantError(e) && e.kind === 'not-found') return null;
      throw e;
    }
  }

  async function copyOne(
    legacy: QdrantClient,
    fresh: QdrantClient,
    name: string,
    sourceKey: string | undefined,
  ): Promise<CopiedCollection> {
    heartbeat({ collection: name, step: 'counting' });
    let legacyCount: number;
    try {
      legacyCount = await legacy.countExact(name);
    } catch (e) {
      throw toActivityFailure(e, `Collection ${name} on the legacy Qdrant`);
    }
    try {
      const already = await countOrNull(fresh, name);
      // Idempotent: a retry after a lost response finds the copy done and does not copy again.
      if (already === legacyCount) return { name, legacyCount, newCount: already, ok: true, skipped: true };
      const snap = await legacy.createSnapshot(name);
      heartbeat({ collection: name, step: 'snapshot created', snapshot: snap.name });
      await fresh.recoverFromUrl(name, legacy.snapshotUrl(name, snap.name), snap.checksum ?? undefined, sourceKey);
      heartbeat({ collection: name, step: 'recovered' });
      const newCount = await fresh.countExact(name);
      // The snapshot stays on the legacy disk otherwise; failing to delete it is harmless.
      await legacy.deleteSnapshot(name, snap.name).catch(() => undefined);
      if (newCount !== legacyCount) {
        throw refuse(
          FailureType.QdrantCountMismatch,
          `Collection ${name}: the new Qdrant holds ${newCount} points after recovery but the legacy one holds ${legacyCount}; ` +
            'check whether something still writes to the legacy instance, then re-run the copy',
          { name, legacyCount, newCount },
        );
      }
      return { name, legacyCount, newCount, ok: true, skipped: false };
    } catch (e) {
      throw toActivityFailure(e, `Copying collection ${name}`);
    }
  }

  /**
   * Snapshot mode: for each collection, snapshot it on the legacy instance, make the new instance recover it from
   * the legacy URL with its checksum, and compare exact counts. A collection already copied is skipped.
   */
  async function copyQdrantCollections(input: CopyQdrantInput): Promise<CopiedCollection[]> {
    const timeoutMs = input.timeoutMs ?? 600_000;
    const key = await apiKeyFor(input.apiKey);
    const legacy = makeClient({ baseUrl: input.legacyUrl, apiKey: key, timeoutMs });
    const fresh = makeClient({ baseUrl: input.newUrl, apiKey: key, timeoutMs });
    let names = input.collections;
    if (!names) {
      try {
        names = await legacy.listCollections();
      } catch (e) {
        throw toActivityFailure(e, 'Listing collections on the legacy Qdrant');
      }
    }
    const results: CopiedCollection[] = [];
    for (const name of names) {
      results.push(await copyOne(legacy, fresh, name, key));
      heartbeat({ done: results.map((r) => r.name) });
    }
    return results;
  }

  /** Request counters from the legacy instance's /metrics, to tell whether anyone still uses it. */
  async function readLegacyTraffic(input: ReadLegacyTrafficInput): Promise<LegacyTraffic> {
    heartbeat({ reading: input.url });
    const client = await clientFor(input.url, input.apiKey, input.timeoutMs ?? 10_000);
    try {
      return (await client.metrics()).totals;
    } catch (e) {
      throw toActivityFailure(e, "Reading the legacy Qdrant's request counters");
    }
  }

  return withFailureTranslation({ probeQdrant, verifyQdrant, copyQdrantCollections, readLegacyTraffic });
}

export type VerifyActivities = ReturnType<typeof createVerifyActivities>;
