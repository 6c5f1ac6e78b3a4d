/**
 * ensureVm under faults: lock contention, transient 5xx and lost responses (effect applied, answer gone) must end in
 * the same state as a clean run, with exactly one clone that took effect per VM.
 */
import { createVmActivities } from '../../../src/activities/vms';
import { seedFromPhoenixWorld, startProxmoxSim, type ProxmoxSim } from '../../../src/lab/proxmox-sim';
import { depsFor, OWNER_TAG, retrying, settingsFor, vmSpec } from './helpers';

let sim: ProxmoxSim;
const { ensureVm } = createVmActivities(depsFor());

beforeAll(async () => {
  sim = await startProxmoxSim({
    worlds: [seedFromPhoenixWorld()],
    authDelayMs: 50,
    defaultTaskMs: 30,
    agentDelayMs: 100,
    taskDurations: { qmclone: 120 },
  });
});
afterAll(async () => {
  await sim.stop();
});

/** Clone POSTs for this vmid whose effect happened (answered, or applied and then the answer was lost). */
function clonesThatTookEffect(vmid: number) {
  return sim
    .audit()
    .filter(
      (e) => e.method === 'POST' && e.path.endsWith('/clone') && e.params.newid === String(vmid) && e.status === 200,
    );
}

function expectConverged(vmid: number) {
  const g = sim.guest(vmid)!;
  expect(g.status).toBe('running');
  expect(g.lock).toBeUndefined();
  expect(g.config).toMatchObject({ cores: 4, memory: '8192', onboot: 1, agent: 'enabled=1' });
  expect(String(g.config.scsi0)).toContain('size=64G');
  expect(String(g.config.tags).split(';')).toContain(OWNER_TAG);
  expect(Object.keys(g.pending)).toEqual([]);
}

it('a lost clone response does not clone twice', async () => {
  sim.setFaults({ scripted: [{ method: 'POST', path: '/qemu/9000/clone', shape: 'lost-response' }] });
  const r = await retrying(() =>
    ensureVm({ proxmox: settingsFor(sim, 'PMX_SECRET_F'), vm: vmSpec(1101, 'lost-clone') }),
  );
  expect(r.ready).toBe(true);
  expect(clonesThatTookEffect(1101)).toHaveLength(1);
  expect(clonesThatTookEffect(1101)[0].fault).toBe('lost-response');
  expectConverged(1101);
});

it('lost responses on config, resize and start converge without repeats', async () => {
  sim.setFaults({
    scripted: [
      { method: 'PUT', path: '/qemu/1102/config', shape: 'lost-response' },
      { method: 'PUT', path: '/qemu/1102/resize', shape: 'lost-response' },
      { method: 'POST', path: '/qemu/1102/status/start', shape: 'lost-response' },
    ],
  });
  await retrying(() => ensureVm({ proxmox: settingsFor(sim, 'PMX_SECRET_F'), vm: vmSpec(1102, 'lost-steps') }));
  const starts = sim.audit().filter((e) => e.path.endsWith('/qemu/1102/status/start'));
  expect(starts).toHaveLength(1);
  expectConverged(1102);
});

it('20 % transient failures, lock contention and lost responses end in the same state, one clone each', async () => {
  sim.setFaults({ scripted: [], transientRate: 0.2, lockRate: 0.1, lostResponseRate: 0.1, seed: 42 });
  const proxmox = settingsFor(sim, 'PMX_SECRET_F');
  const vmids = [1111, 1112, 1113, 1114];
  const results = await Promise.all(
    vmids.map((vmid) => retrying(() => ensureVm({ proxmox, vm: vmSpec(vmid, `chaos-${vmid}`) }))),
  );
  sim.setFaults({ transientRate: 0, lockRate: 0, lostResponseRate: 0 });
  const faulted = sim
    .audit()
    .filter((e) => e.fault && vmids.some((v) => e.path.includes(`/${v}/`) || e.params.newid === String(v)));
  expect(faulted.length).toBeGreaterThan(0);
  for (const [i, vmid] of vmids.entries()) {
    expect(results[i].ready).toBe(true);
    expect(clonesThatTookEffect(vmid)).toHaveLength(1);
    expectConverged(vmid);
  }
  // And a clean rerun afterwards changes nothing.
  const from = sim.audit().length;
  for (const vmid of vmids)
    expect((await ensureVm({ proxmox, vm: vmSpec(vmid, `chaos-${vmid}`) })).changes).toEqual([]);
  expect(
    sim
      .audit()
      .slice(from)
      .filter((e) => e.method !== 'GET'),
  ).toEqual([]);
});
