/**
 * `phoenix-migrate worker` as the operator runs it: a real child process (the built CLI in lib/). It serves the SDK's
 * Prometheus metrics on --metrics-port, stops gracefully on SIGTERM (exit 0), and refuses to start against a
 * namespace that lacks our search attributes, saying how to create them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort, waitForTcp } from '../../../src/lab/services/ports';
import { startWorld } from '../../../src/lab/world';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate, statusQuery } from '../../../src/workflows/messages';
import { PHASES } from '../../../src/workflows/status';
import { startMigration } from '../../../src/temporal/start';
import { requireOrSkip } from '../../harness/tools';

const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'phoenix-migrate.js');
const BUILT = path.join(ROOT, 'lib', 'cli', 'main.js');

interface Child {
  proc: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(args: string[], env: Record<string, string> = {}): Child {
  let out = '';
  const proc = spawn(process.execPath, [BIN, 'worker', ...args], {
    cwd: ROOT,
    env: { ...process.env, PHOENIX_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, output: () => out, exited };
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  context: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} within ${timeoutMs} ms; output so far:\n${context()}`);
}

async function within<T>(promise: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why())), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const itWithWorld = requireOrSkip('sshd', 'nginx') ? it : it.skip;

describe('phoenix-migrate worker (child process)', () => {
  const children: Child[] = [];
  beforeAll(() => {
    // The CLI runs from lib/ (`npm ci` builds it through `prepare`). A missing build is a setup error, not a skip.
    if (!fs.existsSync(BUILT))
      throw new Error(`${BUILT} is missing: run \`npm run build\` before these tests (npm ci does it via prepare)`);
  });
  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  });

  it('serves Prometheus metrics on --metrics-port and exits 0 on SIGTERM', async () => {
    const address = process.env.PHOENIX_TEST_TEMPORAL_ADDRESS;
    if (!address) throw new Error('PHOENIX_TEST_TEMPORAL_ADDRESS is not set: run through jest (npm test)');
    const port = await freePort();
    const w = startWorker(['--address', address, '--metrics-port', String(port)], {
      PHOENIX_TASK_QUEUE: `metrics-${process.pid}-${Date.now()}`,
    });
    children.push(w);
    await until(
      'the worker did not log "worker started"',
      () =>
        w.output().includes('"msg":"worker started"')
          ? true
          : w.proc.exitCode !== null
            ? Promise.reject(new Error(`worker exited ${w.proc.exitCode}:\n${w.output()}`))
            : undefined,
      60_000,
      w.output,
    );

    const body = await until(
      `no temporal_ metrics on http://127.0.0.1:${port}/metrics`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
        const text = res?.ok ? await res.text() : '';
        return /^temporal_\w+/m.test(text) ? text : undefined;
      },
      30_000,
      w.output,
    );
    expect(body).toMatch(/^# TYPE temporal_\w+ (counter|gauge|histogram)/m);

    w.proc.kill('SIGTERM');
    const exit = await within(w.exited, 30_000, () => `no exit 30 s after SIGTERM:\n${w.output()}`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(w.output()).toContain('"msg":"worker stopped"');
  }, 120_000);

  it('refuses to start on a server without the MigrationPhase/PlanName search attributes, naming the fix', async () => {
    const cli = process.env.PHOENIX_TEST_TEMPORAL_CLI;
    if (!cli) throw new Error('PHOENIX_TEST_TEMPORAL_CLI is not set: run through jest (npm test)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-bare-temporal-'));
    const port = await freePort();
    // A fresh dev server with NO custom search attributes (unlike every server we ship).
    const server = spawn(
      cli,
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--db-filename',
        path.join(dir, 'db'),
        '--log-level',
        'error',
      ],
      {
        stdio: 'ignore',
      },
    );
    try {
      await waitForTcp('127.0.0.1', port, {
        timeoutMs: 60_000,
        alive: () => (server.exitCode !== null ? `the bare dev server exited (${server.exitCode})` : undefined),
      });
      const w = startWorker(['--address', `127.0.0.1:${port}`]);
      children.push(w);
      const exit = await within(w.exited, 60_000, () => `the worker kept running:\n${w.output()}`);
      expect(exit.code).toBe(1);
      expect(w.output()).toMatch(/lacks the search attribute\(s\) MigrationPhase, PlanName/);
      expect(w.output()).toContain(
        'temporal operator search-attribute create --namespace default --name MigrationPhase --type Keyword',
      );
      expect(w.output()).not.toContain('"msg":"worker started"');
    } finally {
      const gone = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await gone;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  itWithWorld(
    'logs JSON lines that each carry the workflowId and phase of the run they belong to',
    async () => {
      const address = process.env.PHOENIX_TEST_TEMPORAL_ADDRESS;
      if (!address) throw new Error('PHOENIX_TEST_TEMPORAL_ADDRESS is not set: run through jest (npm test)');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-worker-logs-'));
      const world = await startWorld({
        dir,
        planName: `logs-${process.pid}-${Date.now().toString(36)}`,
        agentDelayMs: 200,
        defaultTaskMs: 100,
      });
      const connection = await Connection.connect({ address });
      try {
        const taskQueue = `logs-${world.plan.name}`;
        const w = startWorker(['--address', address], { ...world.workerEnv, PHOENIX_TASK_QUEUE: taskQueue });
        children.push(w);
        await until(
          'the worker did not log "worker started"',
          () => (w.output().includes('"msg":"worker started"') ? true : undefined),
          60_000,
          w.output,
        );
        const client = new Client({ connection });
        const handle = await startMigration(client, { plan: world.plan, digest: world.digest }, { taskQueue });
        const waitingFor = async (what: string) =>
          until(
            `the run never waited for ${what}`,
            async () => ((await handle.query(statusQuery)).waitingFor?.what === what ? true : undefined),
            60_000,
            w.output,
          );
        await waitingFor('portainer-deploy');
        await world.deployStack();
        await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [{ by: 'tester' }] });
        await waitingFor('decommission-approval');
        await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by: 'tester' }] });
        await handle.result();
        w.proc.kill('SIGTERM');
        expect(await within(w.exited, 30_000, () => `no exit after SIGTERM:\n${w.output()}`)).toEqual({
          code: 0,
          signal: null,
        });

        const lines = w
          .output()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg: string; workflowId?: string; phase?: string });
        // "During the run": from its first line to its last; the worker's own start/stop lines lie outside.
        const first = lines.findIndex((l) => l.workflowId === handle.workflowId);
        const last = lines.map((l) => l.workflowId).lastIndexOf(handle.workflowId);
        const during = lines.slice(first, last + 1);
        expect(during.filter((l) => l.msg === 'activity finished').length).toBeGreaterThanOrEqual(10);
        const known = new Set<string>([...PHASES, 'Not started', 'Finished']);
        expect(during.filter((l) => l.workflowId !== handle.workflowId || !known.has(l.phase ?? ''))).toEqual([]);
      } finally {
        await connection.close();
        await world.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
