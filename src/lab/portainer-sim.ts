/**
 * A Portainer CE simulator over HTTPS (a self-signed certificate made with the `openssl` CLI at start; `tls:false`
 * serves plain HTTP). It enforces the request formats real Portainer enforces, because those are what bit us:
 * environments are created from multipart forms (a JSON body leaves Name empty → 400 `Invalid environment name`),
 * Portainer contacts the agent during creation (unreachable → 500 `Unable to get environment type`), names are
 * unique (409), stack names are normalised and collide with existing stacks or compose projects (409), bad
 * credentials give 422. Creating or updating a stack "deploys" it: the compose project's containers are marked
 * running and `onDeploy` is called (the lab starts the new Qdrant there).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Response } from 'undici';
import { normaliseStackName } from '../portainer/names';

export interface SimEndpoint {
  Id: number;
  Name: string;
  URL: string;
  Type: number;
  Status: number;
  GroupId: number;
  TLSConfig: { TLS: boolean; TLSSkipVerify: boolean };
}

export interface SimStack {
  Id: number;
  Name: string;
  Type: number;
  EndpointId: number;
  Status: number;
  Env: { name: string; value: string }[];
  StackFileContent: string;
}

export interface SimContainer {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Status: string;
  Labels: Record<string, string>;
  /** Which environment it runs on (not part of Docker's answer). */
  endpointId: number;
}

export interface PortainerSimState {
  endpoints: SimEndpoint[];
  stacks: SimStack[];
  containers: SimContainer[];
  /** Every request seen, for tests that assert what was (not) sent. */
  requests: { method: string; path: string; contentType: string }[];
  /** TCP connections accepted: a client that pools its connections opens few. */
  connections: number;
}

export interface PortainerSimOptions {
  host: string;
  port?: number;
  /** Default true: HTTPS with a fresh self-signed certificate. */
  tls?: boolean;
  admin?: { username: string; password: string };
  /** Valid access tokens for `X-API-Key`. */
  apiKeys?: string[];
  /** Whether Portainer can reach an agent URL; default: every agent is reachable. */
  agentReachable?: (url: string) => boolean | Promise<boolean>;
  /** Called when a stack is created or updated, before the answer (like compose up). */
  onDeploy?: (stack: SimStack) => void | Promise<void>;
  /** The state deployed containers get; default `running` (use `created` to test waiting). */
  deployedContainerState?: string;
  endpoints?: Omit<SimEndpoint, 'Id' | 'Type' | 'Status' | 'GroupId' | 'TLSConfig'>[];
  /** Containers that exist before any stack (e.g. started by hand with compose): they block a stack of that name. */
  containers?: { endpointName: string; project: string; state?: string }[];
}

export interface PortainerSim {
  url: string;
  /** PEM of the self-signed certificate (absent over HTTP); write it to a file for `{ mode: 'ca' }`. */
  certPem?: string;
  /** `AA:BB:…` SHA-256 of the certificate, for `{ mode: 'fingerprint' }`. */
  fingerprint256?: string;
  state: PortainerSimState;
  setContainerState(project: string, state: string): void;
  /**
   * The next `n` requests lose their connection before any answer, as when a server or a proxy in front closes an
   * idle keep-alive connection just as the client reuses it.
   */
  dropNextRequests(n: number): void;
  stop(): Promise<void>;
}

class HttpFail extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: string,
  ) {
    super(message);
  }
}

