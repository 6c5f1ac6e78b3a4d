/** The simulator itself: many worlds in one process, save/load, request validation and the audit log. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { createVmActivities } from '../../../src/activities/vms';
import { seedFromPhoenixWorld, startProxmoxSim, type ProxmoxSim } from '../../../src/lab/proxmox-sim';
import { ARCHIVE_AFTER_MS } from '../../../src/lab/proxmox-sim/tasks';
import { depsFor, settingsFor, vmSpec } from './helpers';

const sims: ProxmoxSim[] = [];
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
});

async function raw(
  sim: ProxmoxSim,
  method: 'GET' | 'POST' | 'DELETE' | 'PUT',
  path: string,
  body?: string,
  contentType?: string,
) {
  const res = await request(`${sim.url}/api2/json${path}`, {
    method,
    body,
    dispatcher: new Agent({ connect: { ca: sim.caCertPem } }),
    headers: {
      authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`,
      ...(contentType ? { 'content-type': contentType } : {}),
    },
  });
  return { status: res.statusCode, reason: res.statusText, body: await res.body.text() };
}

it('hosts 100 migrations with distinct vmid ranges in one simulator', async () => {
  const worlds = Array.from({ length: 100 }, (_, i) =>
    seedFromPhoenixWorld({
      templateVmid: 20000 + i,
      gatewayCtid: 30000 + i,
      legacy: [{ ctid: 40000 + i * 4, name: 'qdrant-lxc', ip: '10.0.0.152' }],
    }),
  );
  const sim = await startProxmoxSim({ worlds, authDelayMs: 50, defaultTaskMs: 20, agentDelayMs: 20 });
  sims.push(sim);
  expect(Object.keys(sim.state.guests)).toHaveLength(300);
  const { ensureVm } = createVmActivities(depsFor());
  const proxmox = settingsFor(sim, 'PMX_SECRET_MANY');
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      ensureVm({ proxmox, vm: vmSpec(50000 + i, `vm-${i}`, { cloneFrom: 20000 + i * 10 }) }),
    ),
  );
  expect(results.every((r) => r.created && r.ready)).toBe(true);
  expect(() => sim.addWorld(seedFromPhoenixWorld({ templateVmid: 20000 }))).toThrow(/seeded twice/);
});

it('saves and loads its state', async () => {
  const sim = await startProxmoxSim({ worlds: [seedFromPhoenixWorld()], authDelayMs: 50 });
  sims.push(sim);
  sim.guest(950)!.config.protection = 1;
  const file = join(mkdtempSync(join(tmpdir(), 'pmx-state-')), 'state.json');
  sim.saveState(file);
  const again = await startProxmoxSim({ stateFile: file, authDelayMs: 50 });
  sims.push(again);
  expect(again.guest(950)!.config.protection).toBe(1);
  expect(again.guest(9000)!.config.template).toBe(1);
});

it('validates requests like PVE and audits each one without secrets', async () => {
  const sim = await startProxmoxSim({ worlds: [seedFromPhoenixWorld()], authDelayMs: 50 });
  sims.push(sim);
  const withBody = await raw(sim, 'DELETE', '/nodes/pve/lxc/950', 'purge=1', 'application/x-www-form-urlencoded');
  expect(withBody.status).toBe(501);
  const unknown = await raw(sim, 'GET', '/nodes/pve/nothing');
  expect(unknown).toMatchObject({ status: 501, reason: "Method 'GET /nodes/pve/nothing' not implemented" });
  const json = await raw(
    sim,
    'POST',
    '/nodes/pve/qemu/9000/clone',
    JSON.stringify({ newid: 'abc', bogus: 1 }),
    'application/json',
  );
  expect(json.status).toBe(400);
  expect(JSON.parse(json.body)).toMatchObject({
    data: null,
    message: 'Parameter verification failed.\n',
    errors: {
      newid: "type check ('integer') failed - got 'abc'",
      bogus: 'property is not defined in schema and the schema does not allow additional properties',
    },
  });
  const stopped = await raw(sim, 'POST', '/nodes/pve/lxc/950/status/stop');
  expect(stopped.status).toBe(200);
  const missing = await raw(sim, 'GET', '/nodes/pve/qemu/4242/config');
  expect(missing).toMatchObject({
    status: 500,
    reason: "Configuration file 'nodes/pve/qemu-server/4242.conf' does not exist",
  });
  const log = sim.audit();
  expect(log.find((e) => e.path === '/api2/json/nodes/pve/qemu/9000/clone')).toMatchObject({
    method: 'POST',
    status: 400,
    params: { newid: 'abc', bogus: '1' },
  });
  expect(log.find((e) => e.path === '/api2/json/nodes/pve/lxc/950/status/stop')!.upid).toMatch(
    /^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzstop:950:root@pam!phoenix:$/,
  );
  expect(JSON.stringify(log)).not.toContain(sim.tokenSecret);
});

it('lists tasks like PVE: active = running (RUNNING) and finished not yet archived; archive after; limit 50', async () => {
  const sim = await startProxmoxSim({
    worlds: [seedFromPhoenixWorld()],
    authDelayMs: 50,
    taskDurations: { vzstop: 300 },
  });
  sims.push(sim);
  type Entry = { upid: string; status?: string; endtime?: number };
  const list = async (query: string) =>
    (JSON.parse((await raw(sim, 'GET', `/nodes/pve/tasks?${query}`)).body) as { data: Entry[] }).data;
  const upid = (JSON.parse((await raw(sim, 'POST', '/nodes/pve/lxc/950/status/stop')).body) as { data: string }).data;
  const find = async (source: string) => (await list(`source=${source}`)).find((e) => e.upid === upid);

  expect(await find('active')).toMatchObject({ upid, status: 'RUNNING' });
  expect((await find('active'))?.endtime).toBeUndefined();
  expect(await find('archive')).toBeUndefined();
  await new Promise((r) => setTimeout(r, 400));
  const finished = await find('active');
  expect(finished).toMatchObject({ upid, status: 'OK' });
  expect(typeof finished?.endtime).toBe('number');
  expect(await find('archive')).toBeUndefined();
  await new Promise((r) => setTimeout(r, ARCHIVE_AFTER_MS));
  expect(await find('active')).toBeUndefined();
  expect(await find('archive')).toMatchObject({ upid, status: 'OK' });
  expect(await find('all')).toMatchObject({ upid, status: 'OK' });

  const done = sim.state.tasks.find((t) => t.upid === upid)!;
  for (let i = 0; i < 60; i++) sim.state.tasks.push({ ...done, upid: `${done.upid}${i}`, startedAtMs: i });
  expect(await list('source=archive')).toHaveLength(50);
  expect((await list('source=archive&limit=100')).length).toBeGreaterThanOrEqual(61);
  expect((await list('source=archive&start=50&limit=100')).length).toBe((await list('limit=1000')).length - 50);
});

it('keeps a mount-point change of a running CT pending, like Proxmox: vzdump and `current=1` do not see it', async () => {
  const mp0 = 'quickOS-shared-prod-data-volumes:subvol-952-disk-1,mp=/qdrant/storage,size=20G';
  const sim = await startProxmoxSim({
    worlds: [
      seedFromPhoenixWorld({ legacy: [{ ctid: 952, name: 'qdrant-VSCodeRag', ip: '10.0.0.152', config: { mp0 } }] }),
    ],
    authDelayMs: 50,
    defaultTaskMs: 20,
  });
  sims.push(sim);
  const form = 'application/x-www-form-urlencoded';
  const put = await raw(sim, 'PUT', '/nodes/pve/lxc/952/config', `mp0=${encodeURIComponent(`${mp0},backup=1`)}`, form);
  expect(put.status).toBe(200);
  // The default view applies pending changes; the current one and vzdump do not.
  expect(JSON.parse((await raw(sim, 'GET', '/nodes/pve/lxc/952/config')).body).data.mp0).toBe(`${mp0},backup=1`);
  expect(JSON.parse((await raw(sim, 'GET', '/nodes/pve/lxc/952/config?current=1')).body).data.mp0).toBe(mp0);
  const pending = JSON.parse((await raw(sim, 'GET', '/nodes/pve/lxc/952/pending')).body).data as {
    key: string;
    pending?: string;
  }[];
  expect(pending.find((p) => p.key === 'mp0')?.pending).toBe(`${mp0},backup=1`);
  const dump = JSON.parse((await raw(sim, 'POST', '/nodes/pve/vzdump', 'vmid=952&storage=local', form)).body).data;
  await new Promise((r) => setTimeout(r, 100));
  const log = JSON.parse((await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(dump)}/log?limit=100`)).body)
    .data as { t: string }[];
  expect(log.map((l) => l.t)).toContain(
    "INFO: excluding volume mount point mp0 ('/qdrant/storage') from backup (disabled)",
  );
  // Stopped, the same change applies at once.
  await raw(sim, 'POST', '/nodes/pve/lxc/952/status/stop');
  await new Promise((r) => setTimeout(r, 100));
  await raw(sim, 'PUT', '/nodes/pve/lxc/952/config', `mp0=${encodeURIComponent(`${mp0},backup=1`)}`, form);
  expect(JSON.parse((await raw(sim, 'GET', '/nodes/pve/lxc/952/config?current=1')).body).data.mp0).toBe(
    `${mp0},backup=1`,
  );
});

/** A Phoenix world whose legacy CTs are 951 and 952 (a fresh seed each call). */
const legacy951and952 = () =>
  seedFromPhoenixWorld({
    legacy: [
      { ctid: 951, name: 'lxc-vllm-chat', ip: '10.0.0.151' },
      { ctid: 952, name: 'qdrant-lxc', ip: '10.0.0.152' },
    ],
  });

