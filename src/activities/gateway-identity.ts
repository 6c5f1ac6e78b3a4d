/**
 * The proof that the cutover took: answers THROUGH the gateway come from the NEW Qdrant, not the legacy one.
 *
 * `/readyz` cannot tell them apart (every instance says 200). Qdrant's `GET /telemetry` carries `result.id`, a UUID
 * each Qdrant process draws when it starts (docs/verification.md says for which versions). So: read that id directly
 * on the new VM and on the legacy CT, then ask the gateway until it returns the new id `needed` times in a row —
 * and the plan's collections through the gateway — within the budget. Whatever else answers is named: the legacy id
 * (the reload did not take, or nginx loads another site file), another id, or no answer at all.
 *
 * Its own activity with a start-to-close sized from the budget (src/timeouts.ts), so the budget can never outlast the
 * activity; "not verified" is an answer (ok: false), not a failure, and the workflow rolls back on it.
 */
import type { SecretRef } from '../config/resolved-plan';
import { QdrantClient, type QdrantClientOptions } from '../qdrant/client';
import { isQdrantError } from '../qdrant/errors';
import { resolveSecret } from '../secrets';
import { toActivityFailure, withFailureTranslation } from './failures';
import { heartbeat, pause } from './heartbeat';

export type IdentitySeen = 'new' | 'legacy' | 'none';

export interface VerifyGatewayIdentityInput {
  /** Through the gateway, e.g. `http://10.0.0.153/qdrant`. */
  gatewayUrl: string;
  /** Direct on the new VM and on the legacy CT. */
  newUrl: string;
  legacyUrl: string;
  apiKey?: SecretRef;
  expectedCollections: { name: string; minCount?: number }[];
  budgetMs: number;
  /** Answers in a row from the new instance that count as proof (default 3). */
  needed?: number;
  /**
   * Longest pause between tries (default 500 ms; the first pauses after a wrong answer are shorter: see below) and
   * per-request timeout (default 5 s, never more than what is left).
   */
  intervalMs?: number;
  timeoutMs?: number;
  /**
   * False when the cutover saw that nginx did NOT replace its workers after the reload. Legacy answers are then
   * conclusive: verification stops once `needed` of them came in a row instead of waiting out the budget.
   */
  reloadTaken?: boolean | null;
}

export interface VerifyGatewayIdentityResult {
  ok: boolean;
  /** Who answered the last try through the gateway. */
  identitySeen: IdentitySeen;
  newId: string | null;
  legacyId: string | null;
  attempts: number;
  detail: string;
  collections: { name: string; count: number | null; ok: boolean; reason?: string }[];
}

export interface GatewayIdentityDeps {
  qdrantClient?: (opts: QdrantClientOptions) => QdrantClient;
  resolveSecret?: (ref: SecretRef) => Promise<string>;
}

/** The first pause after an answer that is not (yet) the new instance; it doubles up to `intervalMs`. */
const FIRST_WRONG_BACKOFF_MS = 100;

