/**
 * A Qdrant simulator over real HTTP, for tests and the lab. It speaks the subset of Qdrant 1.x that the migration
 * touches, with Qdrant's envelopes and error bodies: health/readiness (switchable at runtime, including "down" =
 * the port refuses connections), optional api-key auth, collections with points and exact counts, snapshots with
 * sha256 checksums, recovery from another instance's snapshot URL, and Prometheus /metrics whose request counters
 * grow with every request.
 *
 * Run standalone: `node lib/src/lab/qdrant-sim.js --host 127.0.0.102 --port 6333 --state state.json`
 * (state: `{ "ready": "ready", "apiKey": "…", "collections": [{ "name": "docs", "points": 100 }] }`;
 * SIGHUP re-reads the file's `ready`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

export type ReadyAnswer = 'ready' | 'not-ready' | 'down';
/**
 * `down` closes the listening socket (connections are refused). `flap` cycles through the pattern, one step per
 * /readyz request; a `down` step there drops that connection without an answer.
 */
export type ReadyState = ReadyAnswer | { flap: ReadyAnswer[] };

export interface SimPoint {
  id: number | string;
  vector: number[];
  payload?: Record<string, unknown>;
}

export interface SimCollectionSeed {
  name: string;
  /** A number generates that many points with ids 1..N. */
  points: number | SimPoint[];
  vectorSize?: number;
}

export interface QdrantSimFaults {
  /** Drop this many points per collection when recovering a snapshot (to test count verification). */
  dropPointsOnRecover?: Record<string, number>;
  /** Take this long to recover a snapshot (before fetching it), so a test can look at the world mid-copy. */
  recoverDelayMs?: number;
  /**
   * Drop every request that arrives through a proxy (its Host header is not this instance's own address), as a
   * firewall on the new VM that lets the worker in but not the gateway would: the instance answers when asked
   * directly and never through the gateway.
   */
  deadThroughProxy?: boolean;
}

export interface QdrantSimOptions {
  host: string;
  /** 0 or absent: pick a free port. */
  port?: number;
  ready?: ReadyState;
  collections?: SimCollectionSeed[];
  apiKey?: string;
  version?: string;
  faults?: QdrantSimFaults;
  /** Serve under a path prefix (e.g. `/qdrant`), as Qdrant looks through a gateway that does not strip it. */
  pathPrefix?: string;
}

export interface QdrantSim {
  url: string;
  host: string;
  port: number;
  setReady(state: ReadyState): Promise<void>;
  setCollections(seeds: SimCollectionSeed[]): void;
  setFaults(faults: QdrantSimFaults): void;
  /** Current collections with exact counts. */
  collections(): { name: string; count: number }[];
  snapshotNames(collection: string): string[];
  /** Requests answered (or dropped) since start, all endpoints. */
  requestCount(): number;
  /** What `GET /telemetry` answers as `result.id` (drawn at start). */
  identity: string;
  stop(): Promise<void>;
}

interface Collection {
  size: number;
  distance: string;
  points: Map<string, SimPoint>;
}

interface Snapshot {
  name: string;
  creation_time: string;
  size: number;
  checksum: string;
  bytes: Buffer;
}

