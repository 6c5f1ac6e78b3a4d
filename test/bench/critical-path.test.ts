import { backupJobsIn, BENCH_AGENT_DELAY_MS, BENCH_TASK_MS, criticalPath, measuredVmWork } from '../../src/bench/bench';
import type { ResolvedPlan } from '../../src/config/resolved-plan';
import type { LabEvent } from '../../src/lab/event-log';

const plan = {
  vms: [
    { vmid: 1001, adopt: true, diskSizeGb: 32 },
    { vmid: 1002, diskSizeGb: 64 },
  ],
  backups: { enabled: true },
} as unknown as ResolvedPlan;

const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
const exec = (s: number, vmid: number, ms: number): LabEvent => ({ time: at(s), kind: 'guest-exec', vmid, ms });

describe('the bench critical path', () => {
  const report = {
    vms: [
      { vmid: 1001, created: false, changes: ['set tags phoenix-migrate', 'resize scsi0 13.5G → 32G'] },
      { vmid: 1002, created: true, changes: ['clone 9000 → 1002', 'resize scsi0 32G → 64G', 'start'] },
    ],
    phases: [{ name: 'Infrastructure Provisioning', startedAt: at(10), endedAt: at(100) }],
  };
  const events: LabEvent[] = [
    exec(5, 1002, 999), // before Phase 3: not provisioning
    exec(70, 1002, 200),
    exec(71, 1002, 300),
    exec(72, 1001, 50),
    { time: at(73), kind: 'proxmox', vmid: 1002 },
    exec(110, 1002, 1000), // later phases: [109, 110] and [109.5, 110.5] overlap → 1.5 s
    exec(110.5, 1001, 1000),
    exec(200, 1002, 5000), // after the run ended
    exec(80, 10012, 400), // a fleet tenant's VM
  ];

  it('reads what Phase 3 did per VM: 1001 adopted (resize only), 1002 cloned, resized, started; guest commands', () => {
    const work = measuredVmWork(report, events, Date.parse(at(150)));
    expect(work.vms).toEqual([
      { vmid: 1001, cloned: false, resized: true, started: false, guestCommands: 1, guestCommandMs: 50 },
      { vmid: 1002, cloned: true, resized: true, started: true, guestCommands: 2, guestCommandMs: 500 },
    ]);
    expect(work.laterGuestCommandMs).toBe(1500);
  });

  it('is the clone chain of 1002 plus its provisioning, later guest commands and the CT chain; no clone of 1001', () => {
    const work = measuredVmWork(report, events, Date.parse(at(150)));
    const cts = { deleted: 1, backupJobs: 1 };
    const cp = criticalPath(plan, BENCH_TASK_MS, BENCH_AGENT_DELAY_MS, cts, work.vms, work.laterGuestCommandMs);
    expect(cp.seconds).toBe(30 + 6 + 10 + 12 + 0.5 + 1.5 + 24 + 10 + 8);
    expect(cp.chain[0]).toBe('qmclone 1002 30 s');
    expect(cp.chain).toContain('provisioning 1002 (2 guest commands) 0.5 s');
    expect(cp.chain.join(' ')).not.toMatch(/qmclone 1001|qmstart 1001/);
  });

  it('an adopted VM with a long provisioning can be the longer chain', () => {
    const vms = [
      { vmid: 1001, cloned: false, resized: true, started: false, guestCommands: 9, guestCommandMs: 70_000 },
      { vmid: 1002, cloned: true, resized: true, started: true, guestCommands: 14, guestCommandMs: 1_000 },
    ];
    const cp = criticalPath(plan, BENCH_TASK_MS, BENCH_AGENT_DELAY_MS, { deleted: 0, backupJobs: 0 }, vms);
    expect(cp.chain).toEqual([
      'adopt 1001 (no clone) 0 s',
      'resize 1001 6 s',
      'provisioning 1001 (9 guest commands) 70 s',
    ]);
    expect(cp.seconds).toBe(76);
  });

  it('counts every backup job of the run one after another: a node runs one vzdump at a time', () => {
    const vzdump = (vmid: string, effect: boolean): LabEvent => ({
      time: at(120),
      kind: 'proxmox',
      method: 'POST',
      path: '/api2/json/nodes/phoenix/vzdump',
      vmid,
      effect,
    });
    const jobs = backupJobsIn([vzdump('951', true), vzdump('952', true), vzdump('952', false), exec(1, 1002, 5)]);
    expect(jobs).toBe(2);
    const cp = criticalPath(plan, BENCH_TASK_MS, BENCH_AGENT_DELAY_MS, { deleted: 2, backupJobs: jobs }, []);
    expect(cp.chain.slice(-3)).toEqual([
      "vzdump ×2 one after another (the node's backup lock) 48 s",
      'vzshutdown 10 s',
      'vzdestroy 8 s',
    ]);
    expect(cp.seconds).toBe(30 + 6 + 10 + 12 + 48 + 10 + 8);
  });
});
