/**
 * One watcher of running tasks per API client (endpoint + credential) and node, shared by every wait of the process.
 *
 * While at least one task on a node is waited for, the watcher reads the node's active task list once per tick
 * (`GET /nodes/{node}/tasks?source=active&limit=…`) and tells each wait what the list says about its task: still
 * running, or no longer running (absent from the list, or listed with an `endtime`/`status`). Only then does the wait
 * read its task's status (`…/tasks/{upid}/status`, the truth) and log. The list is a hint:
 *
 * - a task the list does not show (truncated, not visible to this token, a node that does not list it) but whose
 *   status reads `running` is not trusted to the list any more until the list shows it running again; like every
 *   watched task it still gets its own status read every `statusEveryMs` (default 5 s), so a list that misses or
 *   keeps a task (PVE's active file can say RUNNING for a task whose worker was not reaped yet) never hangs a wait;
 * - a list that fails transiently is tried again next tick; one that fails for good (403, 501, …) makes the node's
 *   waits poll each task on its own for a while (`FALLBACK_FOR_MS`), as before the watcher.
 *
 * Cost, per node and independent of how many tasks are watched: at most one list request per tick (100 ms plus the
 * request's own time: ≤ 10 GET/s while anything on the node is watched, none when idle), plus per watched task one
 * status read every 5 s and, at its end, one status and one log read. A task's end is noticed ≈ tick/2 + one
 * list and one status round trip after it happens (BENCHMARKS.md "Polling").
 *
 * PVE facts this relies on (pve-manager PVE/API2/Tasks.pm, pve-common RESTEnvironment.pm): `limit` defaults to 50
 * (`start` is an offset); `source=active` lists the node's active file — running tasks (`status: RUNNING`, no
 * endtime) and finished ones not archived yet (with `endtime` and `status`); a token sees its own tasks without
 * Sys.Audit; a new task is in the active file before its UPID is returned.
 */
import type { ProxmoxHttp } from './client';
import { isProxmoxError, isRetryable } from './errors';

/** Time between the end of one list request and the start of the next while anything is watched. */
export const TASK_WATCH_TICK_MS = 100;
/** Enough for every running task of a homelab node (PVE keeps running tasks plus ≤ 25 finished in the list). */
export const TASK_WATCH_LIST_LIMIT = 1000;
/** A watched task's own status read at least this often, whatever the list says. */
export const TASK_STATUS_EVERY_MS = 5_000;
/** After a list failure that will not go away by itself, the node's waits poll each task on their own this long. */
export const FALLBACK_FOR_MS = 60_000;

/**
 * What one tick says to a wait: `running` (listed as running), `check` (read the status now: the list says it ended
 * or does not show it, or the task's own status read is due), `unknown` (the list failed this tick), `fallback` (the
 * list cannot be used: poll on your own).
 */
export type WatchVerdict = 'running' | 'check' | 'unknown' | 'fallback';

export interface TaskWatch {
  /** Resolves at the next tick with what it says about this task. */
  next(): Promise<WatchVerdict>;
  /** Tell the watcher what the status read after a `check` said. */
  statusRead(running: boolean): void;
  close(): void;
}

interface ListEntry {
  upid: string;
  status?: string;
  endtime?: number;
}

interface Watch extends TaskWatch {
  readonly upid: string;
  readonly statusEveryMs: number;
  lastStatusAt: number;
  /** False after the list said "ended" (or did not show it) and the status said running: only the safety net then. */
  trustList: boolean;
  /** What the last list delivered to this watch said. */
  lastListed?: 'running' | 'ended';
  waiting?: (verdict: WatchVerdict) => void;
}

function ended(entry: ListEntry): boolean {
  return entry.endtime != null || (entry.status != null && String(entry.status).toUpperCase() !== 'RUNNING');
}

export interface NodeTaskWatcherOptions {
  tickMs?: number;
  limit?: number;
}

export class NodeTaskWatcher {
  private readonly watches = new Set<Watch>();
  private timer?: ReturnType<typeof setTimeout>;
  private listing = false;
  private fallbackUntil = 0;
  /** List requests sent (for tests and diagnostics). */
  listRequests = 0;

  constructor(
    private readonly http: ProxmoxHttp,
    readonly node: string,
    private readonly opts: NodeTaskWatcherOptions = {},
  ) {}

