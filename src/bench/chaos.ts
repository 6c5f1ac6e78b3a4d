/**
 * `npm run chaos -- --runs N [--workers N] [--json] [--seed S] [--dir D]`: N unattended lab migrations; in each a worker is
 * SIGKILLed 1–3 times at random moments and started again, and in one run the Temporal dev server is killed and
 * restarted on its db file as well. After each run: did it complete, did any side effect happen twice, was anything
 * deleted before verification passed, and how long did it take from a restart to the next completed activity.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { driveRun, type DriveResult } from '../lab/driver';
import { countEffects, type EffectCounts } from './effects';
import {
  activityCompletions,
  describeRecovery,
  recoveryTimesMs,
  round,
  sleep,
  spuriousRetries,
  type KilledWorker,
  startLabRun,
} from './harness';
import { seededRandom as prng } from '../lab/random';
import { startMigration } from '../temporal/start';

/** Long enough that a kill lands inside a Proxmox task more often than not; short enough for ~10 runs in minutes. */
export const CHAOS_TASK_MS = { qmclone: 1500, resize: 600, qmstart: 600, vzdump: 800, vzshutdown: 500, vzdestroy: 600 };

interface Args {
  runs: number;
  json: boolean;
  seed: number;
  dir: string;
  runTimeoutMs: number;
  /** Worker processes on the task queue; each kill hits one of them, chosen at random. */
  workers: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    runs: 3,
    json: false,
    seed: Date.now() % 1_000_000,
    dir: path.join(os.tmpdir(), `phoenix-chaos-${process.pid}`),
    runTimeoutMs: 600_000,
    workers: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--runs') args.runs = Number(value());
    else if (a === '--json') args.json = true;
    else if (a === '--seed') args.seed = Number(value());
    else if (a === '--dir') args.dir = path.resolve(value());
    else if (a === '--run-timeout') args.runTimeoutMs = Number(value()) * 1000;
    else if (a === '--workers') args.workers = Number(value());
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: npm run chaos -- [--runs N] [--workers N (1)] [--json] [--seed S] [--dir DIR] [--run-timeout SECONDS]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs needs a whole number ≥ 1');
  if (!Number.isInteger(args.workers) || args.workers < 1) throw new Error('--workers needs a whole number ≥ 1');
  return args;
}

export interface ChaosRunResult {
  run: number;
  completed: boolean;
  outcome: string;
  seconds: number;
  workerKills: number;
  temporalKills: number;
  /** Restart → next completed activity, for restarts with no other kill before that completion. */
  recoverySeconds: number[];
  /** The same for every restart, a later kill's time included. */
  recoveryWithLaterKillsSeconds: number[];
  /** Activities retried although nothing was killed while they ran. */
  spuriousRetries: number;
  effects: EffectCounts;
  failure?: string;
}

async function chaosRun(
  index: number,
  args: Args,
  rand: () => number,
  killTemporal: boolean,
  say: (l: string) => void,
): Promise<ChaosRunResult> {
  const dir = path.join(args.dir, `run-${index + 1}`);
  const lab = await startLabRun({
    dir,
    world: { taskDurations: CHAOS_TASK_MS, defaultTaskMs: 300, agentDelayMs: 500 },
    workers: args.workers,
  });
  const log = fs.createWriteStream(path.join(dir, 'drive.log'));
  const note = (l: string) => log.write(`${new Date().toISOString()} ${l}\n`);
  const started = Date.now();
  const restarts: number[] = [];
  const killTimes: number[] = [];
  const killedWorkers: KilledWorker[] = [];
  let workerKills = 0;
  let temporalKills = 0;
  try {
    const { world, client, workers, temporal } = lab;
    const handle = await startMigration(client, { plan: world.plan, digest: world.digest });
    world.events.write({ kind: 'run-started', workflowId: handle.workflowId });
    let giveUp!: () => void;
    const timedOut = new Promise<void>((r) => (giveUp = r));
    const timer = setTimeout(giveUp, args.runTimeoutMs);
    let done = false;
    const driving = driveRun({
      client,
      workflowId: handle.workflowId,
      world,
      autoConfirm: true,
      say: note,
      interrupted: timedOut,
    }).finally(() => (done = true));

    const kills = 1 + Math.floor(rand() * 3);
    // The server goes down with the run's first worker kill: a later one may never come (a run of ~10 s ends first,
    // and seed 126239's series had no Temporal kill at all).
    const temporalAfter = killTemporal ? 0 : -1;
    const chaos = (async () => {
      for (let k = 0; k < kills && !done; k++) {
        await sleep(500 + rand() * 5500);
        if (done) break;
        const worker = workers[Math.floor(rand() * workers.length)];
        const pid = worker.pid();
        note(`chaos: SIGKILL worker (pid ${pid})`);
        const killedAt = Date.now();
        killTimes.push(killedAt);
        if (pid !== undefined) killedWorkers.push({ pid, atMs: killedAt });
        await worker.kill();
        workerKills++;
        world.events.write({ kind: 'chaos', what: 'worker-killed' });
        await sleep(rand() * 1000);
        if (k === temporalAfter) {
          note('chaos: SIGKILL Temporal dev server');
          killTimes.push(Date.now());
          await temporal.kill();
          temporalKills++;
          world.events.write({ kind: 'chaos', what: 'temporal-killed' });
          await sleep(300 + rand() * 1000);
          restarts.push(Date.now());
          await temporal.start();
          note('chaos: Temporal dev server restarted on its db file');
        }
        restarts.push(Date.now());
        await worker.start();
        world.events.write({ kind: 'chaos', what: 'worker-restarted' });
        note(`chaos: worker restarted (pid ${worker.pid()})`);
      }
    })();
    const result: DriveResult = await driving;
    clearTimeout(timer);
    await chaos;
    const seconds = (Date.now() - started) / 1000;
    const effects = countEffects(world.events.read(), lab.initialSiteSha);
    const events = (await handle.fetchHistory()).events ?? [];
    const completions = activityCompletions(events);
    const spurious = spuriousRetries(events, killTimes, killedWorkers);
    const recoveries = recoveryTimesMs(restarts, completions, killTimes).map((ms) => round(ms / 1000, 1));
    const withLaterKills = recoveryTimesMs(restarts, completions).map((ms) => round(ms / 1000, 1));
    const outcome = result.interrupted ? 'timed out' : (result.report?.outcome ?? result.state.toLowerCase());
    const completed = outcome === 'completed';
    say(
      `run ${index + 1}/${args.runs}: ${outcome} in ${seconds.toFixed(1)} s; killed worker ×${workerKills}${temporalKills ? `, Temporal ×${temporalKills}` : ''}; ` +
        `clones ${Object.keys(effects.clones).length}, deletes ${Object.keys(effects.deletes).length}, gateway changes ${effects.gatewayChanges}; ` +
        `duplicates ${effects.duplicateEffects}, early deletes ${effects.deletedBeforeVerification}; recovery ${recoveries.map((r) => `${r} s`).join(', ') || '—'}` +
        (withLaterKills.join() !== recoveries.join()
          ? ` (counting a later kill's time too: ${withLaterKills.map((r) => `${r} s`).join(', ')})`
          : '') +
        `; spurious retries ${spurious}` +
        (effects.problems.length ? `\n    ${effects.problems.join('\n    ')}` : '') +
        (result.failure ? `\n    failure: ${result.failure}` : '') +
        restarts
          .filter((r) => (recoveryTimesMs([r], completions)[0] ?? 0) > SLOW_RECOVERY_MS)
          .map((r) => `\n    slow recovery: ${describeRecovery(events, r)}`)
          .join(''),
    );
    return {
      run: index + 1,
      completed,
      outcome,
      seconds,
      workerKills,
      temporalKills,
      recoverySeconds: recoveries,
      recoveryWithLaterKillsSeconds: withLaterKills,
      spuriousRetries: spurious,
      effects,
      failure: result.failure,
    };
  } finally {
    log.end();
    await lab.stop();
  }
}

