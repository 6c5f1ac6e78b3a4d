/** Portainer activities against the HTTPS Portainer simulator, in a mock activity context. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { PortainerSettings } from '../../../src/config/resolved-plan';
import { createPortainerActivities } from '../../../src/activities/portainer';
import { startPortainerSim, type PortainerSim, type SimStack } from '../../../src/lab/portainer-sim';
import { FailureType } from '../../../src/failure-types';

const TOKEN_ENV = 'PHX_TEST_PORTAINER_TOKEN';
const TOKEN = 'ptr_activity_token';
const COMPOSE = 'services:\n  qdrant:\n    image: qdrant/qdrant:v1.12.4\n    ports: ["6333:6333"]\n';

/** Expected failures are asserted; the SDK's warning log of each would only bury jest's report. */
const mockEnv = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

const succeeded = (): never => {
  throw new Error('expected the activity to fail, but it succeeded');
};

/** `MockActivityEnvironment.run` loses the activity's result type; this keeps it. */
function runIn<A, R>(env: MockActivityEnvironment, fn: (input: A) => Promise<R>, input: A): Promise<R> {
  return env.run(fn, input) as Promise<R>;
}
const failureOf = (e: unknown) => e as { type?: string; nonRetryable?: boolean; message: string };

function settings(sim: PortainerSim, over: Partial<PortainerSettings> = {}): PortainerSettings {
  return {
    mode: 'api',
    url: sim.url,
    tls: { mode: 'fingerprint', sha256: sim.fingerprint256 as string },
    environmentName: 'vm-1002',
    agentUrl: 'tcp://127.0.0.102:9001',
    stackName: 'qdrant',
    composeFileIndex: 0,
    credentials: { apiKey: { env: TOKEN_ENV } },
    allowStackUpdate: false,
    ...over,
  };
}

const mutations = (sim: PortainerSim) =>
  sim.state.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);

