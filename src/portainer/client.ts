/**
 * A small typed client for the Portainer CE 2.x API: environments (agent endpoints), standalone compose stacks and
 * the Docker passthrough for container state. Auth is an access token (`X-API-Key`, preferred) or a username and
 * password exchanged for a JWT on first use (and again once if it expires).
 */
import { FormData, request, type Dispatcher } from 'undici';
import { PortainerError, isPortainerError, kindForPortainerStatus } from './errors';
import { composeProjectLabel } from './names';

/** Transport codes of a connection lost before any answer (undici's "other side closed", a reset, a broken pipe). */
const CONNECTION_LOST = /^(UND_ERR_SOCKET|ECONNRESET|EPIPE)$/;

export type PortainerAuth = { apiKey: string } | { username: string; password: string };

export interface PortainerClientOptions {
  /** e.g. `https://10.0.0.101:9443` */
  url: string;
  auth: PortainerAuth;
  timeoutMs: number;
  /** From `dispatcherFor(tls)` (src/http/tls.ts) for CA or fingerprint trust. */
  dispatcher?: Dispatcher;
}

export interface PortainerEndpoint {
  Id: number;
  Name: string;
  URL: string;
  /** 1 docker, 2 agent on docker, … */
  Type: number;
  /** 1 up, 2 down */
  Status: number;
}

export interface PortainerStack {
  Id: number;
  Name: string;
  /** 1 swarm, 2 compose */
  Type: number;
  EndpointId: number;
  /** 1 active, 2 inactive */
  Status: number;
  Env?: StackEnv[];
}

export interface StackEnv {
  name: string;
  value: string;
}

export interface DockerContainer {
  Id: string;
  Names: string[];
  Image?: string;
  /** `running`, `created`, `exited`, … */
  State: string;
  Status?: string;
  Labels: Record<string, string>;
}

export interface AgentEndpointRequest {
  name: string;
  /** `tcp://10.0.0.102:9001` */
  url: string;
  /** The agent speaks TLS with its own certificate: defaults tls=true, skipVerify=true, skipClientVerify=true. */
  tls?: { tls?: boolean; skipVerify?: boolean; skipClientVerify?: boolean };
  groupId?: number;
}

type Body = { json: unknown } | { form: FormData } | undefined;

export class PortainerClient {
  private readonly base: string;
  private jwt: string | undefined;

  constructor(private readonly opts: PortainerClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  get url(): string {
    return this.base;
  }

  private async send(
    method: Dispatcher.HttpMethod,
    path: string,
    body: Body,
    auth: Record<string, string>,
  ): Promise<{ status: number; text: string }> {
    try {
      return await this.sendOnce(method, path, body, auth);
    } catch (e) {
      // A pooled connection that the server (or a proxy) closed while idle loses the request before any answer. A
      // read is safe to send again once, on a new connection; a change is not: it may have been done.
      if (method !== 'GET' || !isPortainerError(e) || e.kind !== 'unreachable' || !CONNECTION_LOST.test(e.details))
        throw e;
      return this.sendOnce(method, path, body, auth);
    }
  }

  private async sendOnce(method: Dispatcher.HttpMethod, path: string, body: Body, auth: Record<string, string>) {
    const headers: Record<string, string> = { accept: 'application/json', ...auth };
    let payload: string | FormData | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      // undici writes the multipart boundary header itself.
      payload = body.form;
    }
    try {
      const res = await request(`${this.base}${path}`, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        dispatcher: this.opts.dispatcher,
      });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (e) {
      const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
      const code = err.code ?? err.cause?.code;
      const why =
        err.name === 'TimeoutError' || err.name === 'AbortError'
          ? `no answer within ${this.opts.timeoutMs} ms`
          : `${code ?? err.name ?? 'error'}: ${err.cause?.message ?? err.message ?? ''}`;
      if (code && /^(TLS_|ERR_TLS|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL)/.test(code)) {
        throw new PortainerError(
          'tls',
          0,
          `Portainer at ${this.base}: TLS certificate not trusted (${why}); check portainer.tls in the plan`,
          code,
        );
      }
      throw new PortainerError(
        'unreachable',
        0,
        `Portainer at ${this.base} is unreachable (${method} ${path}: ${why})`,
        code ?? '',
      );
    }
  }

