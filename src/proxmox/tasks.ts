import type { ProxmoxHttp } from './client';
import { classifyTaskFailure, isProxmoxError, ProxmoxError } from './errors';
import { taskWatcherFor } from './task-watcher';

export interface Upid {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  /** Unix seconds. */
  starttime: number;
  type: string;
  /** The guest id for guest tasks (for `qmclone`, the *source* vmid); may be empty. */
  id: string;
  user: string;
}

const UPID_RE =
  /^UPID:([a-zA-Z0-9][a-zA-Z0-9.-]*):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

/** Parse `UPID:NODE:PID:PSTART:STARTTIME:TYPE:ID:USER:`; throws an `invalid` ProxmoxError otherwise. */
export function parseUpid(upid: string): Upid {
  const m = UPID_RE.exec(upid.trim());
  if (!m) {
    throw new ProxmoxError(`"${upid}" is not a Proxmox task id (UPID:NODE:PID:PSTART:STARTTIME:TYPE:ID:USER:)`, {
      kind: 'invalid',
    });
  }
  return {
    upid: upid.trim(),
    node: m[1],
    pid: parseInt(m[2], 16),
    pstart: parseInt(m[3], 16),
    starttime: parseInt(m[4], 16),
    type: m[5],
    id: m[6],
    user: m[7],
  };
}

export interface TaskStatus {
  status: 'running' | 'stopped';
  exitstatus?: string;
  upid: string;
  type: string;
  id: string;
  node: string;
}

export interface TaskProgress {
  upid: string;
  type: string;
  id: string;
  status: 'running' | 'stopped';
  elapsedMs: number;
  polls: number;
}

export interface TaskResult {
  upid: string;
  exitstatus: string;
  /** `WARNINGS: N` is a success with N warnings. */
  warnings: number;
  /** The last log lines (for archive names, warnings, messages). */
  logTail: string[];
}

export interface WaitOptions {
  heartbeat?: (progress: TaskProgress) => void;
  /** Give up waiting (the task keeps running) after this long; default 10 minutes. */
  timeoutMs?: number;
  /** Per-task polling (only when the node's task list cannot be used, or with `watch: false`): first interval. */
  minIntervalMs?: number;
  /** … growing ×1.5 up to this. */
  maxIntervalMs?: number;
  logLines?: number;
  sleep?: (ms: number) => Promise<void>;
  /** false: poll this task on its own instead of through the node's shared watcher (src/proxmox/task-watcher.ts). */
  watch?: boolean;
  /** With the watcher: read this task's status at least this often whatever the list says; default 5 s. */
  statusEveryMs?: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function taskPath(upid: Upid, leaf: 'status' | 'log'): string {
  return `/nodes/${encodeURIComponent(upid.node)}/tasks/${encodeURIComponent(upid.upid)}/${leaf}`;
}

export async function readTaskLog(http: ProxmoxHttp, upid: string, lines = 50): Promise<string[]> {
  const parsed = parseUpid(upid);
  // Ask for the total first would cost a request; PVE returns the tail when start is past the end minus limit,
  // so read a generous window from the start and keep the last lines.
  const entries = await http.get<{ n: number; t: string }[]>(taskPath(parsed, 'log'), { start: 0, limit: 5000 });
  return (entries ?? []).map((e) => e.t).slice(-lines);
}

async function statusWithBriefRetry(
  http: ProxmoxHttp,
  upid: Upid,
  sleep: (ms: number) => Promise<void>,
): Promise<TaskStatus> {
  // Right after creation a busy node may not know the task yet ("no such task"): retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      return await http.get<TaskStatus>(taskPath(upid, 'status'));
    } catch (err) {
      const noSuchTask =
        isProxmoxError(err) && /no such task/i.test(`${err.message} ${JSON.stringify(err.errors ?? {})}`);
      if (!noSuchTask || attempt >= 5) throw err;
      await sleep(200 * (attempt + 1));
    }
  }
}

const STILL_RUNNING = 'task still running';

/** A wait that gave up while its task still runs on the node (as opposed to a task that ended badly). */
export function isTaskStillRunning(err: unknown): boolean {
  return isProxmoxError(err) && err.reason === STILL_RUNNING;
}

/** Heartbeats while the list says "running" come at most this often (a status read always heartbeats). */
const LISTED_HEARTBEAT_EVERY_MS = 500;

/**
 * Wait for a task to stop. Resolves for `OK` and `WARNINGS: N`; throws a ProxmoxError carrying the exit status and
 * log tail otherwise, and a transient one after `timeoutMs` (the task keeps running).
 *
 * The status is read once at once; after that the node's shared watcher (src/proxmox/task-watcher.ts) tells the wait
 * when to read it again: when the node's active task list, read once per 100 ms tick for every wait on that node,
 * no longer shows the task running — or every 5 s in any case. A task's end is noticed ≈ 0.1 s after it happens, for
 * ≤ 10 list requests per second per node however many tasks are waited for (BENCHMARKS.md "Polling"). When the list
 * cannot be used (or with `watch: false`) the task is polled on its own: 100 ms growing ×1.5 to 500 ms.
 */