  /** Start watching a task whose status was just read as running. */
  watch(upid: string, statusEveryMs = TASK_STATUS_EVERY_MS): TaskWatch {
    const w: Watch = {
      upid,
      statusEveryMs,
      lastStatusAt: Date.now(),
      trustList: true,
      next: () => {
        if (Date.now() < this.fallbackUntil) return Promise.resolve('fallback');
        return new Promise<WatchVerdict>((resolve) => {
          w.waiting = resolve;
          this.schedule();
        });
      },
      statusRead: (running) => {
        w.lastStatusAt = Date.now();
        if (running && w.lastListed !== 'running') w.trustList = false;
      },
      close: () => {
        this.watches.delete(w);
        w.waiting?.('unknown');
        w.waiting = undefined;
        if (this.watches.size === 0 && this.timer) {
          clearTimeout(this.timer);
          this.timer = undefined;
        }
      },
    };
    this.watches.add(w);
    return w;
  }

  /** How many tasks are watched now. */
  get size(): number {
    return this.watches.size;
  }

  private schedule(): void {
    if (this.timer || this.listing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick().catch(() => this.giveUp());
    }, this.opts.tickMs ?? TASK_WATCH_TICK_MS);
  }

  /** Something unforeseen: let every wait on this node poll on its own for a while rather than hang or crash. */
  private giveUp(): void {
    this.listing = false;
    this.fallbackUntil = Date.now() + FALLBACK_FOR_MS;
    for (const w of this.watches) {
      const deliver = w.waiting;
      w.waiting = undefined;
      deliver?.('fallback');
    }
  }

  private async tick(): Promise<void> {
    // Only the waits already waiting when the list is asked for get its answer; every wait that is reading its status
    // now calls next() afterwards, which schedules the next tick.
    const asked = [...this.watches].filter((w) => w.waiting);
    if (asked.length === 0) return;
    this.listing = true;
    let list: ListEntry[] | undefined;
    try {
      this.listRequests++;
      const data = await this.http.get<unknown>(`/nodes/${encodeURIComponent(this.node)}/tasks`, {
        source: 'active',
        limit: this.opts.limit ?? TASK_WATCH_LIST_LIMIT,
      });
      // Not a list: this endpoint does not answer like PVE's, so it cannot be relied on.
      if (!Array.isArray(data)) throw new Error('the task list is not an array');
      list = (data as ListEntry[]).filter((e) => typeof e?.upid === 'string');
    } catch (err) {
      if (!isProxmoxError(err) || !isRetryable(err)) this.fallbackUntil = Date.now() + FALLBACK_FOR_MS;
    } finally {
      this.listing = false;
    }
    const fallback = Date.now() < this.fallbackUntil;
    const byUpid = new Map((list ?? []).map((e) => [e.upid, e]));
    const now = Date.now();
    for (const w of asked) {
      const deliver = w.waiting;
      if (!deliver || !this.watches.has(w)) continue;
      w.waiting = undefined;
      if (fallback) {
        deliver('fallback');
        continue;
      }
      const safetyNetDue = now - w.lastStatusAt >= w.statusEveryMs;
      if (!list) {
        deliver(safetyNetDue ? 'check' : 'unknown');
        continue;
      }
      const entry = byUpid.get(w.upid);
      const listedRunning = entry !== undefined && !ended(entry);
      w.lastListed = listedRunning ? 'running' : 'ended';
      if (listedRunning) w.trustList = true;
      deliver(safetyNetDue || (!listedRunning && w.trustList) ? 'check' : 'running');
    }
    if ([...this.watches].some((w) => w.waiting)) this.schedule();
  }
}

/** proxmoxApiOver() wraps one ProxmoxHttp in another object: both share that HTTP core's watchers. */
const identities = new WeakMap<object, object>();
const watchers = new WeakMap<object, Map<string, NodeTaskWatcher>>();

/** Make `wrapper` (e.g. a ProxmoxApi over `http`) share `http`'s task watchers. */
export function shareTaskWatchers(wrapper: object, http: object): void {
  identities.set(wrapper, identities.get(http) ?? http);
}

/** The process-wide watcher of this client's tasks on `node`. */
export function taskWatcherFor(http: ProxmoxHttp, node: string): NodeTaskWatcher {
  const key = identities.get(http) ?? http;
  let byNode = watchers.get(key);
  if (!byNode) watchers.set(key, (byNode = new Map()));
  let watcher = byNode.get(node);
  if (!watcher) byNode.set(node, (watcher = new NodeTaskWatcher(http, node)));
  return watcher;
}