/** A recovery slower than the issue's goal (8 s) is explained from the history in the run's line. */
const SLOW_RECOVERY_MS = 8_000;

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const args = parseArgs(argv);
  const say = (l: string) => process.stdout.write(`${l}\n`);
  const rand = prng(args.seed);
  const temporalRun = Math.floor(args.runs / 2);
  say(
    `chaos: ${args.runs} run(s), seed ${args.seed}, dirs under ${args.dir}; Proxmox task durations ${JSON.stringify(CHAOS_TASK_MS)}`,
  );
  const results: ChaosRunResult[] = [];
  for (let i = 0; i < args.runs; i++) {
    try {
      results.push(await chaosRun(i, args, rand, i === temporalRun, say));
    } catch (err) {
      say(`run ${i + 1}/${args.runs}: the harness failed: ${(err as Error).message}`);
      results.push({
        run: i + 1,
        completed: false,
        outcome: 'harness error',
        seconds: 0,
        workerKills: 0,
        temporalKills: 0,
        recoverySeconds: [],
        recoveryWithLaterKillsSeconds: [],
        spuriousRetries: 0,
        effects: countEffects([], ''),
        failure: (err as Error).message,
      });
    }
  }
  const summary = {
    runs: args.runs,
    completed: results.filter((r) => r.completed).length,
    duplicateEffects: results.reduce((n, r) => n + r.effects.duplicateEffects, 0),
    deletedBeforeVerification: results.reduce((n, r) => n + r.effects.deletedBeforeVerification, 0),
    maxRecoverySeconds: Math.max(0, ...results.flatMap((r) => r.recoverySeconds)),
    maxRecoveryWithLaterKillsSeconds: Math.max(0, ...results.flatMap((r) => r.recoveryWithLaterKillsSeconds)),
    spuriousRetries: results.reduce((n, r) => n + r.spuriousRetries, 0),
    workers: args.workers,
    duplicateBackups: results.reduce((n, r) => n + r.effects.duplicateBackups, 0),
    workerKills: results.reduce((n, r) => n + r.workerKills, 0),
    temporalKills: results.reduce((n, r) => n + r.temporalKills, 0),
    seed: args.seed,
  };
  say(
    `\n${summary.completed}/${summary.runs} completed; duplicate effects ${summary.duplicateEffects}; deleted before verification ${summary.deletedBeforeVerification}; ` +
      `max recovery ${summary.maxRecoverySeconds} s (${summary.maxRecoveryWithLaterKillsSeconds} s counting a later kill's time too); duplicate backups ${summary.duplicateBackups}; kills: worker ${summary.workerKills}, Temporal ${summary.temporalKills}`,
  );
  if (args.json) say(JSON.stringify(summary));
  const ok =
    summary.completed === summary.runs && summary.duplicateEffects === 0 && summary.deletedBeforeVerification === 0;
  // A recovery over the goal or a retry no kill explains is worth a look even when nothing unsafe happened.
  const worthALook = results.some(
    (r) => r.spuriousRetries > 0 || r.recoverySeconds.some((s) => s * 1000 > SLOW_RECOVERY_MS),
  );
  if (ok && !worthALook) fs.rmSync(args.dir, { recursive: true, force: true });
  else say(`kept the run dirs for inspection: ${args.dir}`);
  return ok ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`chaos: ${err.message}\n`);
      process.exit(2);
    },
  );
}
