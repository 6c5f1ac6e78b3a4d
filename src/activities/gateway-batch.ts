/**
 * One worker's changes of one gateway site file: one at a time, and the cutovers that queued behind a change are
 * made together as the next one.
 *
 * One at a time: the file's flock and compare-and-swap already make concurrent changes safe, but not cheap. N
 * activities that read together all find the file changed after the first write, read again, and the losers of three
 * rounds back off as activity retries. Queued here, each change reads the file the previous one wrote and finds the
 * lock free; changes from other workers or people are still caught by the lock and the compare-and-swap.
 *
 * Together: one at a time, a fleet's 100 cutovers of a shared gateway were 100 changes in a row (each two `nginx -t`,
 * a reload and the workers' switch), and the median run waited 36 s for its turn (BENCHMARKS.md). The cutovers of
 * different upstreams that queued while a change ran are written as one change: one read, compare-and-swap, backup,
 * `nginx -t`, rename, `nginx -t` and reload, with every upstream's record and fence. Everything else goes alone, in
 * its own activity: a cutover alone in its turn, one whose upstream is already cut over or cannot be rewritten, one
 * whose activity was cancelled while it queued — and every member of a joint change that failed: each reads the file
 * again and meets its own outcome (a rejected config, a superseded attempt, its change already made) as if it had
 * been alone. So a joint change only ever succeeds for all its members, or leaves each to itself.
 */
import type { GatewaySettings } from '../config/resolved-plan';
import { parseUpstreamBlocks } from '../nginx/tokens';
import { rewriteUpstream } from '../nginx/upstream';
import type { RemoteTarget } from '../remote';
import type { CutoverGatewayResult } from './gateway';
import {
  backupPathFor,
  CAS_ATTEMPTS,
  cutoverMade,
  cutoverRecord,
  readSnapshot,
  writeLocked,
  type ActivityExecution,
} from './gateway-steps';

/** A cutover that waits for its turn: what it changes, and what its own activity gives its record and fence. */
export interface QueuedCutover {
  gateway: GatewaySettings;
  by?: ActivityExecution;
  token: number;
  cancelled?: AbortSignal;
}

/** Not done by the joint change: the cutover runs alone. `mayHaveWritten` when a joint change that held it failed. */
export interface Alone {
  alone: true;
  mayHaveWritten: boolean;
}

type Outcome = CutoverGatewayResult | Alone;

interface Member extends QueuedCutover {
  outcome: Deferred<Outcome>;
  finished: Deferred<void>;
}

interface Batch {
  members: Member[];
  together: (members: QueuedCutover[]) => Promise<Outcome[]>;
}

/**
 * At most this many cutovers in one change: the write script gets their records as one argument (≈ 0.5 KB each), and
 * Linux refuses a single argument over 128 KB; 32 keep it near 20 KB and still make a fleet's 100 about four changes.
 */
export const MAX_TOGETHER = 32;

export function createGatewayQueue() {
  const turns = new Map<string, Promise<unknown>>();
  const forming = new Map<string, Batch>();

  function oneChangeAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const turn = (turns.get(key) ?? Promise.resolve()).then(fn, fn);
    const settled = turn.then(
      () => undefined,
      () => undefined,
    );
    turns.set(key, settled);
    void settled.then(() => {
      if (turns.get(key) === settled) turns.delete(key);
    });
    return turn;
  }

  /**
   * Queue a cutover: `together` writes a joint change for two or more (run by the activity that opened the batch);
   * `alone` is this cutover's own path, run in its own activity, still in the queue's turn.
   */
  async function cutover(
    key: string,
    request: QueuedCutover,
    together: (members: QueuedCutover[]) => Promise<Outcome[]>,
    alone: (mayHaveWritten: boolean) => Promise<CutoverGatewayResult>,
  ): Promise<CutoverGatewayResult> {
    let batch = forming.get(key);
    if (
      !batch ||
      batch.members.length >= MAX_TOGETHER ||
      batch.members.some((m) => m.gateway.upstream === request.gateway.upstream)
    ) {
      const opened: Batch = { members: [], together };
      forming.set(key, opened);
      void oneChangeAtATime(key, () => runTurn(key, opened));
      batch = opened;
    }
    const member: Member = { ...request, outcome: deferred(), finished: deferred() };
    batch.members.push(member);
    const outcome = await member.outcome.promise;
    try {
      return 'alone' in outcome ? await alone(outcome.mayHaveWritten) : outcome;
    } finally {
      member.finished.resolve();
    }
  }

  async function runTurn(key: string, batch: Batch): Promise<void> {
    if (forming.get(key) === batch) forming.delete(key);
    const { members } = batch;
    // Every member gets an outcome whatever `together` does — also when it throws before it returns a promise (the
    // activity that opened the batch was cancelled): a member without one would wait until its activity timed out.
    let outcomes: Outcome[] = members.map(() => ({ alone: true, mayHaveWritten: false }));
    if (members.length > 1) {
      try {
        const joint = await batch.together(members);
        if (joint.length === members.length) outcomes = joint;
      } catch {
        outcomes = members.map(() => ({ alone: true, mayHaveWritten: true }));
      }
    }
    // Those going alone take their turns here, one after the other, each in its own activity.
    for (const [i, member] of members.entries()) {
      member.outcome.resolve(outcomes[i]);
      await member.finished.promise;
    }
  }

  return { oneChangeAtATime, cutover };
}

