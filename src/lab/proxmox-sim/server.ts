import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestSandbox } from '../guest-sandbox/sandbox';
import { generateNodeCertificate } from './cert';
import { FaultInjector, type FaultSettings } from './faults';
import { SimHttpError } from './http-error';
import { parseBody, parseQuery, redact, validate, type RawParams } from './params';
import { aclPath, Envelope, matchRoute, type Route, type SimOptions } from './router';
import { clusterRoutes } from './routes-cluster';
import { lxcRoutes } from './routes-lxc';
import { qemuRoutes } from './routes-qemu';
import { startScheduledBackupJob } from './scheduled-backup';
import { tick } from './tasks';
import type { ExecRule, SimGuest, SimGuestSeed, SimState, WorldSeed } from './types';
import { addWorld, emptyState } from './world';

export type TokenRole = 'admin' | 'audit' | 'none';
export interface SimToken {
  tokenId: string;
  secret: string;
  /** admin: everything; audit: reads only (403 on changes); none: 403 on everything. */
  role: TokenRole;
}

export interface ProxmoxSimOptions {
  /** One world, or several with distinct vmid ranges (many migrations in one simulator). */
  worlds?: WorldSeed[];
  /** Load the state saved by `saveState` instead of seeding. */
  stateFile?: string;
  /** The first token is the one returned as tokenId/tokenSecret. Default: one admin token `root@pam!phoenix`. */
  tokens?: SimToken[];
  /** Delay before a 401 (PVE: ~3 s). */
  authDelayMs?: number;
  /** Per task type (qmclone, qmstart, resize, vzdump, vzshutdown, vzstop, vzdestroy, …); default `defaultTaskMs`. */
  taskDurations?: Record<string, number>;
  defaultTaskMs?: number;
  /** How long after a VM starts its guest agent answers. */
  agentDelayMs?: number;
  /** How long cloud-init runs after the guest agent answers, at each start (default 1 s; it holds apt's lock). */
  cloudInitMs?: number;
  /** World-wide guest-agent exec answers. */
  exec?: ExecRule[];
  faults?: FaultSettings;
  /** JSONL audit log; default a temp file. */
  auditLogPath?: string;
  nodeName?: string;
  /** Listen address (a loopback address: the lab maps the Proxmox host's 10.0.0.N onto 127.0.0.N). */
  host?: string;
  port?: number;
  /** Keep the CA and node certificate here and reuse them on the next start (the lab resumes with the same pin). */
  certDir?: string;
  /** Run guest-agent commands of VMs that have an image for real, in a sandboxed root per VM. */
  guestSandbox?: GuestSandbox;
}

export interface AuditEntry {
  time: string;
  method: string;
  path: string;
  params: RawParams;
  status: number;
  upid?: string;
  fault?: 'transient' | 'lock' | 'lost-response';
}

export interface ProxmoxSim {
  url: string;
  port: number;
  /** Leaf certificate SHA-256, colon hex, as `pvenode cert info` prints it. */
  fingerprint: string;
  /** The simulated cluster CA (what /etc/pve/pve-root-ca.pem would hold) and a file with it. */
  caCertPem: string;
  caFile: string;
  tokenId: string;
  tokenSecret: string;
  auditLogPath: string;
  /** Live state: tests may read and change it (e.g. set protection) between calls. */
  state: SimState;
  setFaults(faults: FaultSettings): void;
  setOptions(
    opts: Partial<
      Pick<ProxmoxSimOptions, 'authDelayMs' | 'agentDelayMs' | 'cloudInitMs' | 'taskDurations' | 'defaultTaskMs'>
    >,
  ): void;
  addWorld(world: WorldSeed): void;
  addGuest(seed: SimGuestSeed & { node: string }, storage?: string): void;
  guest(vmid: number): SimGuest | undefined;
  /** Parsed audit log lines. */
  audit(): AuditEntry[];
  saveState(file: string): void;
  stop(): Promise<void>;
}

const ROUTES: Route[] = [...clusterRoutes(), ...qemuRoutes(), ...lxcRoutes()];

