import { requireNode, startTask } from './common';
import { fail500, paramError, SimHttpError } from './http-error';
import { asBool, type Schema } from './params';
import { Envelope, route, type Route } from './router';
import { openBackupJob } from './backup-job';
import { archived } from './tasks';
import type { SimTask } from './types';

const opt = (type: 'int' | 'bool' | 'string', extra: Partial<Schema[string]> = {}): Schema[string] => ({
  type,
  optional: true,
  ...extra,
});

/** A task as `GET /nodes/{node}/tasks` lists it: PVE marks an active entry that has no status yet `RUNNING`. */
function taskEntry(t: SimTask) {
  return {
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    type: t.type,
    id: t.id,
    user: t.user,
    ...(t.status === 'stopped' ? { status: t.exitstatus, endtime: t.endtime } : { status: 'RUNNING' }),
  };
}

export function clusterRoutes(): Route[] {
  return [
    route('GET', '/version', 'Sys.Audit', {}, () => ({ version: '8.2.4', release: '8.2', repoid: 'faa83925c9641325' })),
    route('GET', '/nodes', 'Sys.Audit', {}, (ctx) =>
      ctx.state.nodes.map((n) => ({ node: n.node, status: 'online', type: 'node', id: `node/${n.node}` })),
    ),
    route(
      'GET',
      '/cluster/resources',
      'Sys.Audit',
      { type: opt('string', { enum: ['vm', 'storage', 'node', 'sdn'] }) },
      (ctx) => {
        const guests = Object.values(ctx.state.guests).map((g) => ({
          id: `${g.type}/${g.vmid}`,
          type: g.type,
          vmid: g.vmid,
          node: g.node,
          name: g.type === 'lxc' ? g.config.hostname : g.config.name,
          status: g.status,
          template: g.config.template ? 1 : 0,
          ...(g.lock ? { lock: g.lock } : {}),
          ...(g.config.tags ? { tags: g.config.tags } : {}),
        }));
        if (ctx.params.type === 'vm') return guests;
        const storages = ctx.state.nodes.flatMap((n) =>
          n.storages.map((s) => ({
            id: `storage/${n.node}/${s}`,
            type: 'storage',
            storage: s,
            node: n.node,
            status: 'available',
          })),
        );
        const nodes = ctx.state.nodes.map((n) => ({
          id: `node/${n.node}`,
          type: 'node',
          node: n.node,
          status: 'online',
        }));
        if (ctx.params.type === 'storage') return storages;
        if (ctx.params.type === 'node') return nodes;
        return [...nodes, ...storages, ...guests];
      },
    ),
    route('GET', '/cluster/nextid', 'Sys.Audit', { vmid: opt('int', { min: 100 }) }, (ctx) => {
      if (ctx.params.vmid !== undefined) {
        const vmid = Number(ctx.params.vmid);
        if (ctx.state.guests[vmid]) throw paramError({ vmid: `VM ${vmid} already exists` });
        return String(vmid);
      }
      let id = 100;
      while (ctx.state.guests[id]) id++;
      return String(id);
    }),
    route(
      'GET',
      '/nodes/{node}/storage/{storage}/content',
      'Datastore.Audit',
      { content: opt('string'), vmid: opt('int') },
      (ctx) => {
        const node = ctx.state.nodes.find((n) => n.node === requireNode(ctx))!;
        const storage = ctx.path.storage;
        if (!node.storages.includes(storage)) throw fail500(`storage '${storage}' does not exist`);
        if (ctx.params.content && ctx.params.content !== 'backup') return [];
        return (ctx.state.backups[storage] ?? []).filter(
          (v) => ctx.params.vmid === undefined || v.vmid === Number(ctx.params.vmid),
        );
      },
    ),
    route(
      'POST',
      '/nodes/{node}/vzdump',
      'VM.Backup',
      {
        vmid: opt('string', { pattern: /^\d+([,; ]\d+)*$/ }),
        all: opt('bool'),
        storage: opt('string'),
        mode: opt('string', { enum: ['snapshot', 'suspend', 'stop'] }),
        compress: opt('string', { enum: ['0', '1', 'gzip', 'lzo', 'zstd'] }),
        'notes-template': opt('string'),
        protected: opt('bool'),
        remove: opt('bool'),
        quiet: opt('bool'),
      },
      (ctx) => {
        const nodeName = requireNode(ctx);
        const node = ctx.state.nodes.find((n) => n.node === nodeName)!;
        const storage = String(ctx.params.storage ?? 'local');
        if (!node.storages.includes(storage)) throw fail500(`storage '${storage}' does not exist`);
        if (!ctx.params.vmid && !asBool(ctx.params.all))
          throw paramError({ vmid: 'property is missing and it is not optional' });
        const vmids = String(ctx.params.vmid ?? '')
          .split(/[,; ]+/)
          .filter(Boolean)
          .map(Number);
        const here = vmids.map((v) => ctx.state.guests[v]).filter((g) => g && g.node === nodeName);
        if (here.length === 0) return 'OK';
        const compress = String(ctx.params.compress ?? '0');
        const mode = String(ctx.params.mode ?? 'snapshot');
        const notesTemplate =
          ctx.params['notes-template'] !== undefined ? String(ctx.params['notes-template']) : undefined;
        const task = startTask(ctx, {
          node: nodeName,
          type: 'vzdump',
          id: vmids.length === 1 ? String(vmids[0]) : '',
          log: [
            `INFO: starting new backup job: vzdump ${vmids.join(' ')} --storage ${storage} --mode ${mode} --compress ${compress}` +
              `${notesTemplate ? ` --notes-template '${notesTemplate}'` : ''}${asBool(ctx.params.protected) ? ' --protected 1' : ''} --node ${nodeName}`,
          ],
          effect: {
            kind: 'vzdump',
            vmids: [],
            requested: here.map((g) => g.vmid),
            storage,
            compress,
            mode,
            notesTemplate,
            protected: asBool(ctx.params.protected),
            files: {},
          },
        });
        openBackupJob(ctx.state, task);
        return task.upid;
      },
    ),
    route(
      'GET',
      '/nodes/{node}/tasks',
      'Sys.Audit',
      {
        vmid: opt('int'),
        source: opt('string', { enum: ['archive', 'active', 'all'] }),
        typefilter: opt('string'),
        limit: opt('int'),
        start: opt('int'),
        errors: opt('bool'),
        userfilter: opt('string'),
        statusfilter: opt('string'),
        since: opt('int'),
        until: opt('int'),
      },
      (ctx) => {
        const node = requireNode(ctx);
        const source = String(ctx.params.source ?? 'archive');
        // Like PVE: `active` is the node's active file (running tasks and finished ones not archived yet, the latter
        // with endtime and status), `archive` the index of archived tasks, `all` both. `limit` defaults to 50.
        const now = Date.now();
        const list = ctx.state.tasks
          .filter((t) => t.node === node)
          .filter((t) => (source === 'active' ? !archived(t, now) : source === 'archive' ? archived(t, now) : true))
          .filter((t) => ctx.params.vmid === undefined || t.id === String(ctx.params.vmid))
          .filter((t) => ctx.params.typefilter === undefined || t.type === ctx.params.typefilter)
          .filter((t) => !asBool(ctx.params.errors) || (t.status === 'stopped' && t.exitstatus !== 'OK'))
          .sort((a, b) => b.startedAtMs - a.startedAtMs);
        const start = Number(ctx.params.start ?? 0);
        return list.slice(start, start + Number(ctx.params.limit ?? 50)).map(taskEntry);
      },
    ),
    route('GET', '/nodes/{node}/tasks/{upid}/status', 'Sys.Audit', {}, (ctx) => {
      const t = ctx.state.tasks.find((x) => x.upid === ctx.path.upid && x.node === ctx.path.node);
      if (!t) throw new SimHttpError(400, 'Parameter verification failed.', { upid: 'no such task' });
      return { ...taskEntry(t), status: t.status, ...(t.status === 'stopped' ? { exitstatus: t.exitstatus } : {}) };
    }),
    route(
      'GET',
      '/nodes/{node}/tasks/{upid}/log',
      'Sys.Audit',
      { start: opt('int'), limit: opt('int'), download: opt('bool') },
      (ctx) => {
        const t = ctx.state.tasks.find((x) => x.upid === ctx.path.upid && x.node === ctx.path.node);
        if (!t) throw new SimHttpError(400, 'Parameter verification failed.', { upid: 'no such task' });
        const start = Number(ctx.params.start ?? 0);
        const limit = Number(ctx.params.limit ?? 50);
        const lines = t.log.map((text, i) => ({ n: i + 1, t: text }));
        return new Envelope({ data: lines.slice(start, start + limit), total: lines.length });
      },
    ),
  ];
}