export async function waitForTask(http: ProxmoxHttp, upidText: string, opts: WaitOptions = {}): Promise<TaskResult> {
  const upid = parseUpid(upidText);
  const sleep = opts.sleep ?? defaultSleep;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const started = Date.now();
  let polls = 0;
  let lastBeatAt = 0;
  const beat = (status: TaskStatus['status']) => {
    polls++;
    lastBeatAt = Date.now();
    opts.heartbeat?.({ upid: upid.upid, type: upid.type, id: upid.id, status, elapsedMs: lastBeatAt - started, polls });
  };
  const readStatus = async () => {
    const status = await statusWithBriefRetry(http, upid, sleep);
    beat(status.status);
    return status;
  };
  const timedOut = () => {
    if (Date.now() - started < timeoutMs) return;
    throw new ProxmoxError(
      `Proxmox task ${upid.type} on ${upid.id || upid.node} still running after ${Math.round(timeoutMs / 1000)} s (${upid.upid}); ` +
        `it continues on the node — the next attempt will wait for it again.`,
      { kind: 'transient', reason: STILL_RUNNING, task: { upid: upid.upid, exitstatus: '', logTail: [] } },
    );
  };

  let status = await readStatus();
  if (status.status === 'stopped') return outcome(http, upid, status, opts);
  timedOut();

  if (opts.watch !== false) {
    const watch = taskWatcherFor(http, upid.node).watch(upid.upid, opts.statusEveryMs);
    try {
      for (;;) {
        const verdict = await watch.next();
        if (verdict === 'fallback') break;
        if (verdict === 'check') {
          status = await readStatus();
          watch.statusRead(status.status === 'running');
          if (status.status === 'stopped') return await outcome(http, upid, status, opts);
        } else if (Date.now() - lastBeatAt >= LISTED_HEARTBEAT_EVERY_MS) {
          beat('running');
        }
        timedOut();
      }
    } finally {
      watch.close();
    }
  }

  // On its own: the list cannot be used on this node (or the caller asked for this).
  const max = opts.maxIntervalMs ?? 500;
  let interval = opts.minIntervalMs ?? 100;
  for (;;) {
    await sleep(interval);
    interval = Math.min(max, Math.round(interval * 1.5));
    status = await readStatus();
    if (status.status === 'stopped') return outcome(http, upid, status, opts);
    timedOut();
  }
}

/** The result of a stopped task, or its typed failure with the log tail. */
async function outcome(http: ProxmoxHttp, upid: Upid, status: TaskStatus, opts: WaitOptions): Promise<TaskResult> {
  const exitstatus = String(status.exitstatus ?? '').trim();
  const logTail = await readTaskLog(http, upid.upid, opts.logLines ?? 50).catch(() => [] as string[]);
  if (exitstatus === 'OK') return { upid: upid.upid, exitstatus, warnings: 0, logTail };
  const w = /^WARNINGS: (\d+)$/.exec(exitstatus);
  if (w) return { upid: upid.upid, exitstatus, warnings: Number(w[1]), logTail };
  const tail = logTail.slice(-8).join(' | ');
  throw new ProxmoxError(
    `Proxmox task ${upid.type} on ${upid.id || upid.node} failed: ${exitstatus || 'unknown error'}${tail ? ` — log tail: ${tail}` : ''}`,
    { kind: classifyTaskFailure(exitstatus), task: { upid: upid.upid, exitstatus, logTail } },
  );
}

export interface TaskListEntry {
  upid: string;
  type: string;
  id: string;
  node: string;
  status?: string;
  starttime: number;
  endtime?: number;
}

/** Tasks still running on the node for this guest: before any change, wait for these instead of racing them. */
export async function activeTasksFor(http: ProxmoxHttp, node: string, vmid: number): Promise<TaskListEntry[]> {
  const list = await http.get<TaskListEntry[]>(`/nodes/${encodeURIComponent(node)}/tasks`, { vmid, source: 'active' });
  return (list ?? []).filter((t) => String(t.id) === String(vmid) && !t.endtime);
}

/**
 * Finished tasks of one type for this guest, newest first (e.g. the vzdump that made a backup found on a retry).
 * `source=all`: a task that ended a moment ago may not be archived yet — it is then still in the node's active list,
 * with its endtime and status — and a retry that has just waited for it must find it.
 */
export async function finishedTasksFor(
  http: ProxmoxHttp,
  node: string,
  vmid: number,
  type: string,
): Promise<TaskListEntry[]> {
  const list = await http.get<TaskListEntry[]>(`/nodes/${encodeURIComponent(node)}/tasks`, {
    vmid,
    typefilter: type,
    source: 'all',
    limit: 20,
  });
  const ended = (t: TaskListEntry) => t.endtime != null || String(t.status ?? 'RUNNING').toUpperCase() !== 'RUNNING';
  return (list ?? [])
    .filter((t) => String(t.id) === String(vmid) && t.type === type && ended(t))
    .sort((a, b) => b.starttime - a.starttime);
}
