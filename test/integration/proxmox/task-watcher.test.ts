/**
 * Task waits through the node's shared watcher, against the simulator over real HTTPS: one active-list request per
 * tick however many tasks are waited for, tasks the list misses or keeps still end, failures keep their typed error,
 * and a list that cannot be used falls back to polling each task.
 */
import {
  createProxmoxApi,
  ProxmoxError,
  taskWatcherFor,
  TASK_WATCH_TICK_MS,
  waitForTask,
  type ProxmoxApi,
  type ProxmoxHttp,
} from '../../../src/proxmox';
import { seedFromPhoenixWorld, startProxmoxSim, type AuditEntry, type ProxmoxSim } from '../../../src/lab/proxmox-sim';

let sim: ProxmoxSim;
const clients: ProxmoxApi[] = [];
let nextVmid = 800;

function client(): ProxmoxApi {
  const api = createProxmoxApi({
    apiUrl: sim.url,
    tls: { mode: 'fingerprint', sha256: sim.fingerprint },
    tokenId: sim.tokenId,
    tokenSecret: sim.tokenSecret,
    requestTimeoutMs: 10_000,
  });
  clients.push(api);
  return api;
}

/** The same client with its task list rewritten (what a list that truncates, hides or lags would answer). */
function withList(api: ProxmoxApi, rewrite: (list: { upid: string }[]) => unknown[]): ProxmoxHttp {
  return {
    ...api,
    get: async <T>(path: string, query?: Record<string, never>) => {
      const data = await api.get<T>(path, query);
      return (/\/tasks$/.test(path) ? rewrite(data as { upid: string }[]) : data) as T;
    },
  };
}

async function clone(api: ProxmoxApi): Promise<string> {
  const newid = nextVmid++;
  return api.qemu.clone('pve', 9000, { newid, name: `w${newid}`, full: true, storage: 'local-lvm' });
}

const isList = (e: AuditEntry) => e.method === 'GET' && e.path === '/api2/json/nodes/pve/tasks';
const isStatus = (e: AuditEntry) => e.method === 'GET' && /\/tasks\/[^/]+\/status$/.test(e.path);
const since = (from: number) => sim.audit().slice(from);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  sim = await startProxmoxSim({ worlds: [seedFromPhoenixWorld()], authDelayMs: 50, agentDelayMs: 0 });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.stop();
});

afterEach(() => sim.setFaults({ scripted: [] }));

it('waits for 20 tasks on one node with one list request per tick, and nothing when idle', async () => {
  sim.setOptions({ taskDurations: { qmclone: 1_200 } });
  const api = client();
  const upids = await Promise.all(Array.from({ length: 20 }, () => clone(api)));
  const from = sim.audit().length;
  const t0 = Date.now();
  const results = await Promise.all(upids.map((u) => waitForTask(api, u)));
  const elapsed = Date.now() - t0;
  expect(results.map((r) => r.exitstatus)).toEqual(upids.map(() => 'OK'));

  const log = since(from);
  const lists = log.filter(isList);
  expect(lists.length).toBeGreaterThanOrEqual(3);
  expect(lists.length).toBeLessThanOrEqual(Math.ceil(elapsed / TASK_WATCH_TICK_MS) + 1);
  expect(lists.every((e) => e.params.source === 'active' && Number(e.params.limit) >= 1000)).toBe(true);
  // Each task: one status read at the start and one when the list no longer shows it running (per-task polling
  // would have read each one 5–6 times in 1.2 s).
  for (const upid of upids) {
    const reads = log.filter((e) => isStatus(e) && decodeURIComponent(e.path).includes(upid));
    expect(reads.length).toBeGreaterThanOrEqual(2);
    expect(reads.length).toBeLessThanOrEqual(3);
  }
  expect(taskWatcherFor(api, 'pve').size).toBe(0);

  const idleFrom = sim.audit().length;
  await sleep(4 * TASK_WATCH_TICK_MS);
  expect(since(idleFrom).filter(isList)).toEqual([]);
});

it('shares one watcher between the API object and the HTTP core, and across nodes keeps one per node', async () => {
  const api = client();
  expect(taskWatcherFor(api, 'pve')).toBe(taskWatcherFor(api, 'pve'));
  expect(taskWatcherFor(api, 'other')).not.toBe(taskWatcherFor(api, 'pve'));
  expect(taskWatcherFor(client(), 'pve')).not.toBe(taskWatcherFor(api, 'pve'));
});

it('notices the end of a task the list does not show (truncated, not visible) by its own status reads', async () => {
  sim.setOptions({ taskDurations: { qmclone: 1_000 } });
  const api = client();
  const upid = await clone(api);
  const hiding = withList(api, (list) => list.filter((e) => e.upid !== upid));
  const from = sim.audit().length;
  const result = await waitForTask(hiding, upid, { statusEveryMs: 300 });
  expect(result.exitstatus).toBe('OK');
  const reads = since(from).filter((e) => isStatus(e) && decodeURIComponent(e.path).includes(upid));
  // The first absence is checked at once; after that only the 300 ms safety net reads it — not every tick.
  expect(reads.length).toBeGreaterThanOrEqual(3);
  expect(reads.length).toBeLessThanOrEqual(7);
});