describe('ensurePortainerDeployment (api mode)', () => {
  const acts = createPortainerActivities();
  let sim: PortainerSim;
  let deployed: SimStack[];

  beforeAll(() => {
    process.env[TOKEN_ENV] = TOKEN;
  });
  afterAll(() => {
    delete process.env[TOKEN_ENV];
  });
  beforeEach(async () => {
    deployed = [];
    sim = await startPortainerSim({ host: '127.0.0.101', apiKeys: [TOKEN], onDeploy: (s) => void deployed.push(s) });
  });
  afterEach(() => sim.stop());

  it('creates the environment and stack, waits for the container, and is a no-op the second time', async () => {
    const first = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: COMPOSE,
    });
    expect(first).toMatchObject({ environment: 'created', stack: 'created', containerRunning: true });
    expect(first.changes).toHaveLength(2);
    expect(deployed.map((s) => s.Name)).toEqual(['qdrant']);
    expect(mutations(sim)).toEqual(['POST /api/endpoints', 'POST /api/stacks/create/standalone/string']);

    const second = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: `${COMPOSE}\n`,
    });
    expect(second).toMatchObject({
      environment: 'reused',
      stack: 'unchanged',
      containerRunning: true,
      changes: [],
      environmentId: first.environmentId,
      stackId: first.stackId,
    });
    expect(mutations(sim)).toHaveLength(2);
    expect(deployed).toHaveLength(1);
  });

  it('changes nothing in a dry run and says what it would do', async () => {
    const res = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: COMPOSE,
      dryRun: true,
    });
    expect(res).toMatchObject({
      environment: 'would-create',
      stack: 'would-create',
      containerRunning: false,
      environmentId: null,
    });
    expect(res.changes.join('\n')).toMatch(/would create agent environment "vm-1002"/);
    expect(mutations(sim)).toEqual([]);
  });

  it('reuses an environment with the same agent URL under another name', async () => {
    await sim.stop();
    sim = await startPortainerSim({
      host: '127.0.0.101',
      apiKeys: [TOKEN],
      endpoints: [{ Name: 'qdrant-vm', URL: '127.0.0.102:9001' }],
    });
    const res = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: COMPOSE,
    });
    expect(res).toMatchObject({ environment: 'reused', stack: 'created', environmentId: 1 });
    expect(mutations(sim)).toEqual(['POST /api/stacks/create/standalone/string']);
  });

  it('refuses an environment name taken by another agent, naming both', async () => {
    await sim.stop();
    sim = await startPortainerSim({
      host: '127.0.0.101',
      apiKeys: [TOKEN],
      endpoints: [{ Name: 'vm-1002', URL: 'tcp://127.0.0.55:9001' }],
    });
    const err = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: COMPOSE,
    }).then(succeeded, failureOf);
    expect(err).toMatchObject({ type: FailureType.PortainerEnvironmentConflict, nonRetryable: true });
    expect(err.message).toContain('"vm-1002"');
    expect(err.message).toContain('tcp://127.0.0.55:9001');
    expect(mutations(sim)).toEqual([]);
  });

  it('updates a stack with different content only when allowStackUpdate is set', async () => {
    await runIn(mockEnv(), acts.ensurePortainerDeployment, { portainer: settings(sim), composeContent: COMPOSE });
    const changed = COMPOSE.replace('v1.12.4', 'v1.13.0');
    const refused = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: changed,
    }).then(succeeded, failureOf);
    expect(refused).toMatchObject({ type: FailureType.PortainerStackDiffers, nonRetryable: true });
    expect(refused.message).toContain('allowStackUpdate');

    const res = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim, { allowStackUpdate: true }),
      composeContent: changed,
    });
    expect(res).toMatchObject({ environment: 'reused', stack: 'updated', containerRunning: true });
    expect(sim.state.stacks[0].StackFileContent).toContain('v1.13.0');
    expect(deployed).toHaveLength(2);
  });

  it('explains a compose project started outside Portainer', async () => {
    await sim.stop();
    sim = await startPortainerSim({
      host: '127.0.0.101',
      apiKeys: [TOKEN],
      endpoints: [{ Name: 'vm-1002', URL: 'tcp://127.0.0.102:9001' }],
      containers: [{ endpointName: 'vm-1002', project: 'qdrant' }],
    });
    const err = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: COMPOSE,
    }).then(succeeded, failureOf);
    expect(err).toMatchObject({ type: FailureType.PortainerStackConflict, nonRetryable: true });
    expect(err.message).toContain('outside Portainer');
  });

  it('fails retryably when the agent cannot be reached, or the container does not start in time', async () => {
    await sim.stop();
    sim = await startPortainerSim({
      host: '127.0.0.101',
      apiKeys: [TOKEN],
      agentReachable: () => false,
      deployedContainerState: 'created',
    });
    const unreachable = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: COMPOSE,
    }).then(succeeded, failureOf);
    expect(unreachable).toMatchObject({ type: FailureType.PortainerAgentUnreachable, nonRetryable: false });
    expect(unreachable.message).toContain('Unable to get environment type');

    await sim.stop();
    sim = await startPortainerSim({ host: '127.0.0.101', apiKeys: [TOKEN], deployedContainerState: 'created' });
    const notRunning = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: COMPOSE,
      waitBudgetMs: 50,
      pollEveryMs: 10,
    }).then(succeeded, failureOf);
    expect(notRunning).toMatchObject({ type: FailureType.PortainerContainerNotRunning, nonRetryable: false });
    expect(notRunning.message).toContain('/qdrant-qdrant-1=created');
    // The retry finds environment and stack in place and only waits.
    sim.setContainerState('qdrant', 'running');
    const retry = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim),
      composeContent: COMPOSE,
    });
    expect(retry).toMatchObject({ environment: 'reused', stack: 'unchanged', containerRunning: true });
  });

  it('fails non-retryably on a wrong token and on missing credentials', async () => {
    process.env.PHX_TEST_PORTAINER_WRONG = 'not-the-token';
    try {
      const wrong = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
        portainer: settings(sim, { credentials: { apiKey: { env: 'PHX_TEST_PORTAINER_WRONG' } } }),
        composeContent: COMPOSE,
      }).then(succeeded, failureOf);
      expect(wrong).toMatchObject({ type: FailureType.PortainerAuth, nonRetryable: true });
      expect(wrong.message).not.toContain('not-the-token');
    } finally {
      delete process.env.PHX_TEST_PORTAINER_WRONG;
    }
    const none = await runIn(mockEnv(), acts.ensurePortainerDeployment, {
      portainer: settings(sim, { credentials: undefined }),
      composeContent: COMPOSE,
    }).then(succeeded, failureOf);
    expect(none).toMatchObject({ type: FailureType.PortainerCredentialsMissing, nonRetryable: true });
  });
});

