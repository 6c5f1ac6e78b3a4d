/**
 * A small typed client for Qdrant's HTTP API (1.x). The base URL may carry a path prefix, e.g.
 * `http://10.0.0.153/qdrant` when going through the gateway; every path is appended to it.
 */
import { request, type Dispatcher } from 'undici';
import { QdrantError, kindForStatus } from './errors';
import { parsePrometheusText, requestTotals, type MetricSample, type RequestTotals } from './metrics';

export interface QdrantClientOptions {
  baseUrl: string;
  /** The resolved key (not a reference). Sent as `api-key`. */
  apiKey?: string;
  /** Bounds each request as a whole (connect, headers and body). */
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export interface Readiness {
  ready: boolean;
  /** HTTP status of /readyz. */
  status: number;
  body: string;
}

export interface QdrantVersion {
  title: string;
  version: string;
  commit?: string;
}

/**
 * Who answered: `GET /telemetry` → `result.id`, a UUID each Qdrant process draws at start (1.x; not anonymized by
 * `?anonymize=true`). Two instances never share it, so it tells the new Qdrant from the legacy one through a proxy.
 * Unlike `/readyz` it needs the api key when one is configured. See docs/verification.md.
 */
export interface QdrantIdentity {
  id: string;
  version?: string;
  /** When the process started (`result.app.startup`), if the version reports it. */
  startup?: string;
}

export interface CollectionInfo {
  status: 'green' | 'yellow' | 'grey' | 'red' | string;
  optimizer_status?: unknown;
  points_count?: number | null;
  indexed_vectors_count?: number | null;
  segments_count?: number;
  config?: unknown;
}

export interface SnapshotDescription {
  name: string;
  creation_time: string | null;
  size: number;
  checksum?: string | null;
}

export interface Point {
  id: number | string;
  vector: number[] | Record<string, number[]>;
  payload?: Record<string, unknown>;
}

export interface Metrics {
  samples: MetricSample[];
  totals: RequestTotals;
}

interface RawResponse {
  status: number;
  text: string;
}

export class QdrantClient {
  private readonly base: string;

  constructor(private readonly opts: QdrantClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  /** The instance's URL (no credentials in it), for messages. */
  get url(): string {
    return this.base;
  }

  private async raw(method: Dispatcher.HttpMethod, path: string, body?: unknown): Promise<RawResponse> {
    const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.5' };
    if (this.opts.apiKey) headers['api-key'] = this.opts.apiKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const url = `${this.base}${path}`;
    try {
      const res = await request(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        dispatcher: this.opts.dispatcher,
      });
      const text = await res.body.text();
      return { status: res.statusCode, text };
    } catch (e) {
      const err = e as { name?: string; code?: string; message?: string };
      const why =
        err.name === 'TimeoutError' || err.name === 'AbortError'
          ? `no answer within ${this.opts.timeoutMs} ms`
          : `${err.code ?? err.name ?? 'error'}: ${err.message ?? ''}`.trim();
      throw new QdrantError(
        'unreachable',
        0,
        `Qdrant at ${this.base} is unreachable (${method} ${path}: ${why}); check that it runs and the URL is right`,
      );
    }
  }

  /** Turns a non-2xx answer into a typed error carrying Qdrant's own message. */
  private fail(method: string, path: string, res: RawResponse): never {
    const kind = kindForStatus(res.status);
    let detail = res.text.trim().slice(0, 300);
    try {
      const parsed = JSON.parse(res.text) as { status?: { error?: string } | string; message?: string };
      if (typeof parsed.status === 'object' && parsed.status?.error) detail = parsed.status.error;
      else if (parsed.message) detail = parsed.message;
    } catch {
      // Not JSON: Qdrant answers auth and health failures in plain text.
    }
    const hint =
      kind === 'auth'
        ? '; check the api key the plan references'
        : kind === 'not-ready'
          ? '; wait for it to finish loading'
          : '';
    throw new QdrantError(
      kind,
      res.status,
      `Qdrant at ${this.base}: ${method} ${path} answered ${res.status}: ${detail}${hint}`,
    );
  }

  private async json<T>(method: Dispatcher.HttpMethod, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    if (res.status < 200 || res.status >= 300) this.fail(method, path, res);
    try {
      return (JSON.parse(res.text) as { result: T }).result;
    } catch {
      throw new QdrantError(
        'http',
        res.status,
        `Qdrant at ${this.base}: ${method} ${path} answered ${res.status} with a body that is not JSON`,
      );
    }
  }

  private async text(path: string): Promise<string> {
    const res = await this.raw('GET', path);
    if (res.status < 200 || res.status >= 300) this.fail('GET', path, res);
    return res.text;
  }