it('notices the end of a task the list keeps showing as running (a worker the node has not reaped)', async () => {
  sim.setOptions({ taskDurations: { qmclone: 600 } });
  const api = client();
  const upid = await clone(api);
  const stale = withList(api, (list) => [
    ...list.filter((e) => e.upid !== upid),
    { upid, node: 'pve', type: 'qmclone', id: '9000', status: 'RUNNING' },
  ]);
  const t0 = Date.now();
  const result = await waitForTask(stale, upid, { statusEveryMs: 400 });
  expect(result.exitstatus).toBe('OK');
  expect(Date.now() - t0).toBeLessThan(3_000);
});

it('a task that fails among others still throws its typed error with the log tail', async () => {
  sim.setOptions({ taskDurations: { qmclone: 300, resize: 400 } });
  const api = client();
  const vmid = nextVmid;
  await waitForTask(api, await clone(api));
  const others = await Promise.all([clone(api), clone(api)]);
  const shrink = await api.qemu.resize('pve', vmid, 'scsi0', '8G');
  const [failed, ...ok] = await Promise.allSettled([
    waitForTask(api, shrink!),
    ...others.map((u) => waitForTask(api, u)),
  ]);
  expect(ok.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  expect(failed.status).toBe('rejected');
  const err = (failed as PromiseRejectedResult).reason as ProxmoxError;
  expect(err).toMatchObject({ code: 'PROXMOX_ERROR', kind: 'invalid' });
  expect(err.message).toContain('shrinking disks is not supported');
  expect(err.task?.logTail.at(-1)).toBe('TASK ERROR: shrinking disks is not supported');
});

it('keeps the list through transient failures of it', async () => {
  sim.setOptions({ taskDurations: { qmclone: 2_000 } });
  const api = client();
  const upid = await clone(api);
  // Four failed answers: one list call (with its three read retries) fails, the next tick's succeeds.
  sim.setFaults({ scripted: [{ method: 'GET', path: /\/nodes\/pve\/tasks$/, shape: 'transient', times: 4 }] });
  const from = sim.audit().length;
  expect((await waitForTask(api, upid)).exitstatus).toBe('OK');
  const log = since(from);
  expect(log.filter((e) => isList(e) && e.fault === 'transient')).toHaveLength(4);
  expect(log.filter((e) => isList(e) && e.status === 200).length).toBeGreaterThan(0);
  expect(log.filter((e) => isStatus(e)).length).toBeLessThanOrEqual(3);
});

it('falls back to polling each task when the list is refused, and does not ask again meanwhile', async () => {
  sim.setOptions({ taskDurations: { qmclone: 800 } });
  const api = client();
  let listCalls = 0;
  const refusing: ProxmoxHttp = {
    ...api,
    get: async <T>(path: string, query?: Record<string, never>) => {
      if (/\/tasks$/.test(path)) {
        listCalls++;
        throw new ProxmoxError(`GET ${path} failed: 403 Permission check failed`, { kind: 'permission', status: 403 });
      }
      return api.get<T>(path, query);
    },
  };
  const upids = [await clone(api), await clone(api)];
  const from = sim.audit().length;
  const results = await Promise.all(upids.map((u) => waitForTask(refusing, u, { minIntervalMs: 50 })));
  expect(results.map((r) => r.exitstatus)).toEqual(['OK', 'OK']);
  expect(listCalls).toBe(1);
  const reads = since(from).filter(isStatus);
  expect(reads.length).toBeGreaterThan(4); // polled on their own
  expect((await waitForTask(refusing, await clone(api), { minIntervalMs: 50 })).exitstatus).toBe('OK');
  expect(listCalls).toBe(1);
});

it('falls back, and neither hangs nor crashes, when the list answers something that is not a list', async () => {
  sim.setOptions({ taskDurations: { qmclone: 400 } });
  const api = client();
  const upid = await clone(api);
  const odd = withList(api, () => ({ tasks: 'not a list' }) as unknown as unknown[]);
  expect((await waitForTask(odd, upid, { minIntervalMs: 50 })).exitstatus).toBe('OK');
});

it('with watch: false polls the task on its own and never lists', async () => {
  sim.setOptions({ taskDurations: { qmclone: 300 } });
  const api = client();
  const upid = await clone(api);
  const from = sim.audit().length;
  const beats: number[] = [];
  const r = await waitForTask(api, upid, { watch: false, minIntervalMs: 20, heartbeat: (p) => beats.push(p.polls) });
  expect(r.exitstatus).toBe('OK');
  expect(since(from).filter(isList)).toEqual([]);
  expect(beats.length).toBeGreaterThan(2);
});
