/**
 * `phoenix-migrate lab …`: the one-machine lab (src/lab/lab.ts). `npm run lab` is `phoenix-migrate lab` after
 * making sure node_modules, the build and the Temporal CLI are there.
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { commandFooter } from './help';
import { CliError, ExitCode, type CliIo } from './io';
import { selfCommand } from './self';

const DEFAULT_DIR = '.lab';

export function runLabCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const lab = program
    .command('lab')
    .description(
      'the whole migration on this machine: simulators + real sshd/nginx on loopback, a Temporal dev server (UI :8233), a worker',
    )
    .option('--dir <dir>', 'where the lab keeps its world, db and logs', DEFAULT_DIR)
    .option('--auto-confirm', 'do the manual Portainer step, confirm and approve automatically; exit when the run ends')
    .option(
      '--report <file>',
      'write a JSON report of the run (status, phases, changes, gateway, decommission outcome per CT, kept, data, backups, logs)',
    )
    .option(
      '--faults <spec>',
      'faults as key=number: Proxmox simulator transient=0.2,lock=0.1,lost=0.1,latency=200,seed=7; backup-job=SECONDS (a scheduled backup job of the node starts just before the first backup of the run and runs that long); gateway-reload-noop=N (the first N nginx reloads exit 0 but nginx keeps its old config); gateway-new-dead=1 (the new Qdrant never answers through the gateway); guest-apt-fail=1 (apt-get fails inside the VMs; a share 0..1)',
    )
    .option('--reset', 'start the world over (otherwise an open run is resumed)')
    .addOption(
      new Option('--portainer-mode <mode>', 'manual: a person deploys the stack; api: the run does it')
        .choices(['manual', 'api'])
        .default(undefined, "the plan's portainer.mode"),
    )
    .addOption(
      new Option('--data-mode <mode>', 'Qdrant data: copy by snapshot before the cutover, or wait for re-indexing')
        .choices(['none', 'snapshot', 'reindex'])
        .default(undefined, "the plan's qdrant.data.mode"),
    )
    .addOption(
      new Option(
        '--provisioner <name>',
        "Phase 3 after the clone: native (our scripts in the VMs), phoenix-cli (a stand-in `phoenix create` on the lab's host) or none (readiness checks only)",
      )
        .choices(['native', 'phoenix-cli', 'none'])
        .default(undefined, "the plan's provisioner"),
    )
    .option(
      '--phoenix <dir>',
      'rehearse YOUR homelab: the world from this Phoenix checkout (read only; copied into the lab) and --plan instead of the shipped example',
    )
    .option(
      '--plan <file>',
      'with --phoenix: the plan to rehearse (e.g. written by phoenix-migrate init --phoenix-dir DIR)',
    )
    .option(
      '--gateway-dump <file>',
      "with --phoenix: `nginx -T` output taken on the gateway CT — the site it really serves (else the LXC 101 script's heredoc, else the committed site)",
    );
  commandFooter(
    lab,
    [
      'npm run lab   (= phoenix-migrate lab, after installing what is missing)',
      'phoenix-migrate lab --auto-confirm --reset --report out.json',
      'phoenix-migrate init --phoenix-dir ~/phoenix_hypervisor --legacy 950 --legacy 951 --legacy 952 --legacy 953 --adopt 1001 --volumes backup --out my-plan.json',
      'npm run lab -- --reset --phoenix ~/phoenix_hypervisor --plan my-plan.json --auto-confirm --report r.json',
      'npm run lab -- --reset --phoenix ~/phoenix_hypervisor --plan my-plan.json --gateway-dump lxc101-nginx-T.txt',
    ],
    [0, 1, 2],
  );
  lab.action(
    async (o: {
      dir: string;
      autoConfirm?: boolean;
      report?: string;
      faults?: string;
      reset?: boolean;
      portainerMode?: string;
      dataMode?: string;
      provisioner?: string;
      phoenix?: string;
      plan?: string;
      gatewayDump?: string;
    }) => {
      const { runLab, parseFaultSpec } = await import('../lab/lab');
      let faults;
      try {
        faults = o.faults ? parseFaultSpec(o.faults) : undefined;
      } catch (err) {
        throw new CliError((err as Error).message, 'e.g. --faults transient=0.2,lost=0.1', ExitCode.badInput);
      }
      if (!o.phoenix && (o.plan || o.gatewayDump))
        throw new CliError(
          `${o.plan ? '--plan' : '--gateway-dump'} belongs to a rehearsal`,
          'add --phoenix DIR (your Phoenix checkout)',
          ExitCode.badInput,
        );
      if (o.phoenix && !o.plan)
        throw new CliError(
          '--phoenix needs the plan to rehearse: --plan FILE',
          `write one from the checkout: ${selfCommand()} init --phoenix-dir ${o.phoenix} --legacy CTID… [--adopt VMID…] [--volumes backup|discard] --out plan.json`,
          ExitCode.badInput,
        );
      const temporalCli = process.env.TEMPORAL_CLI_PATH;
      if (!temporalCli)
        throw new CliError(
          'TEMPORAL_CLI_PATH is not set',
          'run the lab with `npm run lab` (it finds or installs the Temporal CLI)',
          ExitCode.badInput,
        );
      const { RehearsalInputError } = await import('../lab/rehearsal/site-source');
      const run = runLab({
        dir: path.resolve(o.dir),
        temporalCli,
        autoConfirm: o.autoConfirm,
        reportFile: o.report ? path.resolve(o.report) : undefined,
        faults,
        reset: o.reset,
        portainerMode: o.portainerMode as 'manual' | 'api' | undefined,
        dataMode: o.dataMode as 'none' | 'snapshot' | 'reindex' | undefined,
        provisioner: o.provisioner as 'native' | 'phoenix-cli' | 'none' | undefined,
        ...(o.phoenix
          ? {
              rehearsal: {
                phoenixDir: path.resolve(o.phoenix),
                planFile: path.resolve(o.plan!),
                ...(o.gatewayDump ? { gatewayDump: path.resolve(o.gatewayDump) } : {}),
              },
            }
          : {}),
        say: (l) => io.out(l),
      });
      try {
        setExit(await run);
      } catch (err) {
        if (err instanceof RehearsalInputError)
          throw new CliError(err.message, 'nothing was changed in the checkout', ExitCode.badInput);
        throw err;
      }
    },
  );

  lab
    .command('deploy-stack')
    .description("the manual Portainer step, in the running lab's world (what a person does in Portainer's UI)")
    .option('--dir <dir>', 'the lab directory', DEFAULT_DIR)
    .action(async (o: { dir: string }) => {
      const { labDeployStack } = await import('../lab/lab');
      // `lab` has a --dir of its own, and commander gives `lab deploy-stack --dir X` to it: take X from there.
      const dir = lab.getOptionValueSource('dir') === 'cli' ? (lab.opts() as { dir: string }).dir : o.dir;
      try {
        io.out(await labDeployStack(dir));
        io.out(
          `now confirm it:  ${selfCommand()} confirm-portainer --id migration-qdrant-to-dr-phoenix   (or --plan <the lab plan>)`,
        );
        setExit(ExitCode.ok);
      } catch (err) {
        throw new CliError((err as Error).message, 'start the lab first: npm run lab', ExitCode.notFound);
      }
    });
}
