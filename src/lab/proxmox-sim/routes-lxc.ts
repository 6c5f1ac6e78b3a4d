import { checkLock, digestOf, requireGuest, requireNode, startTask } from './common';
import { fail500 } from './http-error';
import { asBool, type Schema } from './params';
import { route, type Route } from './router';
import type { ConfigValue } from './types';

const opt = (type: 'int' | 'bool' | 'string'): Schema[string] => ({ type, optional: true });

/** mp0 … mp255 as pve-container accepts them (the sim takes the first 16). */
const MOUNT_POINT_KEYS: Schema = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`mp${i}`, opt('string')]));

export function lxcRoutes(): Route[] {
  const ct = '/nodes/{node}/lxc/{vmid}';
  return [
    route('GET', '/nodes/{node}/lxc', 'VM.Audit', {}, (ctx) => {
      const node = requireNode(ctx);
      return Object.values(ctx.state.guests)
        .filter((g) => g.type === 'lxc' && g.node === node)
        .map((g) => ({
          vmid: String(g.vmid),
          name: g.config.hostname,
          status: g.status,
          type: 'lxc',
          lock: g.lock,
          tags: g.config.tags,
        }));
    }),
    route('GET', `${ct}/config`, 'VM.Audit', { current: opt('bool'), snapshot: opt('string') }, (ctx) => {
      const g = requireGuest(ctx, 'lxc');
      // Like Proxmox: pending changes applied unless `current=1` — a pending `backup=1` reads as set here.
      const view: Record<string, ConfigValue> = { ...g.config };
      if (!asBool(ctx.params.current)) {
        Object.assign(view, g.pending);
        for (const k of g.pendingDelete) delete view[k];
      }
      return { ...view, ...(g.lock ? { lock: g.lock } : {}), digest: digestOf(g.config) };
    }),
    route(
      'PUT',
      `${ct}/config`,
      'VM.Config.Options',
      {
        protection: opt('bool'),
        description: opt('string'),
        tags: opt('string'),
        onboot: opt('bool'),
        startup: opt('string'),
        cores: opt('int'),
        memory: opt('int'),
        hostname: opt('string'),
        net0: opt('string'),
        ...MOUNT_POINT_KEYS,
        delete: opt('string'),
        digest: opt('string'),
      },
      (ctx) => {
        const g = requireGuest(ctx, 'lxc');
        checkLock(g);
        if (ctx.params.digest !== undefined && ctx.params.digest !== digestOf(g.config))
          throw fail500('detected modified configuration - file changed by other user? Try again.');
        const running = g.status === 'running';
        for (const [key, raw] of Object.entries(ctx.params)) {
          if (['delete', 'digest', 'node', 'vmid'].includes(key)) continue;
          const v = String(raw);
          const value: ConfigValue = ['protection', 'onboot'].includes(key)
            ? asBool(v)
              ? 1
              : 0
            : ['cores', 'memory'].includes(key)
              ? Number(v)
              : v;
          // Like pve-container: a change to an existing mount point of a running CT cannot be hot-applied; it waits in
          // `pending` until the CT next starts (vzdump and the config read meanwhile see the old value).
          if (running && /^mp[0-9]+$/.test(key) && g.config[key] !== undefined && g.config[key] !== value) {
            g.pending[key] = value;
            continue;
          }
          g.config[key] = value;
          delete g.pending[key];
        }
        for (const key of String(ctx.params.delete ?? '')
          .split(/[,; ]+/)
          .filter(Boolean))
          delete g.config[key];
        return null;
      },
    ),
    route('GET', `${ct}/pending`, 'VM.Audit', {}, (ctx) => {
      const g = requireGuest(ctx, 'lxc');
      const keys = new Set([...Object.keys(g.config), ...Object.keys(g.pending), ...g.pendingDelete]);
      return [...keys].sort().map((key) => ({
        key,
        ...(g.config[key] !== undefined ? { value: g.config[key] } : {}),
        ...(g.pending[key] !== undefined ? { pending: g.pending[key] } : {}),
        ...(g.pendingDelete.includes(key) ? { delete: 1 } : {}),
      }));
    }),
    route('GET', `${ct}/status/current`, 'VM.Audit', {}, (ctx) => {
      const g = requireGuest(ctx, 'lxc');
      return {
        vmid: g.vmid,
        name: g.config.hostname,
        status: g.status,
        type: 'lxc',
        ...(g.lock ? { lock: g.lock } : {}),
        uptime: g.startedAt ? Math.floor((Date.now() - g.startedAt) / 1000) : 0,
      };
    }),
    route('POST', `${ct}/status/start`, 'VM.PowerMgmt', { skiplock: opt('bool') }, (ctx) => {
      const g = requireGuest(ctx, 'lxc');
      if (g.status === 'running') throw fail500(`CT ${g.vmid} already running`);
      checkLock(g, asBool(ctx.params.skiplock));
      return startTask(ctx, {
        node: g.node,
        type: 'vzstart',
        id: String(g.vmid),
        holds: g,
        log: [],
        effect: { kind: 'start', vmid: g.vmid },
      }).upid;
    }),
    route('POST', `${ct}/status/shutdown`, 'VM.PowerMgmt', { timeout: opt('int'), forceStop: opt('bool') }, (ctx) => {
      const g = requireGuest(ctx, 'lxc');
      if (g.status !== 'running') throw fail500(`CT ${g.vmid} not running`);
      checkLock(g);
      const forceStop = asBool(ctx.params.forceStop);
      const timeoutMs = Number(ctx.params.timeout ?? 60) * 1000;
      const base = ctx.options.taskDurations.vzshutdown ?? ctx.options.defaultTaskMs;
      return startTask(ctx, {
        node: g.node,
        type: 'vzshutdown',
        id: String(g.vmid),
        holds: g,
        log: [],
        durationMs: g.ignoresShutdown && !forceStop ? Math.min(timeoutMs, Math.max(base, 50)) : base,
        effect: { kind: 'shutdown', vmid: g.vmid, forceStop },
      }).upid;
    }),
    route(
      'POST',
      `${ct}/status/stop`,
      'VM.PowerMgmt',
      { skiplock: opt('bool'), 'overrule-shutdown': opt('bool') },
      (ctx) => {
        const g = requireGuest(ctx, 'lxc');
        if (g.status !== 'running') throw fail500(`CT ${g.vmid} not running`);
        if (g.busyTask && !asBool(ctx.params['overrule-shutdown'])) checkLock(g);
        if (g.lock && !asBool(ctx.params.skiplock)) checkLock(g);
        return startTask(ctx, {
          node: g.node,
          type: 'vzstop',
          id: String(g.vmid),
          holds: g,
          log: [],
          effect: { kind: 'stop', vmid: g.vmid },
        }).upid;
      },
    ),
    route(
      'DELETE',
      ct,
      'VM.Allocate',
      { purge: opt('bool'), 'destroy-unreferenced-disks': opt('bool'), force: opt('bool') },
      (ctx) => {
        const g = requireGuest(ctx, 'lxc');
        if (g.config.protection) throw fail500(`can't remove CT ${g.vmid} - protection mode enabled`);
        checkLock(g);
        const force = asBool(ctx.params.force);
        if (g.status === 'running' && !force) throw fail500(`unable to destroy CT ${g.vmid} - container is running`);
        const log = [
          ...(g.status === 'running' ? [`stopping CT ${g.vmid} before destroying it`] : []),
          `Logical volume "vm-${g.vmid}-disk-0" successfully removed.`,
        ];
        return startTask(ctx, {
          node: g.node,
          type: 'vzdestroy',
          id: String(g.vmid),
          holds: g,
          log,
          effect: { kind: 'destroy', vmid: g.vmid },
        }).upid;
      },
    ),
  ];
}