it("runs a node's vzdump jobs one at a time, like PVE's global backup lock; a world with its own lock domain does not wait", async () => {
  const sim = await startProxmoxSim({
    worlds: [
      legacy951and952(),
      {
        ...seedFromPhoenixWorld({ templateVmid: 9100, gatewayCtid: 1101, legacy: [{ ctid: 1952, name: 'other' }] }),
        backupLockDomain: 'tenant-1',
      },
    ],
    authDelayMs: 50,
    defaultTaskMs: 20,
    taskDurations: { vzdump: 300 },
  });
  sims.push(sim);
  const form = 'application/x-www-form-urlencoded';
  const dump = async (vmid: number) =>
    JSON.parse((await raw(sim, 'POST', '/nodes/pve/vzdump', `vmid=${vmid}&storage=local`, form)).body).data as string;
  const task = async (upid: string) => {
    const status = JSON.parse((await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/status`)).body).data;
    const log = JSON.parse((await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/log?limit=100`)).body)
      .data as { t: string }[];
    return {
      status: status.status as string,
      exitstatus: status.exitstatus as string | undefined,
      log: log.map((l) => l.t),
    };
  };
  const first = await dump(951);
  const second = await dump(952);
  const elsewhere = await dump(1952);
  // The second job runs (it is a task) but waits for the lock: no guest locked, no archive named yet.
  const waiting = await task(second);
  expect(waiting.status).toBe('running');
  expect(waiting.log).toEqual([
    expect.stringMatching(/^INFO: starting new backup job: vzdump 952 /),
    'INFO: trying to get global lock - waiting...',
  ]);
  expect(sim.guest(952)!.lock).toBeUndefined();
  expect(sim.guest(951)!.lock).toBe('backup');
  // The other lock domain (a tenant standing for its own node) started at once.
  expect((await task(elsewhere)).log.join('\n')).toContain(
    "creating vzdump archive '/var/lib/vz/dump/vzdump-lxc-1952-",
  );
  await new Promise((r) => setTimeout(r, 350));
  expect((await task(first)).exitstatus).toBe('OK');
  const running = await task(second);
  expect(running.status).toBe('running');
  expect(running.log).toContain('INFO: got global lock');
  expect(sim.guest(952)!.lock).toBe('backup');
  await new Promise((r) => setTimeout(r, 350));
  const done = await task(second);
  expect(done.exitstatus).toBe('OK');
  // Its archive is named from when it got the lock, not from when it was asked for.
  const [one, two] = [951, 952].map((v) => sim.state.backups.local.find((b) => b.vmid === v)!);
  expect(two.ctime - one.ctime).toBeGreaterThanOrEqual(0);
  expect(sim.state.tasks.find((t) => t.upid === second)!.runsFromMs).toBe(
    sim.state.tasks.find((t) => t.upid === first)!.startedAtMs + 300,
  );
  expect(sim.guest(952)!.lock).toBeUndefined();
});