class HttpFail extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const AUTH_FREE = new Set(['/', '/healthz', '/livez', '/readyz']);
const NAME = '([^/]+)';
const ROUTES: { method: string; re: RegExp; endpoint: string }[] = [
  { method: 'GET', re: /^\/$/, endpoint: '/' },
  { method: 'GET', re: /^\/(healthz|livez)$/, endpoint: '/healthz' },
  { method: 'GET', re: /^\/readyz$/, endpoint: '/readyz' },
  { method: 'GET', re: /^\/metrics$/, endpoint: '/metrics' },
  { method: 'GET', re: /^\/telemetry$/, endpoint: '/telemetry' },
  { method: 'GET', re: /^\/collections$/, endpoint: '/collections' },
  {
    method: 'PUT',
    re: new RegExp(`^/collections/${NAME}/snapshots/recover$`),
    endpoint: '/collections/{name}/snapshots/recover',
  },
  { method: 'POST', re: new RegExp(`^/collections/${NAME}/snapshots$`), endpoint: '/collections/{name}/snapshots' },
  { method: 'GET', re: new RegExp(`^/collections/${NAME}/snapshots$`), endpoint: '/collections/{name}/snapshots' },
  {
    method: 'GET',
    re: new RegExp(`^/collections/${NAME}/snapshots/${NAME}$`),
    endpoint: '/collections/{name}/snapshots/{snapshot_name}',
  },
  {
    method: 'DELETE',
    re: new RegExp(`^/collections/${NAME}/snapshots/${NAME}$`),
    endpoint: '/collections/{name}/snapshots/{snapshot_name}',
  },
  { method: 'PUT', re: new RegExp(`^/collections/${NAME}/points$`), endpoint: '/collections/{name}/points' },
  {
    method: 'POST',
    re: new RegExp(`^/collections/${NAME}/points/count$`),
    endpoint: '/collections/{name}/points/count',
  },
  { method: 'GET', re: new RegExp(`^/collections/${NAME}$`), endpoint: '/collections/{name}' },
  { method: 'PUT', re: new RegExp(`^/collections/${NAME}$`), endpoint: '/collections/{name}' },
  { method: 'DELETE', re: new RegExp(`^/collections/${NAME}$`), endpoint: '/collections/{name}' },
];

/** The simulator fetches snapshots only from loopback: tests and the lab never send traffic elsewhere. */
function isLoopbackUrl(location: string): boolean {
  try {
    const host = new URL(location).hostname;
    return /^127\.\d+\.\d+\.\d+$/.test(host) || host === 'localhost' || host === '[::1]';
  } catch {
    return false;
  }
}

function seedToCollection(seed: SimCollectionSeed): Collection {
  const size = seed.vectorSize ?? 4;
  const points = new Map<string, SimPoint>();
  if (typeof seed.points === 'number') {
    for (let i = 1; i <= seed.points; i++) {
      points.set(String(i), {
        id: i,
        vector: Array.from({ length: size }, (_, k) => ((i * 31 + k * 7) % 100) / 100),
        payload: { n: i },
      });
    }
  } else {
    for (const p of seed.points) points.set(String(p.id), p);
  }
  return { size, distance: 'Cosine', points };
}

function snapshotTimestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}`;
}

export async function startQdrantSim(opts: QdrantSimOptions): Promise<QdrantSim> {
  const peerId = Math.floor(Math.random() * 1e15);
  // Like Qdrant's telemetry id: drawn once per process start, so every instance (and every restart) has its own.
  const processId = randomUUID();
  const startedAt = new Date().toISOString();
  const version = opts.version ?? '1.12.4';
  let readyState: ReadyState = opts.ready ?? 'ready';
  let flapIndex = 0;
  let faults: QdrantSimFaults = opts.faults ?? {};
  let total = 0;
  const collections = new Map<string, Collection>();
  const snapshots = new Map<string, Snapshot[]>();
  const counters = new Map<string, number>();
  for (const seed of opts.collections ?? []) collections.set(seed.name, seedToCollection(seed));

  const send = (res: ServerResponse, status: number, body: unknown, contentType = 'application/json') => {
    const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const ok = (res: ServerResponse, result: unknown, t0: number) =>
    send(res, 200, { result, status: 'ok', time: (Date.now() - t0) / 1000 });

  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return {};
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new HttpFail(400, `Format error in JSON body: ${(e as Error).message}`);
    }
  };

  const collectionOr404 = (name: string): Collection => {
    const c = collections.get(name);
    if (!c) throw new HttpFail(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return c;
  };

  const checkVector = (c: Collection, p: SimPoint) => {
    if (!Array.isArray(p.vector) || p.vector.length !== c.size) {
      throw new HttpFail(
        400,
        `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${Array.isArray(p.vector) ? p.vector.length : 0}`,
      );
    }
  };

  const metricsText = (): string => {
    const lines = [
      '# HELP app_info information about qdrant server',
      '# TYPE app_info gauge',
      `app_info{name="qdrant",version="${version}"} 1`,
      '# HELP collections_total number of collections',
      '# TYPE collections_total gauge',
      `collections_total ${collections.size}`,
      '# HELP collections_vector_total total number of vectors in all collections',
      '# TYPE collections_vector_total gauge',
      `collections_vector_total ${[...collections.values()].reduce((n, c) => n + c.points.size, 0)}`,
      '# HELP rest_responses_total total number of responses',
      '# TYPE rest_responses_total counter',
    ];
    const fails: string[] = [];
    for (const [key, n] of [...counters.entries()].sort()) {
      const [method, endpoint, status] = key.split(' ');
      const labels = `method="${method}",endpoint="${endpoint}",status="${status}"`;
      lines.push(`rest_responses_total{${labels}} ${n}`);
      if (Number(status) >= 400) fails.push(`rest_responses_fail_total{${labels}} ${n}`);
    }
    lines.push(
      '# HELP rest_responses_fail_total total number of failed responses',
      '# TYPE rest_responses_fail_total counter',
      ...fails,
    );
    return `${lines.join('\n')}\n`;
  };

  const recover = async (name: string, body: Record<string, unknown>) => {
    const location = String(body.location ?? '');
    if (!location) throw new HttpFail(400, 'Wrong input: `location` is required');
    if (!isLoopbackUrl(location)) {
      throw new HttpFail(400, `Wrong input: simulator only recovers from loopback URLs, got ${location}`);
    }
    if (faults.recoverDelayMs) await new Promise((r) => setTimeout(r, faults.recoverDelayMs));
    const headers: Record<string, string> = {};
    if (typeof body.api_key === 'string') headers['api-key'] = body.api_key;
    let bytes: Buffer;
    try {
      const res = await request(location, { headers, signal: AbortSignal.timeout(30_000) });
      bytes = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) {
        throw new HttpFail(
          500,
          `Service internal error: Failed to download snapshot from ${location}: status ${res.statusCode}`,
        );
      }
    } catch (e) {
      if (e instanceof HttpFail) throw e;
      throw new HttpFail(
        500,
        `Service internal error: Failed to download snapshot from ${location}: ${(e as Error).message}`,
      );
    }
    const got = createHash('sha256').update(bytes).digest('hex');
    if (typeof body.checksum === 'string' && body.checksum !== got) {
      throw new HttpFail(400, `Bad request: Snapshot checksum mismatch: expected ${body.checksum}, got ${got}`);
    }
    let parsed: { size: number; distance: string; points: SimPoint[] };
    try {
      parsed = JSON.parse(bytes.toString('utf8')) as typeof parsed;
    } catch {
      throw new HttpFail(400, `Bad request: ${location} is not a snapshot`);
    }
    let points = parsed.points;
    const drop = faults.dropPointsOnRecover?.[name] ?? 0;
    if (drop > 0) points = points.slice(0, Math.max(0, points.length - drop));
    collections.set(name, {
      size: parsed.size,
      distance: parsed.distance,
      points: new Map(points.map((p) => [String(p.id), p])),
    });
  };

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    endpoint: string,
    m: RegExpExecArray,
  ): Promise<void> => {
    const t0 = Date.now();
    const name = m[1] ? decodeURIComponent(m[1]) : '';
    switch (`${method} ${endpoint}`) {
      case 'GET /':
        return send(res, 200, { title: 'qdrant - vector search engine', version, commit: 'simulator' });
      case 'GET /healthz':
        return send(res, 200, 'healthz check passed', 'text/plain; charset=utf-8');
      case 'GET /readyz': {
        const answer: ReadyAnswer =
          typeof readyState === 'string' ? readyState : readyState.flap[flapIndex++ % readyState.flap.length];
        if (answer === 'down') {
          req.socket.destroy();
          return;
        }
        if (answer === 'ready') return send(res, 200, 'all shards are ready', 'text/plain; charset=utf-8');
        return send(res, 503, 'some shards are not ready', 'text/plain; charset=utf-8');
      }
      case 'GET /metrics':
        return send(res, 200, metricsText(), 'text/plain; version=0.0.4');
      case 'GET /telemetry':
        return ok(
          res,
          {
            id: processId,
            app: { name: 'qdrant', version, startup: startedAt },
            collections: { number_of_collections: collections.size },
          },
          t0,
        );
      case 'GET /collections':
        return ok(res, { collections: [...collections.keys()].map((n) => ({ name: n })) }, t0);
      case 'GET /collections/{name}': {
        const c = collectionOr404(name);
        return ok(
          res,
          {
            status: 'green',
            optimizer_status: 'ok',
            indexed_vectors_count: 0,
            points_count: c.points.size,
            segments_count: 1,
            config: { params: { vectors: { size: c.size, distance: c.distance } } },
            payload_schema: {},
          },
          t0,
        );
      }
      case 'PUT /collections/{name}': {
        const body = await readBody(req);
        if (collections.has(name)) throw new HttpFail(409, `Wrong input: Collection \`${name}\` already exists!`);
        const vectors = body.vectors as { size?: number; distance?: string } | undefined;
        if (!vectors || typeof vectors.size !== 'number')
          throw new HttpFail(400, 'Wrong input: `vectors.size` is required');
        collections.set(name, { size: vectors.size, distance: vectors.distance ?? 'Cosine', points: new Map() });
        return ok(res, true, t0);
      }
      case 'DELETE /collections/{name}':
        return ok(res, collections.delete(name), t0);
      case 'PUT /collections/{name}/points': {
        const c = collectionOr404(name);
        const body = await readBody(req);
        let points: SimPoint[];
        if (Array.isArray(body.points)) points = body.points as SimPoint[];
        else if (body.batch && typeof body.batch === 'object') {
          const b = body.batch as {
            ids: (number | string)[];
            vectors: number[][];
            payloads?: Record<string, unknown>[];
          };
          points = b.ids.map((id, i) => ({ id, vector: b.vectors[i], payload: b.payloads?.[i] }));
        } else throw new HttpFail(400, 'Wrong input: expected `points` or `batch`');
        points.forEach((p) => checkVector(c, p));
        for (const p of points) c.points.set(String(p.id), p);
        return ok(res, { operation_id: total, status: 'completed' }, t0);
      }
      case 'POST /collections/{name}/points/count': {
        const c = collectionOr404(name);
        await readBody(req);
        return ok(res, { count: c.points.size }, t0);
      }
      case 'POST /collections/{name}/snapshots': {
        const c = collectionOr404(name);
        const bytes = Buffer.from(
          JSON.stringify({ size: c.size, distance: c.distance, points: [...c.points.values()] }),
        );
        const list = snapshots.get(name) ?? [];
        const now = new Date();
        let snapName = `${name}-${peerId}-${snapshotTimestamp(now)}.snapshot`;
        for (let i = 1; list.some((s) => s.name === snapName); i++)
          snapName = `${name}-${peerId}-${snapshotTimestamp(now)}-${i}.snapshot`;
        const snap: Snapshot = {
          name: snapName,
          creation_time: now.toISOString().replace(/\.\d+Z$/, ''),
          size: bytes.length,
          checksum: createHash('sha256').update(bytes).digest('hex'),
          bytes,
        };
        snapshots.set(name, [...list, snap]);
        const { bytes: _b, ...desc } = snap;
        return ok(res, desc, t0);
      }
      case 'GET /collections/{name}/snapshots': {
        collectionOr404(name);
        return ok(
          res,
          (snapshots.get(name) ?? []).map(({ bytes: _b, ...desc }) => desc),
          t0,
        );
      }
      case 'GET /collections/{name}/snapshots/{snapshot_name}':
      case 'DELETE /collections/{name}/snapshots/{snapshot_name}': {
        const snapName = decodeURIComponent(m[2]);
        const list = snapshots.get(name) ?? [];
        const snap = list.find((s) => s.name === snapName);
        if (!snap) throw new HttpFail(404, `Not found: Snapshot ${snapName} not found`);
        if (method === 'DELETE') {
          snapshots.set(
            name,
            list.filter((s) => s !== snap),
          );
          return ok(res, true, t0);
        }
        return send(res, 200, snap.bytes, 'application/octet-stream');
      }
      case 'PUT /collections/{name}/snapshots/recover':
        await recover(name, await readBody(req));
        return ok(res, true, t0);
    }
    throw new HttpFail(404, `Not found: ${method} ${endpoint}`);
  };

  const ownHosts = () => new Set([`${opts.host}:${port}`, ...(port === 80 ? [opts.host] : [])]);
  const server: Server = createServer((req, res) => {
    total++;
    if (faults.deadThroughProxy && !ownHosts().has(req.headers.host ?? '')) {
      req.socket.destroy();
      return;
    }
    const method = req.method ?? 'GET';
    const prefix = (opts.pathPrefix ?? '').replace(/\/+$/, '');
    const rawPath = (req.url ?? '/').split('?')[0];
    const path = !prefix
      ? rawPath
      : rawPath === prefix
        ? '/'
        : rawPath.startsWith(`${prefix}/`)
          ? rawPath.slice(prefix.length)
          : `\0${rawPath}`;
    const routeDef = ROUTES.find((r) => r.method === method && r.re.test(path));
    res.on('finish', () => {
      const key = `${method} ${routeDef?.endpoint ?? 'unknown'} ${res.statusCode}`;
      counters.set(key, (counters.get(key) ?? 0) + 1);
    });
    const fail = (status: number, message: string) => {
      if (!res.headersSent) send(res, status, { status: { error: message }, time: 0 });
    };
    if (opts.apiKey && !AUTH_FREE.has(path)) {
      const header = req.headers['api-key'] ?? req.headers.authorization?.replace(/^Bearer\s+/i, '');
      // Qdrant answers auth failures in plain text.
      if (!header) return send(res, 401, 'Must provide an API key or an Authorization bearer token', 'text/plain');
      if (header !== opts.apiKey) return send(res, 401, 'Invalid API key or JWT', 'text/plain');
    }
    if (!routeDef) return fail(404, `Not found: ${method} ${path}`);
    const m = routeDef.re.exec(path) as RegExpExecArray;
    handle(req, res, method, routeDef.endpoint, m).catch((e: unknown) => {
      if (e instanceof HttpFail) fail(e.status, e.message);
      else fail(500, `Service internal error: ${(e as Error).message}`);
    });
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, opts.host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  let port = opts.port ?? 0;
  // Even when starting "down" we bind once to learn the port, so the URL stays stable across up/down.
  port = await listen(port);
  if (readyState === 'down') await close();

  return {
    url: `http://${opts.host}:${port}${(opts.pathPrefix ?? '').replace(/\/+$/, '')}`,
    host: opts.host,
    port,
    async setReady(state) {
      readyState = state;
      flapIndex = 0;
      if (state === 'down') await close();
      else if (!server.listening) await listen(port);
    },
    setCollections(seeds) {
      collections.clear();
      snapshots.clear();
      for (const seed of seeds) collections.set(seed.name, seedToCollection(seed));
    },
    setFaults(f) {
      faults = f;
    },
    collections: () => [...collections.entries()].map(([name, c]) => ({ name, count: c.points.size })),
    snapshotNames: (c) => (snapshots.get(c) ?? []).map((s) => s.name),
    requestCount: () => total,
    identity: processId,
    stop: close,
  };
}

interface StateFile {
  ready?: ReadyState;
  apiKey?: string;
  collections?: SimCollectionSeed[];
  version?: string;
}

function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: string[]): Promise<void> {
  const host = argValue(argv, '--host') ?? '127.0.0.1';
  const port = Number(argValue(argv, '--port') ?? '6333');
  const stateFile = argValue(argv, '--state');
  const readState = (): StateFile => (stateFile ? (JSON.parse(readFileSync(stateFile, 'utf8')) as StateFile) : {});
  const state = readState();
  const sim = await startQdrantSim({
    host,
    port,
    ready: state.ready,
    apiKey: state.apiKey,
    collections: state.collections,
    version: state.version,
  });
  process.stdout.write(`${JSON.stringify({ url: sim.url, pid: process.pid })}\n`);
  process.on('SIGHUP', () => {
    void sim.setReady(readState().ready ?? 'ready');
  });
  const stop = () => {
    void sim.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`qdrant-sim: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
