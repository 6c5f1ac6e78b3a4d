/** PortainerClient against the HTTPS Portainer simulator over real TLS on loopback. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type Dispatcher } from 'undici';
import { dispatcherFor } from '../../../src/http/tls';
import { PortainerClient } from '../../../src/portainer/client';
import { startPortainerSim, type PortainerSim, type SimStack } from '../../../src/lab/portainer-sim';

const HOST = '127.0.0.101';
const TOKEN = 'ptr_test_token';
const COMPOSE = 'services:\n  qdrant:\n    image: qdrant/qdrant:v1.12.4\n';

describe('PortainerClient ↔ portainer-sim (HTTPS)', () => {
  let sim: PortainerSim;
  let dispatcher: Dispatcher;
  let client: PortainerClient;
  const deployed: SimStack[] = [];

  beforeAll(async () => {
    sim = await startPortainerSim({
      host: HOST,
      admin: { username: 'admin', password: 'correct horse' },
      apiKeys: [TOKEN],
      agentReachable: (url) => url.includes('127.0.0.102'),
      onDeploy: (s) => {
        deployed.push(s);
      },
      endpoints: [{ Name: 'busy-host', URL: 'tcp://127.0.0.120:9001' }],
      containers: [{ endpointName: 'busy-host', project: 'handmade' }],
    });
    dispatcher = dispatcherFor({ mode: 'fingerprint', sha256: sim.fingerprint256 as string });
    client = new PortainerClient({ url: sim.url, auth: { apiKey: TOKEN }, timeoutMs: 5000, dispatcher });
  });
  afterAll(async () => {
    await dispatcher.close();
    await sim.stop();
  });

  it('rejects a JSON body for a new environment the way Portainer does (Name arrives empty)', async () => {
    const res = await request(`${sim.url}/api/endpoints`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ Name: 'vm-1002', EndpointCreationType: 2, URL: 'tcp://127.0.0.102:9001' }),
      dispatcher,
    });
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toEqual({ message: 'Invalid request payload', details: 'Invalid environment name' });
  });

  it('creates an agent environment from a multipart form, and refuses a duplicate name with 409', async () => {
    const ep = await client.createAgentEndpoint({ name: 'vm-1002', url: 'tcp://127.0.0.102:9001' });
    expect(ep).toMatchObject({
      Name: 'vm-1002',
      URL: 'tcp://127.0.0.102:9001',
      Type: 2,
      TLSConfig: { TLS: true, TLSSkipVerify: true },
    });
    expect(
      sim.state.requests
        .filter((r) => r.method === 'POST' && r.path === '/api/endpoints')
        .map((r) => r.contentType.split(';')[0]),
    ).toEqual(['application/json', 'multipart/form-data']);
    expect((await client.listEndpoints({ name: 'vm-1002' })).map((e) => e.Id)).toEqual([ep.Id]);
    await expect(client.createAgentEndpoint({ name: 'vm-1002', url: 'tcp://127.0.0.102:9001' })).rejects.toMatchObject({
      kind: 'conflict',
      status: 409,
      message: expect.stringContaining('Name is not unique'),
    });
  });

  it('reports an unreachable agent as Portainer does (500 Unable to get environment type)', async () => {
    await expect(client.createAgentEndpoint({ name: 'vm-9', url: 'tcp://127.0.0.99:9001' })).rejects.toMatchObject({
      kind: 'agent-unreachable',
      status: 500,
      message: expect.stringContaining('Unable to get environment type'),
    });
  });

  it('normalises stack names, deploys, and answers 409 for a clash with a stack or a compose project', async () => {
    const [ep] = await client.listEndpoints({ name: 'vm-1002' });
    const stack = await client.createStandaloneStackFromString(ep.Id, 'Qdrant!', COMPOSE, [{ name: 'A', value: '1' }]);
    expect(stack).toMatchObject({ Name: 'qdrant', Type: 2, EndpointId: ep.Id, Status: 1 });
    expect(deployed.map((s) => s.Name)).toEqual(['qdrant']);
    expect(await client.getStackFile(stack.Id)).toBe(COMPOSE);
    expect((await client.listStacks(ep.Id)).map((s) => s.Name)).toEqual(['qdrant']);
    const containers = await client.listContainers(ep.Id, 'qdrant');
    expect(containers.map((c) => [c.Names[0], c.State])).toEqual([['/qdrant-qdrant-1', 'running']]);
    await expect(client.createStandaloneStackFromString(ep.Id, 'QDRANT', COMPOSE)).rejects.toMatchObject({
      kind: 'conflict',
      message: expect.stringContaining("A stack with the normalized name 'qdrant' already exists"),
    });
    const [busy] = await client.listEndpoints({ name: 'busy-host' });
    await expect(client.createStandaloneStackFromString(busy.Id, 'handmade', COMPOSE)).rejects.toMatchObject({
      kind: 'conflict',
    });
    const updated = await client.updateStack(stack.Id, ep.Id, `${COMPOSE}    restart: always\n`);
    expect(updated.Id).toBe(stack.Id);
    expect(await client.getStackFile(stack.Id)).toContain('restart: always');
    expect(deployed).toHaveLength(2);
  });

  it('logs in with username and password for a JWT, and types bad credentials as auth (422)', async () => {
    const withPassword = new PortainerClient({
      url: sim.url,
      auth: { username: 'admin', password: 'correct horse' },
      timeoutMs: 5000,
      dispatcher,
    });
    expect((await withPassword.listEndpoints()).length).toBeGreaterThan(0);
    const bad = new PortainerClient({
      url: sim.url,
      auth: { username: 'admin', password: 'wrong' },
      timeoutMs: 5000,
      dispatcher,
    });
    const err = await bad.listEndpoints().catch((e: unknown) => e);
    expect(err).toMatchObject({
      kind: 'auth',
      status: 422,
      message: expect.stringContaining('Invalid credentials'),
      details: 'Unauthorized',
    });
    expect((err as Error).message).not.toContain('wrong');
    const badToken = new PortainerClient({ url: sim.url, auth: { apiKey: 'nope' }, timeoutMs: 5000, dispatcher });
    await expect(badToken.checkAuth()).rejects.toMatchObject({ kind: 'auth', status: 401 });
  });

  it('trusts the certificate by CA file, and refuses a wrong pin as a TLS error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portainer-ca-'));
    writeFileSync(join(dir, 'ca.pem'), sim.certPem as string);
    const caDispatcher = dispatcherFor({ mode: 'ca', caFile: join(dir, 'ca.pem') });
    const wrongPin = dispatcherFor({ mode: 'fingerprint', sha256: 'AA:'.repeat(31) + 'AA' });
    const system = dispatcherFor({ mode: 'ca', caFile: '/etc/ssl/certs/ca-certificates.crt' });
    try {
      await new PortainerClient({
        url: sim.url,
        auth: { apiKey: TOKEN },
        timeoutMs: 5000,
        dispatcher: caDispatcher,
      }).checkAuth();
      await expect(
        new PortainerClient({
          url: sim.url,
          auth: { apiKey: TOKEN },
          timeoutMs: 5000,
          dispatcher: wrongPin,
        }).checkAuth(),
      ).rejects.toMatchObject({
        kind: 'tls',
        message: expect.stringContaining('pins AA:AA'),
      });
      await expect(
        new PortainerClient({ url: sim.url, auth: { apiKey: TOKEN }, timeoutMs: 5000, dispatcher: system }).checkAuth(),
      ).rejects.toMatchObject({ kind: 'tls' });
    } finally {
      await Promise.all([caDispatcher.close(), wrongPin.close(), system.close()]);
    }
  });

  it('types a closed port as unreachable', async () => {
    const gone = new PortainerClient({
      url: 'https://127.0.0.101:1',
      auth: { apiKey: TOKEN },
      timeoutMs: 2000,
      dispatcher,
    });
    await expect(gone.listEndpoints()).rejects.toMatchObject({
      kind: 'unreachable',
      status: 0,
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('asks a read again once when its connection is lost before any answer, and never repeats a change', async () => {
    const count = (method: string, path: string) =>
      sim.state.requests.filter((r) => r.method === method && r.path === path).length;
    const reads = count('GET', '/api/endpoints');
    sim.dropNextRequests(1);
    expect((await client.listEndpoints()).map((e) => e.Name)).toContain('busy-host');
    expect(count('GET', '/api/endpoints') - reads).toBe(2);

    // Twice in a row is not the idle-connection race: the read fails and says so.
    sim.dropNextRequests(2);
    await expect(client.listEndpoints()).rejects.toMatchObject({ kind: 'unreachable' });
    expect(count('GET', '/api/endpoints') - reads).toBe(4);

    const creates = count('POST', '/api/endpoints');
    sim.dropNextRequests(1);
    await expect(client.createAgentEndpoint({ name: 'vm-1003', url: 'tcp://127.0.0.103:9001' })).rejects.toMatchObject({
      kind: 'unreachable',
    });
    expect(count('POST', '/api/endpoints') - creates).toBe(1);
    sim.dropNextRequests(0);
  });
});
