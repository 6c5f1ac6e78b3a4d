/**
 * `phoenix-migrate`: the operator's command line. Commander does the parsing and the `--help` of every command;
 * each command is a function that returns its exit code (see the README's table), so tests run them in-process.
 */
import { Command, CommanderError, Option } from 'commander';
import { runGatewayDiff, runGatewayRefs } from './gateway';
import { ExitCode, processIo, type CliIo } from './io';
import { runLabCommand } from './lab';
import { runPlan } from './plan';
import {
  CliError,
  runAnswer,
  runCancel,
  runHistoryExport,
  runStart,
  runStatus,
  runWatch,
  type AnswerCommand,
} from './runs';
import { runValidate } from './validate';
import { loadTemporalTarget } from '../temporal/connection';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function connectionOptions(cmd: Command): Command {
  return cmd
    .option('--profile <name>', 'temporal.toml profile (default: TEMPORAL_PROFILE or "default")')
    .option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS or localhost:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or "default")');
}

/** Commands that act on a run: which one, by plan or by id. */
function runRefOptions(cmd: Command): Command {
  return connectionOptions(
    cmd
      .option('--plan <file>', 'the migration plan (the run id derives from its name)')
      .option('--id <workflowId>', 'the run id (default: migration-<plan name>)'),
  );
}

/** Commands that need the plan itself. */
function planOptions(cmd: Command): Command {
  return connectionOptions(cmd.requiredOption('--plan <file>', 'the migration plan'));
}

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('phoenix-migrate')
    .description('Durable, safe runbook for the Phoenix Hypervisor Qdrant migration (Temporal-backed).')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride();

  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      setExit(await fn(...args));

  program
    .command('validate')
    .description('check a plan (and the Phoenix configs it names), or Phoenix configs alone; lists every problem')
    .option('--plan <file>', 'the migration plan')
    .option('--vm-configs <file>', "Phoenix's phoenix_vm_configs.json (without --plan)")
    .option('--lxc-configs <file>', "Phoenix's phoenix_lxc_configs.json (without --plan)")
    .option('--json', 'print the problems as JSON')
    .action(
      action((o: { plan?: string; vmConfigs?: string; lxcConfigs?: string; json?: boolean }) => runValidate(o, io)),
    );

  planOptions(
    program
      .command('plan')
      .description(
        'dry run on live state: every read and check, zero changes; prints what each phase would change (needs a worker)',
      ),
  )
    .option('--json', 'print the report as JSON')
    .action(action((o) => runPlan(o, io)));

  planOptions(
    program.command('start').description('start the migration; prints the run id and its Temporal UI address'),
  ).action(action((o) => runStart(o, io)));

  runRefOptions(program.command('status').description('phases, steps and what the run waits for'))
    .option('--json', 'machine-readable')
    .action(action((o) => runStatus(o, io)));

  runRefOptions(
    program.command('watch').description('live view until the run ends (exit 0/1) or waits for a person (exit 3)'),
  )
    .option('--until-done', 'keep watching through waits for a person')
    .addOption(new Option('--interval <ms>', 'refresh interval').default('1000'))
    .action(
      action((o: Record<string, string | boolean | undefined>) =>
        runWatch({ ...o, intervalMs: Number(o.interval), untilDone: !!o.untilDone }, io),
      ),
    );

  const answers: [AnswerCommand, string][] = [
    [
      'confirm-portainer',
      'after deploying the Qdrant stack in Portainer: the run checks it and answers accepted or why not',
    ],
    ['approve-decommission', 'approve deleting the listed legacy containers'],
    ['retry-verification', 'after a failed verification (gateway rolled back): redo cutover and verification'],
    ['abort', 'stop while the run waits for a person: gateway restored if changed, VMs kept, nothing deleted'],
    ['reindex-done', '(reindex data mode) the producers have re-indexed into the new Qdrant'],
  ];
  for (const [name, description] of answers) {
    runRefOptions(program.command(name).description(description))
      .option('--by <name>', 'who answers (default: $USER)')
      .option('--note <text>', 'a note kept in the history and report')
      .action(action((o) => runAnswer(name, o, io)));
  }

  runRefOptions(
    program.command('cancel').description('cancel the run (behaves like abort: gateway restored, nothing deleted)'),
  ).action(action((o) => runCancel(o, io)));

  runRefOptions(program.command('history').description("export the run's event history (for replay tests or support)"))
    .requiredOption('--export <file>', 'where to write the JSON history')
    .action(action((o) => runHistoryExport(o, io)));

  program
    .command('worker')
    .description('run a worker: the process that executes the migration (secrets come from its environment)')
    .option('--profile <name>', 'temporal.toml profile')
    .option('--address <host:port>', 'Temporal frontend')
    .option('--namespace <ns>', 'Temporal namespace')
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port (or PHOENIX_METRICS_PORT)')
    .action(
      action(async (o: { profile?: string; address?: string; namespace?: string; metricsPort?: string }) => {
        const { runWorker } = await import('../worker');
        try {
          await runWorker({ ...o, metricsPort: o.metricsPort ? Number(o.metricsPort) : undefined });
        } catch (err) {
          // The native connection's error is a multi-line Rust debug dump: say it in one line, with exit 6.
          if ((err as Error)?.name === 'TransportError') {
            const address = loadTemporalTarget(o).address;
            const reason = /connection refused/i.test((err as Error).message)
              ? 'connection refused'
              : 'transport error';
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
