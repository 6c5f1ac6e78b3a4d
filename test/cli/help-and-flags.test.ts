/**
 * What --help teaches (required options, defaults, examples, exit codes, environment), --version, and flags that
 * would otherwise be ignored or misread: all offline, in-process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExitCode } from '../../src/cli/io';
import { cli } from './support';

const RUN_LEVEL = [
  'plan',
  'start',
  'status',
  'watch',
  'confirm-portainer',
  'approve-decommission',
  'retry-verification',
  'abort',
  'reindex-done',
  'cancel',
  'history',
  'validate',
  'worker',
];

describe('phoenix-migrate --help and flags', () => {
  let tmp: string;
  beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-help-'))));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await cli(flag);
      expect(r.code).toBe(ExitCode.ok);
      expect(r.out.trim()).toBe(pkg.version);
    }
  });

  it('the program help lists every exit code and the environment variables', async () => {
    const r = await cli('--help');
    for (const code of [0, 1, 2, 3, 4, 5, 6]) expect(r.out).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
    for (const v of [
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'PHOENIX_TASK_QUEUE',
      'PHOENIX_SSH_PUBLIC_KEY_FILE',
      'TEMPORAL_UI_URL',
    ])
      expect(r.out).toContain(v);
  });

  it.each(RUN_LEVEL)('%s --help: two examples of itself, and its exit codes', async (command) => {
    const r = await cli(command, '--help');
    const examples = r.out.split('Examples:\n')[1]?.split('\n\n')[0].split('\n') ?? [];
    expect(
      examples.filter((l) => l.includes(`phoenix-migrate ${command} `) || l.trim() === `phoenix-migrate ${command}`),
    ).toHaveLength(2);
    expect(r.out).toMatch(/Exit codes:\n {2}0 {2}/);
  });

  it('required options are marked, and defaults are shown one way — values and rules alike', async () => {
    // commander wraps at the terminal width: compare with whitespace flattened
    const help = async (...args: string[]) => (await cli(...args, '--help')).out.replace(/\s+/g, ' ');
    const start = await help('start');
    expect(start).toContain('--plan <file> the migration plan (required)');
    expect(start).toContain('--address <host:port> Temporal frontend (default: TEMPORAL_ADDRESS, else localhost:7233)');
    expect(await help('watch')).toContain('--interval <ms> refresh interval in milliseconds (default: 1000)');
    const lab = await help('lab');
    expect(lab).toContain('--dir <dir> where the lab keeps its world, db and logs (default: .lab)');
    expect(lab).toContain("(one of: none, snapshot, reindex; default: the plan's qdrant.data.mode)");
    expect(await help('history')).toContain('--export <file> where to write the JSON history (required)');
  });

  it('numeric flags are checked: watch --interval abc, worker --metrics-port 70000, PHOENIX_METRICS_PORT=abc → exit 2', async () => {
    const interval = await cli('watch', '--id', 'x', '--interval', 'abc');
    expect(interval.code).toBe(ExitCode.badInput);
    expect(interval.err).toMatch(/--interval must be a whole number from 100 to 3600000, got "abc"/);
    const port = await cli('worker', '--metrics-port', '70000');
    expect(port.code).toBe(ExitCode.badInput);
    expect(port.err).toMatch(/--metrics-port must be a whole number from 1 to 65535/);
    const before = process.env.PHOENIX_METRICS_PORT;
    process.env.PHOENIX_METRICS_PORT = 'abc';
    try {
      const fromEnv = await cli('worker', '--address', '127.0.0.1:1');
      expect(fromEnv.code).toBe(ExitCode.badInput);
      expect(fromEnv.err).toMatch(/PHOENIX_METRICS_PORT must be a whole number/);
    } finally {
      if (before === undefined) delete process.env.PHOENIX_METRICS_PORT;
      else process.env.PHOENIX_METRICS_PORT = before;
    }
  });

  it('PHOENIX_HEAP_GROWING_PERCENT=lots → exit 2, naming the variable and what to do', async () => {
    const before = process.env.PHOENIX_HEAP_GROWING_PERCENT;
    process.env.PHOENIX_HEAP_GROWING_PERCENT = 'lots';
    try {
      const r = await cli('worker', '--address', '127.0.0.1:1');
      expect(r.code).toBe(ExitCode.badInput);
      expect(r.err).toMatch(/PHOENIX_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000 \(got "lots"\)/);
      expect(r.err).toMatch(/fix PHOENIX_HEAP_GROWING_PERCENT in worker.env, or unset it/);
    } finally {
      if (before === undefined) delete process.env.PHOENIX_HEAP_GROWING_PERCENT;
      else process.env.PHOENIX_HEAP_GROWING_PERCENT = before;
    }
  });

  it('a flag that would be ignored is refused: validate --plan with --vm-configs', async () => {
    const r = await cli('validate', '--plan', 'plans/qdrant-to-dr-phoenix.json', '--vm-configs', 'x.json');
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.err).toMatch(/--vm-configs cannot be used with --plan: the plan names its Phoenix configs/);
  });

  it('--plan and --id naming different runs are refused (exit 2) instead of --plan being ignored', async () => {
    const r = await cli(
      'status',
      '--plan',
      'plans/qdrant-to-dr-phoenix.json',
      '--id',
      'migration-other',
      '--address',
      '127.0.0.1:1',
    );
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.err).toMatch(
      /--id migration-other and --plan plans\/qdrant-to-dr-phoenix\.json name different runs \(the plan's run is migration-qdrant-to-dr-phoenix\)/,
    );
  });

  it('lab --data-mode with an unknown mode is bad input, naming the choices', async () => {
    const r = await cli('lab', '--data-mode', 'copy');
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.err).toMatch(/Allowed choices are none, snapshot, reindex/);
  });

  it('a --profile that does not exist is bad input (exit 2), for run commands and the worker', async () => {
    const toml = path.join(tmp, 'temporal.toml');
    fs.writeFileSync(toml, '[profile.default]\naddress = "127.0.0.1:1"\n');
    const before = process.env.TEMPORAL_CONFIG_FILE;
    process.env.TEMPORAL_CONFIG_FILE = toml;
    try {
      for (const args of [['status', '--id', 'x'], ['worker']]) {
        const r = await cli(...args, '--profile', 'nope');
        expect(r.code).toBe(ExitCode.badInput);
        expect(r.err).toMatch(/Profile 'nope' not found/);
        expect(r.err).toMatch(/hint: check --profile/);
      }
    } finally {
      if (before === undefined) delete process.env.TEMPORAL_CONFIG_FILE;
      else process.env.TEMPORAL_CONFIG_FILE = before;
    }
  });
});
