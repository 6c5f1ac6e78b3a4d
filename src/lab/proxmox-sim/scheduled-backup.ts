/**
 * The node's scheduled backup job (Datacenter → Backup, run as root@pam), as the lab's fault `backup-job=SECONDS`
 * starts it: just before a client's first vzdump, so that vzdump waits for the node's backup lock the way it does
 * when a migration meets the homelab's nightly backup.
 */
import { openBackupJob } from './backup-job';
import { createTask } from './tasks';
import type { SimState, SimTask } from './types';

/** Every guest of `forVmid`'s node (and lock domain) but templates, `forVmid` among them, into `storage`. */
export function startScheduledBackupJob(
  state: SimState,
  node: string,
  storage: string,
  durationMs: number,
  forVmid: number,
): SimTask {
  const domain = state.guests[forVmid]?.backupLockDomain;
  const guests = Object.values(state.guests).filter(
    (g) => g.node === node && !g.config.template && g.backupLockDomain === domain,
  );
  const task = createTask(state, {
    node,
    type: 'vzdump',
    id: '',
    user: 'root@pam',
    durationMs,
    log: [
      `INFO: starting new backup job: vzdump --all 1 --storage ${storage} --mode snapshot --compress zstd --node ${node}`,
    ],
    effect: {
      kind: 'vzdump',
      vmids: [],
      requested: guests.map((g) => g.vmid).sort((a, b) => a - b),
      storage,
      compress: 'zstd',
      mode: 'snapshot',
      protected: false,
      files: {},
    },
  });
  openBackupJob(state, task);
  return task;
}