  private fail(method: string, path: string, res: { status: number; text: string }): never {
    let message = res.text.trim().slice(0, 300);
    let details = '';
    try {
      const parsed = JSON.parse(res.text) as { message?: string; details?: string };
      message = parsed.message ?? message;
      details = parsed.details ?? '';
    } catch {
      // Not JSON (a proxy in front, or not Portainer at all): keep the text.
    }
    const kind = kindForPortainerStatus(res.status, `${message} ${details}`);
    const hint =
      kind === 'auth'
        ? '; check the Portainer credentials the plan references'
        : kind === 'agent-unreachable'
          ? '; check that the Portainer agent runs on the VM and that Portainer can reach its URL'
          : '';
    throw new PortainerError(
      kind,
      res.status,
      `Portainer ${method} ${path} answered ${res.status}: ${message}${details && details !== message ? ` (${details})` : ''}${hint}`,
      details,
    );
  }

  private async authHeaders(): Promise<Record<string, string>> {
    const auth = this.opts.auth;
    if ('apiKey' in auth) return { 'x-api-key': auth.apiKey };
    if (!this.jwt) {
      const res = await this.send(
        'POST',
        '/api/auth',
        { json: { Username: auth.username, Password: auth.password } },
        {},
      );
      if (res.status !== 200) this.fail('POST', '/api/auth', res);
      this.jwt = (JSON.parse(res.text) as { jwt: string }).jwt;
    }
    return { authorization: `Bearer ${this.jwt}` };
  }

  private async call<T>(method: Dispatcher.HttpMethod, path: string, body?: Body): Promise<T> {
    let res = await this.send(method, path, body, await this.authHeaders());
    if (res.status === 401 && this.jwt) {
      // The JWT expired: log in once more and repeat.
      this.jwt = undefined;
      res = await this.send(method, path, body, await this.authHeaders());
    }
    if (res.status < 200 || res.status >= 300) this.fail(method, path, res);
    if (res.text.trim() === '') return undefined as T;
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new PortainerError(
        'http',
        res.status,
        `Portainer ${method} ${path} answered ${res.status} with a body that is not JSON; is ${this.base} really Portainer?`,
      );
    }
  }

  /** Checks the credentials (logs in with a password, or reads the current user with a token). */
  async checkAuth(): Promise<void> {
    await this.call('GET', '/api/users/me');
  }

  async listEndpoints(filter: { name?: string } = {}): Promise<PortainerEndpoint[]> {
    const q = filter.name ? `?name=${encodeURIComponent(filter.name)}` : '';
    return this.call<PortainerEndpoint[]>('GET', `/api/endpoints${q}`);
  }

  /** Creates an agent environment. Multipart on purpose: a JSON body leaves Name empty in Portainer. */
  async createAgentEndpoint(req: AgentEndpointRequest): Promise<PortainerEndpoint> {
    const form = new FormData();
    form.append('Name', req.name);
    form.append('EndpointCreationType', '2');
    form.append('URL', req.url);
    form.append('TLS', String(req.tls?.tls ?? true));
    form.append('TLSSkipVerify', String(req.tls?.skipVerify ?? true));
    form.append('TLSSkipClientVerify', String(req.tls?.skipClientVerify ?? true));
    form.append('GroupID', String(req.groupId ?? 1));
    return this.call<PortainerEndpoint>('POST', '/api/endpoints', { form });
  }

  async listStacks(endpointId?: number): Promise<PortainerStack[]> {
    const q =
      endpointId === undefined ? '' : `?filters=${encodeURIComponent(JSON.stringify({ EndpointID: endpointId }))}`;
    return this.call<PortainerStack[]>('GET', `/api/stacks${q}`);
  }

  async getStackFile(id: number): Promise<string> {
    return (await this.call<{ StackFileContent: string }>('GET', `/api/stacks/${id}/file`)).StackFileContent;
  }

  /** Deploys a standalone compose stack from its content (CE cannot deploy a file on the Portainer host). */
  async createStandaloneStackFromString(
    endpointId: number,
    name: string,
    content: string,
    env: StackEnv[] = [],
  ): Promise<PortainerStack> {
    return this.call<PortainerStack>('POST', `/api/stacks/create/standalone/string?endpointId=${endpointId}`, {
      json: { Name: name, StackFileContent: content, Env: env },
    });
  }

  async updateStack(id: number, endpointId: number, content: string, env: StackEnv[] = []): Promise<PortainerStack> {
    return this.call<PortainerStack>('PUT', `/api/stacks/${id}?endpointId=${endpointId}`, {
      json: { StackFileContent: content, Env: env, Prune: false, PullImage: false },
    });
  }

  /** Containers of one compose project on an environment, stopped ones included (Docker API passthrough). */
  async listContainers(endpointId: number, composeProject: string): Promise<DockerContainer[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: [composeProjectLabel(composeProject)] }));
    return this.call<DockerContainer[]>(
      'GET',
      `/api/endpoints/${endpointId}/docker/containers/json?all=1&filters=${filters}`,
    );
  }
}
