/**
 * The data gate's facts: every collection of the legacy Qdrant with its exact point count, and the same collection's
 * count on the new instance (absent = -1). The decision (delete the CT that hosts the legacy Qdrant only when every
 * collection is there with at least as many points) is the workflow's, in gates.ts.
 */
import type { SecretRef } from '../config/resolved-plan';
import { QdrantClient } from '../qdrant/client';
import { describeSecretRef } from '../secrets';
import { heartbeat } from './heartbeat';
import { toActivityFailure } from './failures';

export interface CollectionCounts {
  name: string;
  legacyCount: number;
  /** -1 when the collection does not exist on the new instance. */
  newCount: number;
}

export function createDataGateActivities(deps: { resolveSecret(ref: SecretRef): Promise<string> }) {
  async function compareQdrantCollections(input: {
    legacyUrl: string;
    newUrl: string;
    apiKey?: SecretRef;
    timeoutMs?: number;
  }): Promise<CollectionCounts[]> {
    let apiKey: string | undefined;
    if (input.apiKey) {
      try {
        apiKey = await deps.resolveSecret(input.apiKey);
      } catch (e) {
        throw toActivityFailure(e, `Qdrant api key (${describeSecretRef(input.apiKey)})`);
      }
    }
    const timeoutMs = input.timeoutMs ?? 30_000;
    const legacy = new QdrantClient({ baseUrl: input.legacyUrl, apiKey, timeoutMs });
    const fresh = new QdrantClient({ baseUrl: input.newUrl, apiKey, timeoutMs });
    let what = `listing the collections of the legacy Qdrant ${input.legacyUrl}`;
    try {
      const names = await legacy.listCollections();
      const onNew = new Set(await fresh.listCollections());
      const out: CollectionCounts[] = [];
      for (const name of names.sort()) {
        what = `counting the points of ${name}`;
        out.push({
          name,
          legacyCount: await legacy.countExact(name),
          newCount: onNew.has(name) ? await fresh.countExact(name) : -1,
        });
        heartbeat({ what: 'compare collections', done: out.length });
      }
      return out;
    } catch (e) {
      throw toActivityFailure(e, what);
    }
  }
  return { compareQdrantCollections };
}
