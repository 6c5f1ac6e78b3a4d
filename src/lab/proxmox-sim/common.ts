import { createHash } from 'node:crypto';
import { fail500 } from './http-error';
import type { RouteContext } from './router';
import { createTask, type NewTask } from './tasks';
import type { GuestType, SimGuest, SimTask } from './types';

export function requireNode(ctx: RouteContext): string {
  const node = ctx.path.node;
  if (!ctx.state.nodes.some((n) => n.node === node)) {
    throw fail500(
      `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`,
    );
  }
  return node;
}

export function confPath(node: string, type: GuestType, vmid: number): string {
  return `nodes/${node}/${type === 'qemu' ? 'qemu-server' : 'lxc'}/${vmid}.conf`;
}

/** The guest at this node/type/vmid, or PVE's "does not exist" answer. */
export function requireGuest(ctx: RouteContext, type: GuestType): SimGuest {
  const node = requireNode(ctx);
  const vmid = Number(ctx.path.vmid);
  const g = ctx.state.guests[vmid];
  if (!g || g.type !== type || g.node !== node)
    throw fail500(`Configuration file '${confPath(node, type, vmid)}' does not exist`);
  return g;
}

export function lockFile(g: SimGuest): string {
  return g.type === 'qemu' ? `/var/lock/qemu-server/lock-${g.vmid}.conf` : `/run/lock/lxc/pve-config-${g.vmid}.lock`;
}

/** Config locks and a worker holding the config flock both refuse changes, as on a real node. */
export function checkLock(g: SimGuest, skiplock = false): void {
  if (g.lock && !skiplock) throw fail500(`${g.type === 'qemu' ? 'VM' : 'CT'} ${g.vmid} is locked (${g.lock})`);
  if (g.busyTask) throw fail500(`can't lock file '${lockFile(g)}' - got timeout`);
}

export function startTask(
  ctx: RouteContext,
  t: Omit<NewTask, 'user' | 'durationMs'> & { durationMs?: number },
): SimTask {
  const durationMs = t.durationMs ?? ctx.options.taskDurations[t.type] ?? ctx.options.defaultTaskMs;
  return createTask(ctx.state, { ...t, user: ctx.user, durationMs });
}

export function digestOf(config: Record<string, unknown>): string {
  return createHash('sha1').update(JSON.stringify(config)).digest('hex');
}