  /** Liveness: 200 `healthz check passed`. Throws when down. */
  async healthz(): Promise<string> {
    return this.text('/healthz');
  }

  /** Readiness: never throws for 503 (that is an answer); throws `unreachable` when nothing answers. */
  async readyz(): Promise<Readiness> {
    const res = await this.raw('GET', '/readyz');
    if (res.status === 401 || res.status === 403) this.fail('GET', '/readyz', res);
    return { ready: res.status >= 200 && res.status < 300, status: res.status, body: res.text.trim() };
  }

  async version(): Promise<QdrantVersion> {
    const res = await this.raw('GET', '/');
    if (res.status < 200 || res.status >= 300) this.fail('GET', '/', res);
    try {
      return JSON.parse(res.text) as QdrantVersion;
    } catch {
      throw new QdrantError(
        'http',
        res.status,
        `Qdrant at ${this.base}: GET / did not answer JSON; is this URL really Qdrant?`,
      );
    }
  }

  /** The instance's per-process identity (see QdrantIdentity). */
  async identity(): Promise<QdrantIdentity> {
    const result = await this.json<{ id?: unknown; app?: { version?: unknown; startup?: unknown } }>(
      'GET',
      '/telemetry',
    );
    if (typeof result?.id !== 'string' || result.id === '')
      throw new QdrantError(
        'http',
        200,
        `Qdrant at ${this.base}: GET /telemetry answered without an id; is this URL really Qdrant 1.x?`,
      );
    return {
      id: result.id,
      ...(typeof result.app?.version === 'string' ? { version: result.app.version } : {}),
      ...(typeof result.app?.startup === 'string' ? { startup: result.app.startup } : {}),
    };
  }

  async listCollections(): Promise<string[]> {
    const result = await this.json<{ collections: { name: string }[] }>('GET', '/collections');
    return result.collections.map((c) => c.name);
  }

  async getCollection(name: string): Promise<CollectionInfo> {
    return this.json<CollectionInfo>('GET', `/collections/${encodeURIComponent(name)}`);
  }

  /** Creates a collection (used by producers re-indexing, and by tests). */
  async createCollection(name: string, vectors: { size: number; distance: string }): Promise<boolean> {
    return this.json<boolean>('PUT', `/collections/${encodeURIComponent(name)}`, { vectors });
  }

  async upsertPoints(name: string, points: Point[]): Promise<unknown> {
    return this.json('PUT', `/collections/${encodeURIComponent(name)}/points?wait=true`, { points });
  }

  /** Exact point count (the approximate `points_count` is not good enough to compare two instances). */
  async countExact(name: string): Promise<number> {
    const result = await this.json<{ count: number }>('POST', `/collections/${encodeURIComponent(name)}/points/count`, {
      exact: true,
    });
    return result.count;
  }

  /** Creates a snapshot and waits until it is complete. */
  async createSnapshot(name: string): Promise<SnapshotDescription> {
    return this.json<SnapshotDescription>('POST', `/collections/${encodeURIComponent(name)}/snapshots?wait=true`);
  }

  async listSnapshots(name: string): Promise<SnapshotDescription[]> {
    return this.json<SnapshotDescription[]>('GET', `/collections/${encodeURIComponent(name)}/snapshots`);
  }

  async deleteSnapshot(name: string, snapshot: string): Promise<unknown> {
    return this.json(
      'DELETE',
      `/collections/${encodeURIComponent(name)}/snapshots/${encodeURIComponent(snapshot)}?wait=true`,
    );
  }

  /** Where another Qdrant can download this instance's snapshot. */
  snapshotUrl(collection: string, snapshot: string): string {
    return `${this.base}/collections/${encodeURIComponent(collection)}/snapshots/${encodeURIComponent(snapshot)}`;
  }

  /**
   * Makes this instance fetch a snapshot from `location` and load it into `collection` (replacing its data).
   * `sourceApiKey` is sent along so the instance can download from a source that requires a key.
   */
  async recoverFromUrl(
    collection: string,
    location: string,
    checksum?: string,
    sourceApiKey?: string,
  ): Promise<boolean> {
    const body: Record<string, string> = { location, priority: 'snapshot' };
    if (checksum) body.checksum = checksum;
    if (sourceApiKey) body.api_key = sourceApiKey;
    return this.json<boolean>(
      'PUT',
      `/collections/${encodeURIComponent(collection)}/snapshots/recover?wait=true`,
      body,
    );
  }

  /** Parsed `/metrics`, with request totals summed (probe endpoints counted apart). */
  async metrics(): Promise<Metrics> {
    const samples = parsePrometheusText(await this.text('/metrics'));
    return { samples, totals: requestTotals(samples) };
  }
}
