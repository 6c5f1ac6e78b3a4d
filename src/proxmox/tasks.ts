import type { ProxmoxHttp } from './client';
import { classifyTaskFailure, isProxmoxError, ProxmoxError } from './errors';

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
  minIntervalMs?: number;
  maxIntervalMs?: number;
  logLines?: number;
  sleep?: (ms: number) => Promise<void>;
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

/**
 * Wait for a task to stop, polling adaptively (100 ms growing ×1.5 to 500 ms). Resolves for `OK` and `WARNINGS: N`;
 * throws a ProxmoxError carrying the exit status and log tail otherwise.
 *
 * Why 500 ms at most: a task's end is noticed ≤ 0.5 s late (≈0.25 s on average; 1 s cost ≈0.5 s per task, six tasks
 * on the critical path), for ≈2 status reads per second per running task — a cheap GET for pveproxy
 * (BENCHMARKS.md: "Proxmox task polling").
 */
export async function waitForTask(http: ProxmoxHttp, upidText: string, opts: WaitOptions = {}): Promise<TaskResult> {
  const upid = parseUpid(upidText);
  const sleep = opts.sleep ?? defaultSleep;
  const min = opts.minIntervalMs ?? 100;
  const max = opts.maxIntervalMs ?? 500;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const started = Date.now();
  let interval = min;
  for (let polls = 1; ; polls++) {
    const status = await statusWithBriefRetry(http, upid, sleep);
    opts.heartbeat?.({
      upid: upid.upid,
      type: upid.type,
      id: upid.id,
      status: status.status,
      elapsedMs: Date.now() - started,
      polls,
    });
    if (status.status === 'stopped') {
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
    if (Date.now() - started >= timeoutMs) {
      throw new ProxmoxError(
        `Proxmox task ${upid.type} on ${upid.id || upid.node} still running after ${Math.round(timeoutMs / 1000)} s (${upid.upid}); ` +
          `it continues on the node — the next attempt will wait for it again.`,
        { kind: 'transient', task: { upid: upid.upid, exitstatus: '', logTail: [] } },
      );
    }
    await sleep(interval);
    interval = Math.min(max, Math.round(interval * 1.5));
  }
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

/** Finished tasks of one type for this guest, newest first (e.g. the vzdump that made a backup found on a retry). */
export async function finishedTasksFor(
  http: ProxmoxHttp,
  node: string,
  vmid: number,
  type: string,
): Promise<TaskListEntry[]> {
  const list = await http.get<TaskListEntry[]>(`/nodes/${encodeURIComponent(node)}/tasks`, {
    vmid,
    typefilter: type,
    source: 'archive',
    limit: 20,
  });
  return (list ?? [])
    .filter((t) => String(t.id) === String(vmid) && t.type === type)
    .sort((a, b) => b.starttime - a.starttime);
}
