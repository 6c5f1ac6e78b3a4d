import { checkLock, digestOf, requireGuest, requireNode, startTask } from './common';
import { fail500, paramError } from './http-error';
import { asBool, type RawParams, type Schema } from './params';
import { route, type Route, type RouteContext } from './router';
import type { ConfigValue, ExecRule, SimGuest } from './types';

const DNS_NAME = /^(?=.{1,63}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const DISK_KEY = /^(ide|sata|scsi|virtio)\d+$/;
const opt = (type: 'int' | 'bool' | 'string', extra: Partial<Schema[string]> = {}): Schema[string] => ({
  type,
  optional: true,
  ...extra,
});

/** Options that apply at once even while the VM runs; the rest waits in `pending` for a restart. */
const HOT_KEYS = new Set(['name', 'onboot', 'startup', 'tags', 'description', 'protection', 'hookscript', 'lock']);
const INT_KEYS = new Set(['cores', 'sockets', 'balloon', 'onboot', 'protection', 'template']);

const CONFIG_SCHEMA: Schema = {
  cores: opt('int', { min: 1 }),
  sockets: opt('int', { min: 1 }),
  memory: opt('string', { pattern: /^(current=)?\d+$/ }),
  balloon: opt('int'),
  onboot: opt('bool'),
  startup: opt('string', { pattern: /^(order=\d+|up=\d+|down=\d+)(,(order=\d+|up=\d+|down=\d+))*$/ }),
  ipconfig0: opt('string'),
  ipconfig1: opt('string'),
  ciuser: opt('string'),
  cipassword: opt('string'),
  sshkeys: opt('string'),
  nameserver: opt('string'),
  searchdomain: opt('string'),
  protection: opt('bool'),
  agent: opt('string'),
  tags: opt('string', { pattern: /^[a-zA-Z0-9_][a-zA-Z0-9_\-+.]*([;, ][a-zA-Z0-9_][a-zA-Z0-9_\-+.]*)*$/ }),
  description: opt('string'),
  name: opt('string', { pattern: DNS_NAME }),
  delete: opt('string'),
  digest: opt('string'),
  boot: opt('string'),
  cpu: opt('string'),
  net0: opt('string'),
  skiplock: opt('bool'),
  citype: opt('string'),
};

function qemuConfigView(g: SimGuest, current: boolean): Record<string, ConfigValue> {
  const view: Record<string, ConfigValue> = { ...g.config };
  if (!current) {
    Object.assign(view, g.pending);
    for (const k of g.pendingDelete) delete view[k];
  }
  return { ...view, digest: digestOf(g.config) };
}

function checkSshKeys(value: string): void {
  if (/[\r\n]/.test(value))
    throw paramError({ sshkeys: 'invalid urlencoded string: contains a raw newline (percent-encode the keys)' });
  try {
    decodeURIComponent(value);
  } catch {
    throw paramError({ sshkeys: 'invalid urlencoded string' });
  }
}

function applyConfig(g: SimGuest, params: RawParams): void {
  checkLock(g, asBool(params.skiplock));
  if (params.digest && params.digest !== digestOf(g.config)) {
    throw fail500('detected modified configuration - file changed by other user? Try again.');
  }
  if (typeof params.sshkeys === 'string') checkSshKeys(params.sshkeys);
  const running = g.status === 'running';
  for (const [key, raw] of Object.entries(params)) {
    if (['delete', 'digest', 'skiplock', 'background_delay', 'node', 'vmid'].includes(key)) continue;
    const v = String(raw);
    const value: ConfigValue = INT_KEYS.has(key)
      ? ['onboot', 'protection'].includes(key)
        ? asBool(v)
          ? 1
          : 0
        : Number(v)
      : v;
    if (running && !HOT_KEYS.has(key) && g.config[key] !== value) g.pending[key] = value;
    else {
      g.config[key] = value;
      delete g.pending[key];
    }
  }
  for (const key of String(params.delete ?? '')
    .split(/[,; ]+/)
    .filter(Boolean)) {
    if (running && !HOT_KEYS.has(key)) g.pendingDelete.push(key);
    else delete g.config[key];
  }
}

function agentEnabled(g: SimGuest): boolean {
  const a = String(g.config.agent ?? '0');
  return /^(1|enabled=1)(,|$)/.test(a);
}

function requireAgent(ctx: RouteContext): SimGuest {
  const g = requireGuest(ctx, 'qemu');
  if (!agentEnabled(g)) throw fail500('No QEMU guest agent configured');
  if (g.status !== 'running') throw fail500(`VM ${g.vmid} is not running`);
  if (g.agentReadyAt === undefined || Date.now() < g.agentReadyAt) throw fail500('QEMU guest agent is not running');
  return g;
}

function ipOf(g: SimGuest): string | undefined {
  return /ip=([0-9.]+)/.exec(String(g.config.ipconfig0 ?? ''))?.[1];
}

function matchExec(rules: ExecRule[], argv: string[]): ExecRule | undefined {
  return rules.find((r) => r.argv.every((a, i) => argv[i] === a));
}

export function qemuRoutes(): Route[] {
  const vm = '/nodes/{node}/qemu/{vmid}';
  return [
    route('GET', '/nodes/{node}/qemu', 'VM.Audit', { full: opt('bool') }, (ctx) => {
      const node = requireNode(ctx);
      return Object.values(ctx.state.guests)
        .filter((g) => g.type === 'qemu' && g.node === node)
        .map((g) => ({
          vmid: g.vmid,
          name: g.config.name,
          status: g.status,
          template: g.config.template ? 1 : undefined,
          lock: g.lock,
          tags: g.config.tags,
        }));
    }),
    route('GET', `${vm}/config`, 'VM.Audit', { current: opt('bool'), snapshot: opt('string') }, (ctx) =>
      qemuConfigView(requireGuest(ctx, 'qemu'), asBool(ctx.params.current)),
    ),
    route('PUT', `${vm}/config`, 'VM.Config.Options', CONFIG_SCHEMA, (ctx) => {
      applyConfig(requireGuest(ctx, 'qemu'), ctx.params);
      return null;
    }),
    route('POST', `${vm}/config`, 'VM.Config.Options', { ...CONFIG_SCHEMA, background_delay: opt('int') }, (ctx) => {
      const g = requireGuest(ctx, 'qemu');
      applyConfig(g, ctx.params);
      return startTask(ctx, {
        node: g.node,
        type: 'qmconfig',
        id: String(g.vmid),
        log: [],
        effect: { kind: 'config', vmid: g.vmid, params: {} },
      }).upid;
    }),
    route('GET', `${vm}/pending`, 'VM.Audit', {}, (ctx) => {
      const g = requireGuest(ctx, 'qemu');
      const keys = new Set([...Object.keys(g.config), ...Object.keys(g.pending), ...g.pendingDelete]);
      return [...keys].map((key) => ({
        key,
        ...(g.config[key] !== undefined ? { value: g.config[key] } : {}),
        ...(g.pending[key] !== undefined ? { pending: g.pending[key] } : {}),
        ...(g.pendingDelete.includes(key) ? { delete: 1 } : {}),
      }));
    }),
    route('GET', `${vm}/status/current`, 'VM.Audit', {}, (ctx) => {
      const g = requireGuest(ctx, 'qemu');
      return {
        vmid: g.vmid,
        name: g.config.name,
        status: g.status,
        qmpstatus: g.status,
        agent: agentEnabled(g) ? 1 : 0,
        uptime: g.startedAt ? Math.floor((Date.now() - g.startedAt) / 1000) : 0,
        ...(g.lock ? { lock: g.lock } : {}),
        ...(g.config.template ? { template: 1 } : {}),
        cpus: g.config.cores,
        maxmem: Number(String(g.config.memory ?? '0').replace('current=', '')) * 1048576,
      };
    }),
    route(
      'POST',
      `${vm}/clone`,
      'VM.Clone',
      {
        newid: { type: 'int', min: 100 },
        name: opt('string', { pattern: DNS_NAME }),
        full: opt('bool'),
        storage: opt('string'),
        target: opt('string'),
        description: opt('string'),
        format: opt('string', { enum: ['raw', 'qcow2', 'vmdk'] }),
        pool: opt('string'),
        snapname: opt('string'),
        bwlimit: opt('int'),
      },
      (ctx) => {
        const src = requireGuest(ctx, 'qemu');
        const p = ctx.params;
        const full = p.full !== undefined ? asBool(p.full) : !src.config.template;
        if (!full && (p.storage || p.format))
          throw paramError({ [p.storage ? 'storage' : 'format']: 'this option is only allowed for full clones' });
        const targetNode = String(p.target ?? src.node);
        const storage = String(p.storage ?? '');
        const node = ctx.state.nodes.find((n) => n.node === targetNode);
        if (!node) throw paramError({ target: `no such cluster node '${targetNode}'` });
        if (storage && !node.storages.includes(storage)) throw fail500(`storage '${storage}' does not exist`);
        const newid = Number(p.newid);
        if (ctx.state.guests[newid]) throw fail500(`unable to create VM ${newid}: config file already exists`);
        if (src.lock) throw fail500(`VM ${src.vmid} is locked (${src.lock})`);
        const config: Record<string, ConfigValue> = {};
        const log: string[] = [];
        let diskNo = 0;
        for (const [key, value] of Object.entries(src.config)) {
          if (key === 'template') continue;
          const v = String(value);
          if (DISK_KEY.test(key) && !v.includes('media=cdrom')) {
            const volStorage = storage || v.split(':')[0];
            config[key] = v.replace(/^[^,]+/, `${volStorage}:vm-${newid}-disk-${diskNo++}`);
            log.push(
              `create full clone of drive ${key} (${v.split(',')[0]})`,
              `transferred 0.0 B of ${/size=([^,]+)/.exec(v)?.[1] ?? '?'} (0.00%)`,
              `transferred ${/size=([^,]+)/.exec(v)?.[1] ?? '?'} of ${/size=([^,]+)/.exec(v)?.[1] ?? '?'} (100.00%)`,
            );
          } else if (DISK_KEY.test(key) && v.includes('cloudinit')) {
            config[key] = `${storage || v.split(':')[0]}:vm-${newid}-cloudinit,media=cdrom`;
          } else config[key] = value;
        }
        config.name = String(p.name ?? `Copy-of-VM-${src.config.name ?? src.vmid}`);
        if (p.description !== undefined) config.description = String(p.description);
        else delete config.description;
        ctx.state.guests[newid] = {
          vmid: newid,
          type: 'qemu',
          node: targetNode,
          status: 'stopped',
          lock: 'clone',
          config,
          pending: {},
          pendingDelete: [],
          exec: src.exec.map((r) => ({ ...r })),
          ...(src.image ? { image: src.image } : {}),
          execRuns: {},
          nextExecPid: 1000,
          ignoresShutdown: false,
        };
        return startTask(ctx, {
          node: src.node,
          type: 'qmclone',
          id: String(src.vmid),
          log,
          effect: { kind: 'clone', newid },
        }).upid;
      },
    ),
    route(
      'PUT',
      `${vm}/resize`,
      'VM.Config.Disk',
      {
        disk: { type: 'string', pattern: /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/ },
        size: { type: 'string', pattern: /^\+?\d+(\.\d+)?[KMGT]?$/ },
        digest: opt('string'),
        skiplock: opt('bool'),
      },
      (ctx) => {
        const g = requireGuest(ctx, 'qemu');
        checkLock(g, asBool(ctx.params.skiplock));
        const disk = String(ctx.params.disk);
        if (g.config[disk] === undefined) throw fail500(`disk '${disk}' does not exist`);
        return startTask(ctx, {
          node: g.node,
          type: 'resize',
          id: String(g.vmid),
          holds: g,
          log: [`resize disk ${disk} to ${ctx.params.size}`],
          effect: { kind: 'resize', vmid: g.vmid, disk, size: String(ctx.params.size) },
        }).upid;
      },
    ),
    route(
      'POST',
      `${vm}/status/start`,
      'VM.PowerMgmt',
      { skiplock: opt('bool'), timeout: opt('int'), migratedfrom: opt('string') },
      (ctx) => {
        const g = requireGuest(ctx, 'qemu');
        if (g.config.template) throw fail500(`you can't start a vm if it's a template`);
        checkLock(g, asBool(ctx.params.skiplock));
        const already = g.status === 'running';
        const log = already ? [] : [`generating cloud-init ISO`];
        return startTask(ctx, {
          node: g.node,
          type: 'qmstart',
          id: String(g.vmid),
          holds: already ? undefined : g,
          log,
          effect: { kind: 'start', vmid: g.vmid },
          failWith: already ? `VM ${g.vmid} already running` : undefined,
        }).upid;
      },
    ),
    route('POST', `${vm}/status/stop`, 'VM.PowerMgmt', { skiplock: opt('bool'), timeout: opt('int') }, (ctx) => {
      const g = requireGuest(ctx, 'qemu');
      if (g.status !== 'running') throw fail500(`VM ${g.vmid} not running`);
      checkLock(g, asBool(ctx.params.skiplock));
      return startTask(ctx, {
        node: g.node,
        type: 'qmstop',
        id: String(g.vmid),
        holds: g,
        log: [],
        effect: { kind: 'stop', vmid: g.vmid },
      }).upid;
    }),
    route(
      'POST',
      `${vm}/status/shutdown`,
      'VM.PowerMgmt',
      { timeout: opt('int'), forceStop: opt('bool'), skiplock: opt('bool') },
      (ctx) => {
        const g = requireGuest(ctx, 'qemu');
        if (g.status !== 'running') throw fail500(`VM ${g.vmid} not running`);
        checkLock(g, asBool(ctx.params.skiplock));
        return startTask(ctx, {
          node: g.node,
          type: 'qmshutdown',
          id: String(g.vmid),
          holds: g,
          log: [],
          effect: { kind: 'shutdown', vmid: g.vmid, forceStop: asBool(ctx.params.forceStop) },
        }).upid;
      },
    ),
    route('POST', `${vm}/agent/ping`, 'VM.Monitor', {}, (ctx) => {
      requireAgent(ctx);
      return null;
    }),
    route('GET', `${vm}/agent/info`, 'VM.Monitor', {}, (ctx) => {
      requireAgent(ctx);
      return {
        result: {
          version: '8.2.2',
          supported_commands: [
            { name: 'guest-exec', enabled: true },
            { name: 'guest-ping', enabled: true },
          ],
        },
      };
    }),
    route('GET', `${vm}/agent/network-get-interfaces`, 'VM.Monitor', {}, (ctx) => {
      const g = requireAgent(ctx);
      const ip = ipOf(g);
      return {
        result: [
          {
            name: 'lo',
            'hardware-address': '00:00:00:00:00:00',
            'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 }],
          },
          {
            name: 'eth0',
            'hardware-address': String(/=([0-9A-F:]{17})/i.exec(String(g.config.net0 ?? ''))?.[1] ?? '').toLowerCase(),
            'ip-addresses': ip ? [{ 'ip-address': ip, 'ip-address-type': 'ipv4', prefix: 24 }] : [],
          },
        ],
      };
    }),
    route(
      'POST',
      `${vm}/agent/exec`,
      'VM.Monitor',
      { command: { type: 'string-list' }, 'input-data': opt('string') },
      (ctx) => {
        const g = requireAgent(ctx);
        const argv = ([] as string[]).concat(ctx.params.command);
        const sandbox = ctx.options.sandbox;
        if (sandbox && g.image) {
          const pid = g.nextExecPid++;
          const input = ctx.params['input-data'];
          ctx.options.sandboxRuns.set(
            `${g.vmid}:${pid}`,
            sandbox.exec(g.vmid, g.image, argv, input === undefined ? undefined : String(input), {
              cloudInitDoneAt: g.cloudInitDoneAt,
            }),
          );
          return { pid };
        }
        const rule = matchExec(g.exec, argv) ??
          matchExec(ctx.state.exec, argv) ?? { argv, exitcode: 0, stdout: '', stderr: '' };
        const pid = g.nextExecPid++;
        g.execRuns[String(pid)] = { argv, startedAt: Date.now(), rule };
        return { pid };
      },
    ),
    route('GET', `${vm}/agent/file-read`, 'VM.GuestAgent.FileRead', { file: { type: 'string' } }, (ctx) => {
      const g = requireAgent(ctx);
      const file = String(ctx.params.file);
      const sandbox = ctx.options.sandbox;
      const content = sandbox && g.image ? sandbox.readFile(g.vmid, g.image, file) : undefined;
      // QEMU's guest-file-open error, as PVE passes it on.
      if (content === undefined) throw fail500(`Agent error: failed to open file '${file}': No such file or directory`);
      const max = 16 * 1024 * 1024;
      return { content: content.slice(0, max), ...(content.length > max ? { truncated: 1 } : {}) };
    }),
    route('GET', `${vm}/agent/exec-status`, 'VM.Monitor', { pid: { type: 'int' } }, (ctx) => {
      const g = requireAgent(ctx);
      const sandboxed = ctx.options.sandboxRuns.get(`${g.vmid}:${ctx.params.pid}`);
      if (sandboxed) {
        if (sandboxed.exitcode === undefined) return { exited: 0 };
        const out = Buffer.concat(sandboxed.stdout).toString('utf8');
        const err = Buffer.concat(sandboxed.stderr).toString('utf8');
        return {
          exited: 1,
          exitcode: sandboxed.exitcode,
          ...(out ? { 'out-data': out } : {}),
          ...(err ? { 'err-data': err } : {}),
        };
      }
      const run = g.execRuns[String(ctx.params.pid)];
      if (!run) throw fail500(`Agent error: Invalid parameter 'pid'`);
      if (Date.now() < run.startedAt + (run.rule.durationMs ?? 0)) return { exited: 0 };
      return {
        exited: 1,
        exitcode: run.rule.exitcode,
        ...(run.rule.stdout ? { 'out-data': run.rule.stdout } : {}),
        ...(run.rule.stderr ? { 'err-data': run.rule.stderr } : {}),
      };
    }),
  ];
}