describe('cancellation', () => {
  const acts = createPortainerActivities();

  it('a cancelled ensurePortainerDeployment stops waiting for the container at once', async () => {
    process.env[TOKEN_ENV] = TOKEN;
    const sim = await startPortainerSim({ host: '127.0.0.101', apiKeys: [TOKEN], deployedContainerState: 'created' });
    const env = mockEnv();
    const waits: unknown[] = [];
    let waitsAtCancel = -1;
    env.on('heartbeat', (d: { waitingFor?: string }) => {
      if (!d?.waitingFor) return;
      waits.push(d);
      if (waits.length === 2) {
        waitsAtCancel = waits.length;
        env.cancel();
      }
    });
    try {
      // The container stays `created` and the wait budget is far beyond jest's timeout: only the cancellation ends it.
      const err = await runIn(env, acts.ensurePortainerDeployment, {
        portainer: settings(sim),
        composeContent: COMPOSE,
        waitBudgetMs: 3_600_000,
        pollEveryMs: 10,
      }).then(succeeded, failureOf);
      expect(err).toMatchObject({ name: 'CancelledFailure' });
      expect(waits.length).toBeLessThanOrEqual(waitsAtCancel + 1);
      // What was done before the cancellation stays done (a retry converges from it).
      expect(sim.state.stacks.map((s) => s.Name)).toEqual(['qdrant']);
    } finally {
      delete process.env[TOKEN_ENV];
      await sim.stop();
    }
  });
});

describe('checkPortainerStack (manual mode)', () => {
  const acts = createPortainerActivities();

  it('reports missing then running, logging in with username and password from files', async () => {
    const sim = await startPortainerSim({ host: '127.0.0.101', admin: { username: 'admin', password: 's3cret pass' } });
    const dir = mkdtempSync(join(tmpdir(), 'portainer-creds-'));
    writeFileSync(join(dir, 'user'), 'admin\n');
    writeFileSync(join(dir, 'pass'), 's3cret pass\n');
    const p = settings(sim, {
      mode: 'manual',
      credentials: { username: { file: join(dir, 'user') }, password: { file: join(dir, 'pass') } },
    });
    try {
      const before = await runIn(mockEnv(), acts.checkPortainerStack, { portainer: p });
      expect(before).toMatchObject({
        checked: true,
        stackExists: false,
        containerRunning: false,
        detail: expect.stringContaining('no environment'),
      });

      // The person deploys by hand (through the API here).
      await runIn(mockEnv(), createPortainerActivities().ensurePortainerDeployment, {
        portainer: { ...p, mode: 'api' },
        composeContent: COMPOSE,
      });
      const after = await runIn(mockEnv(), acts.checkPortainerStack, { portainer: p });
      expect(after).toMatchObject({ checked: true, stackExists: true, containerRunning: true });
      expect(after.detail).toContain('/qdrant-qdrant-1=running');

      sim.setContainerState('qdrant', 'exited');
      expect(await runIn(mockEnv(), acts.checkPortainerStack, { portainer: p })).toMatchObject({
        stackExists: true,
        containerRunning: false,
      });
    } finally {
      await sim.stop();
    }
  });

  it('checks over the pool of earlier activities, not a new TLS connection each', async () => {
    const sim = await startPortainerSim({ host: '127.0.0.101', apiKeys: [TOKEN] });
    process.env[TOKEN_ENV] = TOKEN;
    try {
      const p = settings(sim, { mode: 'manual' });
      await runIn(mockEnv(), createPortainerActivities().ensurePortainerDeployment, {
        portainer: { ...p, mode: 'api' },
        composeContent: COMPOSE,
      });
      const pooled = createPortainerActivities();
      const check = async () =>
        expect(await runIn(mockEnv(), pooled.checkPortainerStack, { portainer: p })).toMatchObject({
          stackExists: true,
          containerRunning: true,
        });
      await check();
      const before = { connections: sim.state.connections, requests: sim.state.requests.length };
      await check();
      await check();
      // Each check asks three times (environments, then stacks and containers at once), over the first's sockets.
      expect(sim.state.requests.length - before.requests).toBe(6);
      expect(sim.state.connections - before.connections).toBe(0);
    } finally {
      delete process.env[TOKEN_ENV];
      await sim.stop();
    }
  });

  it('cannot check without credentials or when Portainer is down, and says so', async () => {
    const sim = await startPortainerSim({ host: '127.0.0.101' });
    const p = settings(sim, { mode: 'manual', credentials: undefined });
    await sim.stop();
    expect(await runIn(mockEnv(), acts.checkPortainerStack, { portainer: p })).toMatchObject({
      checked: false,
      detail: expect.stringContaining('no Portainer credentials'),
    });
    process.env[TOKEN_ENV] = TOKEN;
    try {
      const down = await runIn(mockEnv(), acts.checkPortainerStack, {
        portainer: { ...p, credentials: { apiKey: { env: TOKEN_ENV } } },
      });
      expect(down).toMatchObject({ checked: false, detail: expect.stringContaining('unreachable') });
    } finally {
      delete process.env[TOKEN_ENV];
    }
  });
});