export function createGatewayIdentityActivities(deps: GatewayIdentityDeps = {}) {
  const makeClient = deps.qdrantClient ?? ((o: QdrantClientOptions) => new QdrantClient(o));
  const readSecret = deps.resolveSecret ?? (async (ref: SecretRef) => resolveSecret(ref));

  async function verifyGatewayIdentity(input: VerifyGatewayIdentityInput): Promise<VerifyGatewayIdentityResult> {
    const deadline = Date.now() + input.budgetMs;
    const needed = input.needed ?? 3;
    const interval = input.intervalMs ?? 500;
    let apiKey: string | undefined;
    if (input.apiKey) {
      try {
        apiKey = await readSecret(input.apiKey);
      } catch (e) {
        throw toActivityFailure(e, 'Qdrant api key');
      }
    }
    const client = (baseUrl: string) =>
      makeClient({
        baseUrl,
        apiKey,
        timeoutMs: Math.max(250, Math.min(input.timeoutMs ?? 5000, deadline - Date.now())),
      });
    /** The id at `url`, or why there is none. An auth failure is final: the key will not become right by waiting. */
    const idAt = async (url: string): Promise<{ id: string } | { error: string; auth?: boolean }> => {
      try {
        return { id: (await client(url).identity()).id };
      } catch (e) {
        if (!isQdrantError(e)) throw e;
        // one line: a proxy's error page (HTML) must not fill the step's detail
        return { error: e.message.replace(/\s+/g, ' ').slice(0, 300), auth: e.kind === 'auth' };
      }
    };

    let newId: string | null = null;
    let legacyId: string | null = null;
    let attempts = 0;
    let streak = 0;
    let wrongBackoff = FIRST_WRONG_BACKOFF_MS;
    let legacyStreak = 0;
    let seen: IdentitySeen = 'none';
    let last = 'no answer yet';
    let collections: VerifyGatewayIdentityResult['collections'] = [];
    const result = (ok: boolean, detail: string): VerifyGatewayIdentityResult => ({
      ok,
      identitySeen: seen,
      newId,
      legacyId,
      attempts,
      detail,
      collections,
    });

    for (;;) {
      attempts++;
      // Both direct reads every try until known: the new one may still be starting, the legacy one may be down
      // (then only the new id counts, and anything else is "none").
      if (!newId) {
        const r = await idAt(input.newUrl);
        if ('id' in r) newId = r.id;
        else {
          last = `cannot read the new Qdrant's identity directly: ${r.error}`;
          if (r.auth) return result(false, `${last} — identity cannot be proven`);
        }
      }
      if (!legacyId) {
        const r = await idAt(input.legacyUrl);
        if ('id' in r) legacyId = r.id;
      }
      if (newId && legacyId && newId === legacyId)
        return result(
          false,
          `the new (${input.newUrl}) and the legacy (${input.legacyUrl}) Qdrant report the same identity ${newId}: they are the same instance; check qdrant.newUrl/legacyUrl in the plan`,
        );
      if (newId) {
        const r = await idAt(input.gatewayUrl);
        if ('id' in r) {
          seen = r.id === newId ? 'new' : r.id === legacyId ? 'legacy' : 'none';
          last =
            seen === 'new'
              ? `the new Qdrant (${newId}) answered through the gateway`
              : seen === 'legacy'
                ? `the LEGACY Qdrant (${legacyId}) answered through the gateway`
                : `an unknown Qdrant (${r.id}) answered through the gateway (new ${newId}, legacy ${legacyId ?? 'unknown'})`;
        } else {
          seen = 'none';
          last = `no Qdrant answer through the gateway: ${r.error}`;
          if (r.auth) return result(false, `${last} — identity cannot be proven`);
        }
        streak = seen === 'new' ? streak + 1 : 0;
        legacyStreak = seen === 'legacy' ? legacyStreak + 1 : 0;
        if (streak >= needed) {
          // The right instance, and ready (all shards loaded) with the planned collections.
          const ready = await client(input.gatewayUrl)
            .readyz()
            .catch((e: unknown) =>
              isQdrantError(e) ? { ready: false, status: 0, body: e.message } : Promise.reject(e),
            );
          collections = ready.ready
            ? await checkCollections(client(input.gatewayUrl), input.expectedCollections)
            : input.expectedCollections.map((c) => ({ name: c.name, count: null, ok: false, reason: 'not ready' }));
          const bad = collections.filter((c) => !c.ok);
          if (!ready.ready)
            last = `the new Qdrant answers through the gateway but is not ready: ${`${ready.status} ${ready.body}`.trim()}`;
          else if (bad.length === 0)
            return result(
              true,
              `the new Qdrant (${newId}) answered ${streak} times in a row through the gateway${collections.length ? `; ${collections.map((c) => `${c.name}=${c.count}`).join(', ')}` : ''}`,
            );
          else last = `the new Qdrant answers through the gateway, but ${bad.map((c) => c.reason).join('; ')}`;
        }
        if (input.reloadTaken === false && legacyStreak >= needed)
          return result(
            false,
            `${last}, ${legacyStreak} times in a row, and nginx did not replace its workers after the reload: the new configuration is not live`,
          );
      }
      heartbeat({ attempts, seen, last });
      const left = deadline - Date.now();
      if (left <= 0) break;
      // Answers in a row stay 200 ms apart (the proof samples a moment, not a burst). After a wrong answer the pause
      // starts at 100 ms and doubles up to the interval: right after the reload an old nginx worker may still answer
      // once (the first try often sees the legacy id), and a fixed 500 ms made each such answer cost half a second.
      const wait = streak > 0 ? Math.min(interval, 200) : Math.min(interval, wrongBackoff);
      if (streak === 0) wrongBackoff = Math.min(interval, wrongBackoff * 2);
      else wrongBackoff = FIRST_WRONG_BACKOFF_MS;
      await pause(Math.min(wait, left));
    }
    return result(false, `${last} (budget of ${input.budgetMs} ms used up after ${attempts} tries)`);
  }

  return withFailureTranslation({ verifyGatewayIdentity });
}

async function checkCollections(
  client: QdrantClient,
  expected: { name: string; minCount?: number }[],
): Promise<VerifyGatewayIdentityResult['collections']> {
  const out: VerifyGatewayIdentityResult['collections'] = [];
  try {
    const present = new Set(await client.listCollections());
    for (const c of expected) {
      if (!present.has(c.name)) {
        out.push({ name: c.name, count: null, ok: false, reason: `collection ${c.name} does not exist` });
        continue;
      }
      const count = await client.countExact(c.name);
      const ok = count >= (c.minCount ?? 0);
      out.push(
        ok ? { name: c.name, count, ok } : { name: c.name, count, ok, reason: `${c.name}: ${count} < ${c.minCount}` },
      );
      heartbeat({ collection: c.name });
    }
  } catch (e) {
    if (!isQdrantError(e)) throw e;
    return expected.map((c) => ({ name: c.name, count: null, ok: false, reason: e.message }));
  }
  return out;
}

export type GatewayIdentityActivities = ReturnType<typeof createGatewayIdentityActivities>;