/**
 * The joint change: one read, every member's upstream rewritten in the text, one locked write carrying every record
 * and fence. Retries the compare-and-swap like a single cutover; throws when the write failed (each member then goes
 * alone, see above).
 */
export async function cutOverTogether(
  target: RemoteTarget,
  members: QueuedCutover[],
  timeoutMs: number,
): Promise<Outcome[]> {
  const gateway = members[0].gateway;
  const notWritten = (): Outcome => ({ alone: true, mayHaveWritten: false });
  for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
    const snap = await readSnapshot(target, gateway);
    const planned = rewriteBlocks(snap.text, members);
    if (planned.changes.length === 0) return members.map(notWritten);
    const { text } = planned;
    const backupPath = backupPathFor(gateway, snap.realPath);
    const written = planned.changes.map((change) => {
      const member = members[change.index];
      const { previousServers, before, after } = change;
      const record = cutoverRecord(
        member.gateway,
        { realPath: snap.realPath, previousServers, backupPath, before, after },
        member.by,
      );
      return { index: change.index, member, record };
    });
    const result = await writeLocked(
      target,
      gateway,
      snap,
      text,
      backupPath,
      written.map(({ member, record }) => ({ gateway: member.gateway, record, token: member.token })),
      timeoutMs,
    );
    if (result === 'retry') continue;
    const outcomes = members.map(notWritten);
    for (const { index, record } of written) outcomes[index] = cutoverMade(record, result.reload);
    return outcomes;
  }
  // Someone else kept changing the file: nothing was written; each tries alone (and retries as an activity).
  return members.map(notWritten);
}

/**
 * Every member's upstream rewritten, from ONE parse of the file: each block is rewritten on its own text (what
 * rewriteUpstream does to a block depends on the block alone) and put back by position. A parse of a fleet's site
 * file takes ~10 ms, and three per member (rewrite, block before, block after) kept a worker's event loop busy for
 * seconds with a batch of 50 — long enough for its activities' heartbeats to time out. A member whose upstream is not
 * there exactly once, cannot be rewritten or is already as planned is left out: it goes alone and reports that itself.
 */
function rewriteBlocks(
  text: string,
  members: QueuedCutover[],
): {
  text: string;
  changes: { index: number; previousServers: string[]; before: string; after: string; start: number; end: number }[];
} {
  const parsed = parseUpstreamBlocks(text);
  if (!parsed.ok) return { text, changes: [] };
  const changes = [];
  for (const [index, member] of members.entries()) {
    if (member.cancelled?.aborted) continue;
    const { upstream, newServers } = member.gateway;
    const blocks = parsed.upstreams.filter((b) => b.name === upstream);
    if (blocks.length !== 1) continue;
    const start = blocks[0].start;
    const end = blocks[0].close + 1;
    const before = text.slice(start, end);
    const rewrite = rewriteUpstream(before, upstream, newServers);
    if (!rewrite.ok || !rewrite.changed) continue;
    changes.push({ index, previousServers: rewrite.previousServers, before, after: rewrite.text, start, end });
  }
  let rewritten = text;
  for (const c of [...changes].sort((a, b) => b.start - a.start))
    rewritten = rewritten.slice(0, c.start) + c.after + rewritten.slice(c.end);
  return { text: rewritten, changes };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
