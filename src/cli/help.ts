/**
 * What `--help` teaches beyond the options: one way of showing required options and defaults for every command,
 * examples, exit codes and the environment. The docs test checks every example here against the commands too.
 */
import { InvalidArgumentError, type Command, type Help, type Option } from 'commander';
import { ExitCode } from './io';

/** `(required)`, `(default: X)` — the same words everywhere, whether the default is a value or a rule. */
export function optionDescription(option: Option): string {
  const extra: string[] = [];
  if (option.mandatory) extra.push('required');
  if (option.argChoices) extra.push(`one of: ${option.argChoices.join(', ')}`);
  const shown =
    option.defaultValueDescription ??
    (option.defaultValue !== undefined && typeof option.defaultValue !== 'boolean'
      ? String(option.defaultValue)
      : undefined);
  if (shown !== undefined) extra.push(`default: ${shown}`);
  return extra.length ? `${option.description} (${extra.join('; ')})` : option.description;
}

export const helpConfiguration: Partial<Help> = { optionDescription, sortSubcommands: false };

/** What each exit code means (the README's table says the same; the docs test holds them together). */
export const EXIT_CODE_MEANINGS: Record<number, string> = {
  [ExitCode.ok]: 'success (watch/status: the run completed, or runs and waits for nobody)',
  [ExitCode.failed]: "the run (or the command's operation) failed",
  [ExitCode.badInput]: 'bad input: invalid plan, config or arguments; every problem listed, nothing started or written',
  [ExitCode.waitingForPerson]: 'the run waits for a person (watch, status)',
  [ExitCode.notFound]: 'no such run',
  [ExitCode.conflict]: 'refused: a run of this plan is already open, or the run rejected the answer',
  [ExitCode.unavailable]: 'Temporal is not reachable, or no worker took an answer (the hint says what to do)',
};

const ENVIRONMENT = [
  ['TEMPORAL_ADDRESS', 'the Temporal frontend (default: localhost:7233)'],
  ['TEMPORAL_NAMESPACE', 'the namespace (default: default)'],
  ['TEMPORAL_API_KEY, TEMPORAL_TLS*', 'credentials and TLS, read like the `temporal` CLI reads them'],
  ['TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE', 'a temporal.toml profile, and where the file is'],
  ['TEMPORAL_UI_URL', 'the Web UI in printed links (default: the dev server UI, frontend port + 1000)'],
  ['PHOENIX_TASK_QUEUE', 'the task queue; start and worker must agree (default: phoenix-migrate)'],
  [
    'PHOENIX_SSH_PUBLIC_KEY_FILE',
    "read by validate/plan/start (the shipped plan's cloudInit.sshPublicKeyFileEnv): the public key the new VMs get",
  ],
  ['USER', 'who answers, unless --by is given'],
  ['DEBUG=phoenix-migrate', 'stack traces of unexpected errors'],
  [
    'worker only',
    'PHOENIX_METRICS_PORT, PHOENIX_LOG_LEVEL, PHOENIX_ACTIVITY_SLOTS, PHOENIX_WORKFLOW_SLOTS, PHOENIX_HEAP_GROWING_PERCENT, and the secrets the plan names (deploy/worker.env.example)',
  ],
];

function table(rows: [string, string][], indent = 2): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${' '.repeat(indent)}${k.padEnd(width)}  ${v}`).join('\n');
}

/** The program's own --help: exit codes and environment. */
export function programFooter(): string {
  return [
    '',
    'Exit codes:',
    table(Object.entries(EXIT_CODE_MEANINGS) as [string, string][]),
    '',
    'Environment:',
    table(ENVIRONMENT as [string, string][]),
    '',
    'Docs: README.md and docs/ in the package (docs/walkthrough.md for a real run).',
  ].join('\n');
}

/** A command's --help footer: examples, then the exit codes it returns. */
export function commandFooter(cmd: Command, examples: string[], codes: number[]): Command {
  return cmd.addHelpText('after', () =>
    [
      '',
      'Examples:',
      ...examples.map((e) => `  ${e}`),
      '',
      'Exit codes:',
      table(codes.map((c) => [String(c), EXIT_CODE_MEANINGS[c]])),
      '',
      'Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, … (see phoenix-migrate --help)',
    ].join('\n'),
  );
}

/** Argument parsers: a number flag that is not a number is bad input (exit 2), never a busy loop or a NaN. */
export function integerIn(min: number, max: number, what: string) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max)
      throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}, got "${value}".`);
    return Number(value);
  };
}