function reasonPhrase(message: string): string {
  return message
    .split('\n')[0]
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 200);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A faithful-enough Proxmox VE API over real HTTPS on 127.0.0.1 (see the reference for what it mimics). */
export async function startProxmoxSim(opts: ProxmoxSimOptions = {}): Promise<ProxmoxSim> {
  const nodeName = opts.nodeName ?? opts.worlds?.[0]?.node ?? 'pve';
  const host = opts.host ?? '127.0.0.1';
  const cert = generateNodeCertificate(nodeName, opts.certDir, [host]);
  let state: SimState;
  if (opts.stateFile && existsSync(opts.stateFile))
    state = JSON.parse(readFileSync(opts.stateFile, 'utf8')) as SimState;
  else {
    state = emptyState();
    for (const w of opts.worlds ?? []) addWorld(state, w);
  }
  if (opts.exec) state.exec = opts.exec;
  const tokens = opts.tokens ?? [
    { tokenId: 'root@pam!phoenix', secret: '5f2c0b5e-0d7a-4a39-9f4e-6b1d2c3e4f50', role: 'admin' as const },
  ];
  const simOptions: SimOptions = {
    taskDurations: { ...(opts.taskDurations ?? {}) },
    defaultTaskMs: opts.defaultTaskMs ?? 100,
    agentDelayMs: opts.agentDelayMs ?? 300,
    cloudInitMs: opts.cloudInitMs ?? 1_000,
    sandbox: opts.guestSandbox,
    sandboxRuns: new Map(),
  };
  let authDelayMs = opts.authDelayMs ?? 3_000;
  const faults = new FaultInjector(opts.faults ?? {});
  const auditLogPath = opts.auditLogPath ?? join(mkdtempSync(join(tmpdir(), 'proxmox-sim-audit-')), 'audit.jsonl');
  writeFileSync(auditLogPath, '', { flag: 'a' });

  const audit = (entry: AuditEntry) => appendFileSync(auditLogPath, `${JSON.stringify(entry)}\n`);

  function send(res: ServerResponse, status: number, body: Record<string, unknown> | null, reason?: string) {
    const text = body === null ? '' : JSON.stringify(body);
    res.writeHead(status, reason ?? (status === 200 ? 'OK' : 'Error'), {
      'content-type': 'application/json;charset=UTF-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'max-age=0',
      pragma: 'no-cache',
      server: 'pve-api-daemon/3.0',
    });
    res.end(text);
  }

  function sendError(res: ServerResponse, err: SimHttpError) {
    const body: Record<string, unknown> = { data: null, message: `${err.message}\n` };
    if (err.errors) body.errors = err.errors;
    send(res, err.status, body, reasonPhrase(err.message));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const bodyText = Buffer.concat(chunks).toString('utf8');
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://sim');
    const sentPath = url.pathname;
    const query = parseQuery(url.searchParams);
    let params: RawParams = { ...query };
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      method,
      path: sentPath,
      params: redact(params),
      status: 0,
    };
    const finish = (status: number, extra: Partial<AuditEntry> = {}) => audit({ ...entry, ...extra, status });
    try {
      if (faults.latencyMs() > 0) await sleep(faults.latencyMs());
      tick(state, simOptions);
      // Authentication first, like pve-proxy: bad or missing credentials are answered slowly.
      const auth = String(req.headers.authorization ?? '');
      const m = /^PVEAPIToken=([^=\s]+)=(\S+)$/.exec(auth);
      const token = m ? tokens.find((t) => t.tokenId === m[1] && t.secret === m[2]) : undefined;
      if (!token) {
        await sleep(authDelayMs);
        res.writeHead(401, m ? 'authentication failure' : 'No ticket', { 'content-length': 0 });
        res.end();
        finish(401);
        return;
      }
      if (!sentPath.startsWith('/api2/json/'))
        throw new SimHttpError(501, `Method '${method} ${sentPath}' not implemented`);
      const sub = sentPath.slice('/api2/json'.length);
      const found = matchRoute(ROUTES, method, sub);
      if (!found) throw new SimHttpError(501, `Method '${method} ${sub}' not implemented`);
      if (method === 'DELETE' && bodyText.trim() !== '')
        throw new SimHttpError(
          501,
          `Method '${method} ${sub}' not implemented (parameters of DELETE go in the query string)`,
        );
      const body = method === 'POST' || method === 'PUT' ? parseBody(req.headers['content-type'], bodyText) : {};
      params = { ...body, ...query };
      entry.params = redact(params);
      validate({ ...params, ...found.path }, found.route.schema);
      const mutating = method !== 'GET';
      if (token.role === 'none' || (token.role === 'audit' && mutating)) {
        throw new SimHttpError(403, `Permission check failed (${aclPath(found.path)}, ${found.route.privilege})`);
      }
      const fault = faults.decide(method, sentPath, mutating);
      if (fault === 'transient') {
        const t = faults.pickTransient();
        sendError(res, new SimHttpError(t.status, t.message));
        finish(t.status, { fault });
        return;
      }
      if (fault === 'lock') {
        const vmid = found.path.vmid ?? String(params.vmid ?? params.newid ?? '0');
        const g = state.guests[Number(vmid)];
        const file =
          g?.type === 'lxc' || sub.includes('/lxc/')
            ? `/run/lock/lxc/pve-config-${vmid}.lock`
            : `/var/lock/qemu-server/lock-${vmid}.conf`;
        sendError(res, new SimHttpError(500, `can't lock file '${file}' - got timeout`));
        finish(500, { fault });
        return;
      }
      const scheduledMs = faults.takeScheduledBackupJob(method, sentPath);
      if (scheduledMs !== undefined) {
        const vmid = Number(String(params.vmid ?? '').split(/[,; ]+/)[0]);
        const storage = String(params.storage ?? 'local');
        startScheduledBackupJob(state, found.path.node ?? '', storage, scheduledMs, vmid);
      }
      const data = found.route.handler({ state, options: simOptions, params, path: found.path, user: token.tokenId });
      const upid = typeof data === 'string' && data.startsWith('UPID:') ? data : undefined;
      if (fault === 'lost-response') {
        // The effect happened; the client never hears about it.
        req.socket.destroy();
        finish(200, { fault, upid });
        return;
      }
      send(res, 200, data instanceof Envelope ? data.body : { data });
      finish(200, { upid });
    } catch (err) {
      const e = err instanceof SimHttpError ? err : new SimHttpError(500, `internal error: ${(err as Error).message}`);
      if (!res.headersSent && !res.destroyed) sendError(res, e);
      finish(e.status);
    }
  }

  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `https://${host}:${port}`,
    port,
    fingerprint: cert.fingerprint,
    caCertPem: cert.caCertPem,
    caFile: cert.caFile,
    tokenId: tokens[0].tokenId,
    tokenSecret: tokens[0].secret,
    auditLogPath,
    state,
    setFaults: (f) => faults.set(f),
    setOptions(o) {
      if (o.authDelayMs !== undefined) authDelayMs = o.authDelayMs;
      if (o.agentDelayMs !== undefined) simOptions.agentDelayMs = o.agentDelayMs;
      if (o.cloudInitMs !== undefined) simOptions.cloudInitMs = o.cloudInitMs;
      if (o.defaultTaskMs !== undefined) simOptions.defaultTaskMs = o.defaultTaskMs;
      if (o.taskDurations) Object.assign(simOptions.taskDurations, o.taskDurations);
    },
    addWorld: (w) => addWorld(state, w),
    addGuest: (seed, storage = 'local-lvm') => addWorld(state, { node: seed.node, storage, guests: [seed] }),
    guest: (vmid) => {
      tick(state, simOptions);
      return state.guests[vmid];
    },
    audit: () =>
      readFileSync(auditLogPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as AuditEntry),
    saveState(file) {
      tick(state, simOptions);
      writeFileSync(file, JSON.stringify(state, null, 2));
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
