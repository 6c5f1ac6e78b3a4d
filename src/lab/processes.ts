/**
 * The lab's child processes: a Temporal dev server (Web UI included, persistent SQLite db, our search attributes)
 * and a migration worker (`phoenix-migrate worker`) — separate processes, so they can be killed for real.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { preferredPort, waitForTcp } from './services/ports';

export interface ManagedProcess {
  readonly name: string;
  pid(): number | undefined;
  running(): boolean;
  /** SIGKILL: what a crash looks like. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  start(): Promise<void>;
}

function manage(
  name: string,
  launch: () => ChildProcess,
  ready: (child: ChildProcess) => Promise<void>,
): ManagedProcess {
  let child: ChildProcess | undefined;
  const exited = () => !child || child.exitCode !== null || child.signalCode !== null;
  const waitExit = () => (exited() ? Promise.resolve() : new Promise<void>((r) => child?.once('exit', () => r())));
  return {
    name,
    pid: () => child?.pid,
    running: () => !exited(),
    async start() {
      if (!exited()) return;
      child = launch();
      await ready(child);
    },
    async kill() {
      if (exited()) return;
      const done = waitExit();
      child?.kill('SIGKILL');
      await done;
    },
    async stop(graceMs = 10_000) {
      if (exited()) return;
      const done = waitExit();
      child?.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    },
  };
}

export interface TemporalDevServer extends ManagedProcess {
  address: string;
  uiUrl: string;
}

export async function temporalDevServer(opts: {
  cliPath: string;
  dbFile: string;
  logFile: string;
  host?: string;
  port?: number;
  uiPort?: number;
  ui?: boolean;
}): Promise<TemporalDevServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await preferredPort(host, 7233));
  const uiPort = opts.uiPort ?? (await preferredPort(host, port + 1000));
  fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--db-filename',
    opts.dbFile,
    // WAL instead of SQLite's default rollback journal: a busy server (the bench's fleet) otherwise spends much of
    // its CPU writing, syncing and deleting a journal per transaction. Still durable when the process is killed
    // (chaos kills it): only an OS crash can lose the last transactions (BENCHMARKS.md: "Temporal's database").
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    '--namespace',
    'default',
    '--search-attribute',
    'MigrationPhase=Keyword',
    '--search-attribute',
    'PlanName=Keyword',
    // Eager activities: when a workflow task schedules an activity and this worker has a free slot, the server hands
    // the activity back in its answer to the task instead of through the task queue's matching (BENCHMARKS.md:
    // "Slots"). Off by default in the server; docker-compose.temporal.yml turns it on the same way.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    '--log-level',
    'warn',
    ...(opts.ui === false ? ['--headless'] : ['--ui-port', String(uiPort)]),
  ];
  const proc = manage(
    'temporal',
    () =>
      spawn(opts.cliPath, args, { stdio: ['ignore', fs.openSync(opts.logFile, 'a'), fs.openSync(opts.logFile, 'a')] }),
    (child) =>
      waitForTcp(host, port, {
        timeoutMs: 60_000,
        alive: () =>
          child.exitCode !== null
            ? `the Temporal dev server exited (${child.exitCode}); see ${opts.logFile}`
            : undefined,
      }),
  );
  return Object.assign(proc, { address: `${host}:${port}`, uiUrl: `http://${host}:${uiPort}` });
}

export function workerProcess(opts: {
  projectRoot: string;
  address: string;
  env: Record<string, string>;
  logFile: string;
  taskQueue?: string;
}): ManagedProcess {
  const bin = path.join(opts.projectRoot, 'bin', 'phoenix-migrate.js');
  let logOffset = 0;
  const newLog = () => (fs.existsSync(opts.logFile) ? fs.readFileSync(opts.logFile, 'utf8').slice(logOffset) : '');
  return manage(
    'worker',
    () => {
      logOffset = fs.existsSync(opts.logFile) ? fs.statSync(opts.logFile).size : 0;
      return spawn(process.execPath, [bin, 'worker', '--address', opts.address], {
        // MALLOC_ARENA_MAX as deploy/phoenix-migrate-worker.service sets it, unless the caller's environment says
        // otherwise.
        env: {
          MALLOC_ARENA_MAX: '2',
          ...process.env,
          ...opts.env,
          ...(opts.taskQueue ? { PHOENIX_TASK_QUEUE: opts.taskQueue } : {}),
        },
        stdio: ['ignore', fs.openSync(opts.logFile, 'a'), fs.openSync(opts.logFile, 'a')],
      });
    },
    // The worker logs "worker started" once it polls; a short settle is enough for the lab's purposes.
    async (child) => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`the worker exited (${child.exitCode}); see ${opts.logFile}`);
        if (newLog().includes('"msg":"worker started"')) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`the worker did not start within 60 s; see ${opts.logFile}`);
    },
  );
}
