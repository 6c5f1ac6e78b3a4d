/**
 * `phoenix-migrate`: the operator's command line. Commander does the parsing and the `--help` of every command;
 * each command is a function that returns its exit code (see the README's table), so tests run them in-process.
 */
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_ANSWER_WAIT_SECONDS } from './answer';
import { runGatewayDiff, runGatewayRefs } from './gateway';
import { commandFooter, helpConfiguration, integerIn, programFooter } from './help';
import { CliError, ExitCode, processIo, type CliIo } from './io';
import { runLabCommand } from './lab';
import { runPlan } from './plan';
import {
  runAnswer,
  type ConnectionFlags,
  runCancel,
  runHistoryExport,
  runStart,
  runStatus,
  runWatch,
  type AnswerCommand,
} from './runs';
import { packageVersion } from './self';
import { runInit } from './init';
import { runSources, type SourcesOptions } from './sources';
import { runValidate } from './validate';
import { loadTemporalTarget } from '../temporal/connection';

const answerNotes: Record<AnswerCommand, string> = {
  'confirm-portainer': 'deployed qdrant v1.15.4',
  'approve-decommission': 'backups checked',
  'retry-verification': 'fixed the firewall',
  abort: 'not today',
  'reindex-done': 'producers re-indexed',
};

/** --plan/--id and the connection flags, as commander hands them to run-level commands. */
type RunRefFlags = ConnectionFlags & { plan?: string; id?: string };

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** An option whose default is a rule rather than a value: shown as `(default: …)` like every other default. */
const ruleDefault = (flags: string, description: string, rule: string) =>
  new Option(flags, description).default(undefined, rule);

const { ok, failed, badInput, waitingForPerson, notFound, conflict, unavailable } = ExitCode;

function connectionOptions(cmd: Command): Command {
  return cmd
    .addOption(ruleDefault('--profile <name>', 'temporal.toml profile', 'TEMPORAL_PROFILE, else "default"'))
    .addOption(ruleDefault('--address <host:port>', 'Temporal frontend', 'TEMPORAL_ADDRESS, else localhost:7233'))
    .addOption(ruleDefault('--namespace <ns>', 'Temporal namespace', 'TEMPORAL_NAMESPACE, else "default"'));
}

/** Commands that act on a run: which one, by plan or by id. */
function runRefOptions(cmd: Command): Command {
  return connectionOptions(
    cmd
      .option('--plan <file>', 'the migration plan (the run id derives from its name); or --id')
      .addOption(ruleDefault('--id <workflowId>', 'the run id; or --plan', 'migration-<plan name>')),
  );
}