it('a backup job with a locked guest backs up the others and unlocks them, then ends with job errors', async () => {
  const sim = await startProxmoxSim({
    worlds: [legacy951and952()],
    authDelayMs: 50,
    defaultTaskMs: 20,
    taskDurations: { vzdump: 100 },
  });
  sims.push(sim);
  sim.guest(952)!.lock = 'snapshot';
  const form = 'application/x-www-form-urlencoded';
  const upid = JSON.parse((await raw(sim, 'POST', '/nodes/pve/vzdump', 'vmid=951,952&storage=local', form)).body)
    .data as string;
  await new Promise((r) => setTimeout(r, 200));
  const status = JSON.parse((await raw(sim, 'GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/status`)).body).data;
  expect(status.exitstatus).toBe('job errors');
  const log = sim.state.tasks.find((t) => t.upid === upid)!.log;
  expect(log).toContain('ERROR: Backup of VM 952 failed - CT is locked (snapshot)');
  expect(log.slice(-2)).toEqual(['INFO: Backup job finished with errors', 'TASK ERROR: job errors']);
  expect(sim.guest(951)!.lock).toBeUndefined();
  expect(sim.state.backups.local.map((b) => b.vmid)).toEqual([951]);
  expect(sim.guest(952)!.lock).toBe('snapshot');
});