function selfSignedCert(host: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'portainer-sim-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=portainer-sim',
        '-addext',
        `subjectAltName=IP:${host}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Service names under `services:` (two-space indented keys): enough to name containers like compose does. */
function composeServices(content: string): string[] {
  const lines = content.split('\n');
  const start = lines.findIndex((l) => /^services:\s*$/.test(l));
  if (start < 0) return ['app'];
  const names: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (/^\S/.test(l)) break;
    const m = /^ {2}([A-Za-z0-9_.-]+):/.exec(l);
    if (m) names.push(m[1]);
  }
  return names.length ? names : ['app'];
}

export async function startPortainerSim(opts: PortainerSimOptions): Promise<PortainerSim> {
  const state: PortainerSimState = { endpoints: [], stacks: [], containers: [], requests: [], connections: 0 };
  const jwts = new Set<string>();
  let nextEndpoint = 1;
  let nextStack = 1;
  for (const e of opts.endpoints ?? []) {
    state.endpoints.push({
      ...e,
      Id: nextEndpoint++,
      Type: 2,
      Status: 1,
      GroupId: 1,
      TLSConfig: { TLS: true, TLSSkipVerify: true },
    });
  }
  const newContainer = (endpointId: number, project: string, service: string, st: string): SimContainer => ({
    Id: randomBytes(32).toString('hex'),
    Names: [`/${project}-${service}-1`],
    Image: 'qdrant/qdrant',
    State: st,
    Status: st === 'running' ? 'Up 1 second' : 'Created',
    Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': service },
    endpointId,
  });
  for (const c of opts.containers ?? []) {
    const ep = state.endpoints.find((e) => e.Name === c.endpointName);
    if (!ep) throw new Error(`portainer-sim: container seed names unknown environment ${c.endpointName}`);
    state.containers.push(newContainer(ep.Id, c.project, 'app', c.state ?? 'running'));
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const readRaw = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const raw = await readRaw(req);
    try {
      return JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      throw new HttpFail(400, 'Invalid request payload', 'invalid JSON');
    }
  };
  /** Portainer reads form fields; a JSON (or any non-form) body simply yields empty fields. */
  const readForm = async (req: IncomingMessage): Promise<(k: string) => string> => {
    const raw = await readRaw(req);
    const ct = req.headers['content-type'] ?? '';
    if (!/^multipart\/form-data|^application\/x-www-form-urlencoded/.test(ct)) return () => '';
    const fd = await new Response(raw, { headers: { 'content-type': ct } }).formData();
    return (k) => {
      const v = fd.get(k);
      return typeof v === 'string' ? v : '';
    };
  };
  const endpointOr404 = (id: number): SimEndpoint => {
    const ep = state.endpoints.find((e) => e.Id === id);
    if (!ep)
      throw new HttpFail(
        404,
        'Unable to find an environment with the specified identifier inside the database',
        'Object not found inside the database',
      );
    return ep;
  };
  const stackOr404 = (id: number): SimStack => {
    const st = state.stacks.find((s) => s.Id === id);
    if (!st)
      throw new HttpFail(
        404,
        'Unable to find a stack with the specified identifier inside the database',
        'Object not found inside the database',
      );
    return st;
  };
  const deploy = async (stack: SimStack) => {
    const project = stack.Name;
    state.containers = state.containers.filter(
      (c) => !(c.endpointId === stack.EndpointId && c.Labels['com.docker.compose.project'] === project),
    );
    for (const svc of composeServices(stack.StackFileContent)) {
      state.containers.push(newContainer(stack.EndpointId, project, svc, opts.deployedContainerState ?? 'running'));
    }
    await opts.onDeploy?.(stack);
  };
  const authorised = (req: IncomingMessage): boolean => {
    const key = req.headers['x-api-key'];
    if (typeof key === 'string' && (opts.apiKeys ?? []).includes(key)) return true;
    const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, '');
    return !!bearer && jwts.has(bearer);
  };
  const publicStack = ({ StackFileContent: _c, ...s }: SimStack) => s;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    state.requests.push({ method, path, contentType: req.headers['content-type'] ?? '' });

    if (method === 'POST' && path === '/api/auth') {
      const body = await readJson(req);
      const admin = opts.admin;
      if (!admin || body.Username !== admin.username || body.Password !== admin.password) {
        throw new HttpFail(422, 'Invalid credentials', 'Unauthorized');
      }
      const jwt = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ username: admin.username })).toString('base64url')}.${randomBytes(16).toString('base64url')}`;
      jwts.add(jwt);
      return send(res, 200, { jwt });
    }
    if (!authorised(req)) throw new HttpFail(401, 'Unauthorized', 'A valid authorisation token is missing');

    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/api/users/me')
      return send(res, 200, { Id: 1, Username: opts.admin?.username ?? 'admin', Role: 1 });
    if (method === 'GET' && path === '/api/endpoints') {
      const name = url.searchParams.get('name');
      const search = url.searchParams.get('search')?.toLowerCase();
      return send(
        res,
        200,
        state.endpoints.filter(
          (e) => (name === null || e.Name === name) && (!search || e.Name.toLowerCase().includes(search)),
        ),
      );
    }
    if (method === 'POST' && path === '/api/endpoints') {
      const field = await readForm(req);
      const name = field('Name');
      if (!name) throw new HttpFail(400, 'Invalid request payload', 'Invalid environment name');
      const creationType = Number(field('EndpointCreationType'));
      if (!(creationType >= 1 && creationType <= 5))
        throw new HttpFail(
          400,
          'Invalid request payload',
          'Invalid environment type value. Value must be one of: 1 (Docker environment), 2 (Agent environment), 3 (Azure environment), 4 (EdgeAgent environment) or 5 (Local Kubernetes Environment)',
        );
      const agentUrl = field('URL');
      if (creationType === 2 && !agentUrl)
        throw new HttpFail(400, 'Invalid request payload', 'Invalid environment URL');
      if (state.endpoints.some((e) => e.Name === name))
        throw new HttpFail(409, 'Name is not unique', 'Name is not unique');
      if (creationType === 2 && !(await (opts.agentReachable ?? (() => true))(agentUrl))) {
        throw new HttpFail(
          500,
          'Unable to get environment type',
          `Get "https://${agentUrl.replace(/^tcp:\/\//, '')}/ping": dial tcp ${agentUrl.replace(/^tcp:\/\//, '')}: connect: connection refused`,
        );
      }
      const ep: SimEndpoint = {
        Id: nextEndpoint++,
        Name: name,
        URL: agentUrl,
        Type: creationType === 2 ? 2 : creationType,
        Status: 1,
        GroupId: Number(field('GroupID')) || 1,
        TLSConfig: { TLS: field('TLS') === 'true', TLSSkipVerify: field('TLSSkipVerify') === 'true' },
      };
      state.endpoints.push(ep);
      return send(res, 200, ep);
    }
    if ((m = /^\/api\/endpoints\/(\d+)\/docker\/containers\/json$/.exec(path)) && method === 'GET') {
      const ep = endpointOr404(Number(m[1]));
      const all = url.searchParams.get('all') === '1' || url.searchParams.get('all') === 'true';
      const filters = JSON.parse(url.searchParams.get('filters') ?? '{}') as { label?: string[] };
      const labels = filters.label ?? [];
      return send(
        res,
        200,
        state.containers
          .filter((c) => c.endpointId === ep.Id && (all || c.State === 'running'))
          .filter((c) => labels.every((l) => Object.entries(c.Labels).some(([k, v]) => `${k}=${v}` === l || k === l)))
          .map(({ endpointId: _e, ...c }) => c),
      );
    }
    if (method === 'GET' && path === '/api/stacks') {
      const filters = JSON.parse(url.searchParams.get('filters') ?? '{}') as { EndpointID?: number };
      return send(
        res,
        200,
        state.stacks
          .filter((s) => filters.EndpointID === undefined || s.EndpointId === filters.EndpointID)
          .map(publicStack),
      );
    }
    if (method === 'POST' && path === '/api/stacks/create/standalone/string') {
      const ep = endpointOr404(Number(url.searchParams.get('endpointId')));
      const body = await readJson(req);
      const name = normaliseStackName(String(body.Name ?? ''));
      if (!name) throw new HttpFail(400, 'Invalid request payload', 'Invalid stack name');
      if (typeof body.StackFileContent !== 'string' || body.StackFileContent === '') {
        throw new HttpFail(400, 'Invalid request payload', 'Invalid stack file content');
      }
      const clash =
        state.stacks.some((s) => s.EndpointId === ep.Id && s.Name === name) ||
        state.containers.some((c) => c.endpointId === ep.Id && c.Labels['com.docker.compose.project'] === name);
      if (clash)
        throw new HttpFail(
          409,
          `A stack with the normalized name '${name}' already exists`,
          `A stack with the normalized name '${name}' already exists`,
        );
      const stack: SimStack = {
        Id: nextStack++,
        Name: name,
        Type: 2,
        EndpointId: ep.Id,
        Status: 1,
        Env: (body.Env as SimStack['Env']) ?? [],
        StackFileContent: body.StackFileContent,
      };
      state.stacks.push(stack);
      await deploy(stack);
      return send(res, 200, publicStack(stack));
    }
    if ((m = /^\/api\/stacks\/(\d+)\/file$/.exec(path)) && method === 'GET') {
      return send(res, 200, { StackFileContent: stackOr404(Number(m[1])).StackFileContent });
    }
    if ((m = /^\/api\/stacks\/(\d+)$/.exec(path)) && method === 'PUT') {
      const stack = stackOr404(Number(m[1]));
      const endpointId = Number(url.searchParams.get('endpointId'));
      if (endpointId !== stack.EndpointId)
        throw new HttpFail(400, 'Invalid query parameter: endpointId', 'endpointId does not match the stack');
      const body = await readJson(req);
      if (typeof body.StackFileContent !== 'string' || body.StackFileContent === '') {
        throw new HttpFail(400, 'Invalid request payload', 'Invalid stack file content');
      }
      stack.StackFileContent = body.StackFileContent;
      stack.Env = (body.Env as SimStack['Env']) ?? stack.Env;
      await deploy(stack);
      return send(res, 200, publicStack(stack));
    }
    throw new HttpFail(404, 'Not found', `${method} ${path}`);
  };

  let dropping = 0;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (dropping > 0) {
      dropping--;
      state.requests.push({ method: req.method ?? 'GET', path: req.url ?? '', contentType: '' });
      req.socket.destroy();
      return;
    }
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return;
      if (e instanceof HttpFail) send(res, e.status, { message: e.message, details: e.details });
      else send(res, 500, { message: 'Internal server error', details: (e as Error).message });
    });
  };

  const useTls = opts.tls ?? true;
  const pair = useTls ? selfSignedCert(opts.host) : undefined;
  const server = pair ? createHttpsServer({ key: pair.key, cert: pair.cert }, listener) : createHttpServer(listener);
  server.on('connection', () => void state.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${useTls ? 'https' : 'http'}://${opts.host}:${port}`,
    certPem: pair?.cert,
    fingerprint256: pair ? new X509Certificate(pair.cert).fingerprint256 : undefined,
    state,
    setContainerState(project, st) {
      for (const c of state.containers) {
        if (c.Labels['com.docker.compose.project'] === project) {
          c.State = st;
          c.Status = st === 'running' ? 'Up 1 second' : st;
        }
      }
    },
    dropNextRequests(n) {
      dropping = n;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