/** Commands that need the plan itself. */
function planOptions(cmd: Command): Command {
  return connectionOptions(cmd.requiredOption('--plan <file>', 'the migration plan'));
}

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('phoenix-migrate')
    .description('Durable, safe runbook for the Phoenix Hypervisor Qdrant migration (Temporal-backed).')
    .version(packageVersion(), '-V, --version', 'print the version')
    .configureHelp(helpConfiguration)
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride()
    .addHelpText('after', programFooter);

  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      setExit(await fn(...args));

  commandFooter(
    program
      .command('validate')
      .description('check a plan (and the Phoenix configs it names), or Phoenix configs alone; lists every problem')
      .option('--plan <file>', 'the migration plan')
      .option('--vm-configs <file>', "Phoenix's phoenix_vm_configs.json (without --plan; with --lxc-configs)")
      .option('--lxc-configs <file>', "Phoenix's phoenix_lxc_configs.json (without --plan; with --vm-configs)")
      .option(
        '--phoenix-dir <dir>',
        "a copy of the Phoenix checkout (/usr/local/phoenix_hypervisor): Phoenix's paths resolve inside it; overrides the plan's phoenix.dir",
      )
      .option('--strict', 'treat warnings as errors (exit 2 when there is any)')
      .option('--json', 'print the problems as JSON'),
    [
      'phoenix-migrate validate --plan plans/qdrant-to-dr-phoenix.json',
      'phoenix-migrate validate --vm-configs examples/phoenix/etc/phoenix_vm_configs.json --lxc-configs examples/phoenix/etc/phoenix_lxc_configs.json --strict',
    ],
    [ok, badInput],
  ).action(
    action(
      (o: {
        plan?: string;
        vmConfigs?: string;
        lxcConfigs?: string;
        phoenixDir?: string;
        strict?: boolean;
        json?: boolean;
      }) => runValidate(o, io),
    ),
  );

  commandFooter(
    program
      .command('init')
      .description(
        'write a plan from a Phoenix checkout: VMs, gateway and its upstream, legacy guests, backups; lists what it could not decide',
      )
      .requiredOption('--phoenix-dir <dir>', 'a copy of the Phoenix checkout (/usr/local/phoenix_hypervisor)')
      .requiredOption('--legacy <ctid>', 'a legacy container to retire (repeatable)', collect)
      .option('--adopt <vmid>', 'a VM that already exists on the node: converged in place (repeatable)', collect)
      .option(
        '--volumes <decision>',
        'backup or discard: decides every legacy volume at once (otherwise each is a TODO)',
      )
      .option('--out <file>', 'write the plan here (default: print it)'),
    [
      'phoenix-migrate init --phoenix-dir examples/phoenix --legacy 950 --legacy 951 --legacy 952 --legacy 953 --adopt 1001 --volumes backup --out /tmp/p.json',
      'phoenix-migrate init --phoenix-dir ~/phoenix_hypervisor --legacy 952',
    ],
    [ok, badInput],
  ).action(
    action((o: { phoenixDir: string; legacy: string[]; adopt?: string[]; volumes?: string; out?: string }) =>
      runInit(o, io),
    ),
  );

  commandFooter(
    connectionOptions(
      program
        .command('sources')
        .description(
          "Phoenix's own copies of the gateway site (committed file, LXC script heredoc) kept in step with the cutover: shows the rewrite; --write applies it",
        )
        .requiredOption('--plan <file>', 'the migration plan')
        .option('--phoenix-dir <dir>', "the Phoenix checkout (overrides the plan's phoenix.dir)")
        .option('--id <workflowId>', 'a completed run: also remove the CTs it deleted from phoenix_lxc_configs.json')
        .option('--write', 'apply the changes (a backup is kept beside each file)'),
    ),
    [
      'phoenix-migrate sources --plan /tmp/p.json --phoenix-dir ~/phoenix_hypervisor',
      'phoenix-migrate sources --plan /tmp/p.json --id migration-qdrant-to-dr-phoenix --write',
    ],
    [ok, failed, badInput, notFound, conflict, unavailable],
  ).action(action((o: SourcesOptions) => runSources(o, io)));

  commandFooter(
    planOptions(
      program
        .command('plan')
        .description(
          'dry run on live state: every read and check, zero changes; prints what each phase would change (needs a worker)',
        ),
    ).option('--json', 'print the report as JSON'),
    [
      'phoenix-migrate plan --plan plans/qdrant-to-dr-phoenix.json',
      'phoenix-migrate plan --plan plans/qdrant-to-dr-phoenix.json --json --address temporal.lan:7233',
    ],
    [ok, failed, badInput, unavailable],
  ).action(action((o) => runPlan(o, io)));

  commandFooter(
    planOptions(
      program.command('start').description('start the migration; prints the run id and its Temporal UI address'),
    ),
    [
      'phoenix-migrate start --plan plans/qdrant-to-dr-phoenix.json',
      'TEMPORAL_ADDRESS=temporal.lan:7233 phoenix-migrate start --plan plans/qdrant-to-dr-phoenix.json',
    ],
    [ok, badInput, conflict, unavailable],
  ).action(action((o) => runStart(o, io)));

  commandFooter(
    runRefOptions(program.command('status').description('phases, steps and what the run waits for')).option(
      '--json',
      'machine-readable',
    ),
    [
      'phoenix-migrate status --plan plans/qdrant-to-dr-phoenix.json',
      'phoenix-migrate status --id migration-qdrant-to-dr-phoenix --json',
    ],
    [ok, failed, badInput, waitingForPerson, notFound, unavailable],
  ).action(action((o) => runStatus(o, io)));

  commandFooter(
    runRefOptions(
      program
        .command('watch')
        .description(
          'live view until the run ends (exit 0/1) or waits for a person (exit 3; not for readiness, which the run re-checks by itself)',
        ),
    )
      .option('--until-done', 'keep watching through waits for a person')
      .addOption(
        new Option('--interval <ms>', 'refresh interval in milliseconds')
          .default(1000)
          .argParser(integerIn(100, 3_600_000, '--interval')),
      ),
    [
      'phoenix-migrate watch --plan plans/qdrant-to-dr-phoenix.json',
      'phoenix-migrate watch --id migration-qdrant-to-dr-phoenix --until-done --interval 5000',
    ],
    [ok, failed, badInput, waitingForPerson, notFound, unavailable],
  ).action(
    action((o: RunRefFlags & { interval: number; untilDone?: boolean }) =>
      runWatch({ ...o, intervalMs: o.interval, untilDone: !!o.untilDone }, io),
    ),
  );

  const answers: [AnswerCommand, string][] = [
    [
      'confirm-portainer',
      'after deploying the Qdrant stack in Portainer: the run checks it and answers accepted or why not',
    ],
    ['approve-decommission', 'approve deleting the listed legacy containers'],
    ['retry-verification', 'after a failed verification (gateway rolled back): redo cutover and verification'],
    [
      'abort',
      'stop while the run waits for a person: VMs kept, nothing deleted, the gateway restored if it was changed and not yet verified',
    ],
    ['reindex-done', '(reindex data mode) the producers have re-indexed into the new Qdrant'],
  ];
  for (const [name, description] of answers) {
    const command = runRefOptions(program.command(name).description(description))
      .addOption(ruleDefault('--by <name>', 'who answers', '$USER'))
      .option('--note <text>', 'a note kept in the history and report')
      .addOption(
        new Option('--wait <seconds>', 'how long a worker has to take the answer before the command gives up (exit 6)')
          .default(DEFAULT_ANSWER_WAIT_SECONDS)
          .argParser(integerIn(1, 3600, '--wait')),
      );
    if (name === 'approve-decommission')
      command.option(
        '--keep <ctid>',
        'keep this CT (not deleted; repeatable; only a CT the approval lists for deletion)',
        (v: string, all: string[]) => [...all, v],
        [] as string[],
      );
    commandFooter(
      command,
      [
        // Two examples each; approve-decommission's second shows --keep (its own option).
        name === 'approve-decommission'
          ? 'phoenix-migrate approve-decommission --plan plans/qdrant-to-dr-phoenix.json --keep 951'
          : `phoenix-migrate ${name} --plan plans/qdrant-to-dr-phoenix.json`,
        `phoenix-migrate ${name} --id migration-qdrant-to-dr-phoenix --by alice --note "${answerNotes[name]}"`,
      ],
      [ok, badInput, notFound, conflict, unavailable],
    ).action(action((o) => runAnswer(name, o, io)));
  }

  commandFooter(
    runRefOptions(
      program
        .command('cancel')
        .description(
          'cancel the run: VMs kept, nothing deleted, the gateway restored if it was changed and not yet verified',
        ),
    ),
    [
      'phoenix-migrate cancel --plan plans/qdrant-to-dr-phoenix.json',
      'phoenix-migrate cancel --id migration-qdrant-to-dr-phoenix',
    ],
    [ok, badInput, notFound, unavailable],
  ).action(action((o) => runCancel(o, io)));

  commandFooter(
    runRefOptions(
      program.command('history').description("export the run's event history (for replay tests or support)"),
    ).requiredOption('--export <file>', 'where to write the JSON history'),
    [
      'phoenix-migrate history --plan plans/qdrant-to-dr-phoenix.json --export run.json',
      'phoenix-migrate history --id migration-qdrant-to-dr-phoenix --export /tmp/history.json',
    ],
    [ok, badInput, notFound, unavailable],
  ).action(action((o) => runHistoryExport(o, io)));

  commandFooter(
    connectionOptions(
      program
        .command('worker')
        .description('run a worker: the process that executes the migration (secrets come from its environment)'),
    ).addOption(
      ruleDefault(
        '--metrics-port <port>',
        'serve Prometheus metrics on 127.0.0.1:<port>/metrics',
        'PHOENIX_METRICS_PORT, else none',
      ).argParser(integerIn(1, 65535, '--metrics-port')),
    ),
    [
      'phoenix-migrate worker',
      'set -a; . /etc/phoenix-migrate/worker.env; set +a; phoenix-migrate worker --metrics-port 9464',
    ],
    [ok, failed, badInput, unavailable],
  ).action(
    action(async (o: ConnectionFlags & { metricsPort?: number }) => {
      const fromEnv = process.env.PHOENIX_METRICS_PORT;
      let metricsPort = o.metricsPort;
      if (metricsPort === undefined && fromEnv) {
        try {
          metricsPort = integerIn(1, 65535, 'PHOENIX_METRICS_PORT')(fromEnv);
        } catch (err) {
          throw new CliError((err as Error).message, 'fix PHOENIX_METRICS_PORT in worker.env, or unset it', badInput);
        }
      }
      const { heapGrowthFlag } = await import('../worker-tuning');
      try {
        heapGrowthFlag();
      } catch (err) {
        throw new CliError(
          (err as Error).message,
          'fix PHOENIX_HEAP_GROWING_PERCENT in worker.env, or unset it',
          badInput,
        );
      }
      const { runWorker } = await import('../worker');
      try {
        await runWorker({ ...o, metricsPort });
      } catch (err) {
        // The native connection's error is a multi-line Rust debug dump: say it in one line, with exit 6.
        if (/^cannot read the Temporal connection settings/.test((err as Error)?.message ?? ''))
          throw new CliError(
            (err as Error).message.split('\n')[0],
            'check --profile / TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE and the TEMPORAL_* variables',
            badInput,
          );
        if ((err as Error)?.name === 'TransportError') {
          const address = loadTemporalTarget(o).address;
          const reason = /connection refused/i.test((err as Error).message) ? 'connection refused' : 'transport error';
          throw new CliError(
            `cannot reach the Temporal server at ${address} (${reason})`,
            'start one (`npm run lab` does, or `temporal server start-dev`), or set TEMPORAL_ADDRESS / --address',
            ExitCode.unavailable,
          );
        }
        throw err;
      }
      return ExitCode.ok;
    }),
  );

  program
    .command('gateway-diff')
    .description('print the unified diff a cutover would make to an nginx site file')
    .requiredOption('--file <file>', 'the nginx site file')
    .requiredOption('--upstream <name>', 'the upstream block to rewrite')
    .requiredOption('--server <host:port>', 'a new server (repeatable)', collect)
    .action(
      action((o: { file: string; upstream: string; server: string[] }) =>
        runGatewayDiff({ file: o.file, upstream: o.upstream, servers: o.server }, io),
      ),
    );

  program
    .command('gateway-refs')
    .description('list the upstreams of an nginx site file and the addresses they point at')
    .requiredOption('--file <file>', 'the nginx site file')
    .option('--ip <ip>', 'only upstreams pointing at this IP (repeatable)', collect)
    .option('--json', 'machine-readable')
    .action(
      action((o: { file: string; ip?: string[]; json?: boolean }) =>
        runGatewayRefs({ file: o.file, ips: o.ip, json: o.json }, io),
      ),
    );

  runLabCommand(program, io, setExit);
  return program;
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let code: number = ExitCode.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors are bad input.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
    }
    if (err instanceof CliError) {
      io.err(`phoenix-migrate: ${err.message}`);
      io.err(`hint: ${err.hint}`);
      return err.exitCode;
    }
    io.err(`phoenix-migrate: ${(err as Error)?.message ?? String(err)}`);
    io.err('hint: run with DEBUG=phoenix-migrate for details, or see README "Troubleshooting"');
    if (process.env.DEBUG?.includes('phoenix-migrate')) io.err((err as Error)?.stack ?? '');
    return ExitCode.failed;
  }
}
