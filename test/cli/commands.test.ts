/**
 * Every command of `phoenix-migrate`, run in-process through `main()` against a throwaway world and the shared real
 * Temporal dev server: success and error paths, exit codes as the README's table says, and what the operator reads.
 *
 * The world's worker polls the CLI's own task queue ('phoenix-migrate'), so only this file may run such a worker:
 * the steps below run in order, one run at a time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { ExitCode } from '../../src/cli/io';
import { selfCommand } from '../../src/cli/self';
import { TASK_QUEUE } from '../../src/temporal/connection';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import { requireOrSkip } from '../harness/tools';
import { cli, STACK_TRACE, testAddress, type CliResult } from './support';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

const COMMANDS = [
  'validate',
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
  'worker',
  'gateway-diff',
  'gateway-refs',
  'lab',
];

const SITE = `upstream qdrant_service {
    server 10.0.0.152:6333;
}

upstream embedding_service {
    server 10.0.0.150:8000 max_fails=3;
}

server {
    listen 80;
    location /qdrant/ { proxy_pass http://qdrant_service/; }
}
`;

/** Whatever went wrong, the operator never reads a stack trace. */
function expectClean(r: CliResult): void {
  expect(r.all).not.toMatch(STACK_TRACE);
}

describe('phoenix-migrate: offline commands', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phoenix-cli-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it.each(COMMANDS)('%s --help exits 0 and shows usage', async (command) => {
    const r = await cli(command, '--help');
    expect(r.code).toBe(ExitCode.ok);
    expect(r.out).toMatch(new RegExp(`Usage: phoenix-migrate ${command}`));
  });

  it('--help of the program and of `lab deploy-stack` exit 0', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(ExitCode.ok);
    for (const c of COMMANDS) expect(top.out).toContain(c);
    expect((await cli('lab', 'deploy-stack', '--help')).code).toBe(ExitCode.ok);
  });

  it('an unknown command or option, or a missing required option, is bad input (exit 2)', async () => {
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(ExitCode.badInput);
    expect(unknown.err).toMatch(/unknown command 'frobnicate'/);
    const badOpt = await cli('status', '--bogus');
    expect(badOpt.code).toBe(ExitCode.badInput);
    expect(badOpt.err).toMatch(/unknown option '--bogus'/);
    const missing = await cli('start');
    expect(missing.code).toBe(ExitCode.badInput);
    expect(missing.err).toMatch(/required option '--plan <file>' not specified/);
    const noRun = await cli('status');
    expect(noRun.code).toBe(ExitCode.badInput);
    expect(noRun.err).toMatch(/which run\? no --id or --plan given/);
  });

  it('validate without --plan, or with only one Phoenix config, is bad input', async () => {
    for (const args of [[], ['--vm-configs', 'x.json']]) {
      const r = await cli('validate', ...args);
      expect(r.code).toBe(ExitCode.badInput);
      expect(r.err).toMatch(
        /validate needs --plan <file>, --phoenix-dir <dir>, or both --vm-configs <file> and --lxc-configs <file>/,
      );
    }
  });

  it('validate --vm-configs/--lxc-configs: the shipped examples pass; a broken one lists its problems with file and JSON path', async () => {
    const vm = path.resolve('examples/phoenix/etc/phoenix_vm_configs.json');
    const lxc = path.resolve('examples/phoenix/etc/phoenix_lxc_configs.json');
    const ok = await cli('validate', '--vm-configs', vm, '--lxc-configs', lxc);
    expect(ok.code).toBe(ExitCode.ok);
    expect(ok.out).toMatch(/Phoenix configs are valid: \d+ VMs, \d+ containers/);

    const broken = JSON.parse(fs.readFileSync(lxc, 'utf8'));
    broken.lxc_configs['101'].network_config.ip = '10.0.0.300/24';
    const brokenFile = path.join(tmp, 'lxc.json');
    fs.writeFileSync(brokenFile, JSON.stringify(broken));
    const bad = await cli('validate', '--vm-configs', vm, '--lxc-configs', brokenFile);
    expect(bad.code).toBe(ExitCode.badInput);
    expect(bad.err).toContain(`${brokenFile} $.lxc_configs["101"].network_config.ip`);
    expect(bad.err).toMatch(/nothing was changed/);

    const json = await cli('validate', '--vm-configs', vm, '--lxc-configs', brokenFile, '--json');
    expect(json.code).toBe(ExitCode.badInput);
    const parsed = JSON.parse(json.out) as { ok: boolean; problems: { path: string }[] };
    expect(parsed.ok).toBe(false);
    expect(parsed.problems.map((p) => p.path)).toContain('$.lxc_configs["101"].network_config.ip');
    expectClean(bad);
  });

  it('validate --plan: the shipped plan is valid and the resolution is printed', async () => {
    const r = await cli('validate', '--plan', 'plans/qdrant-to-dr-phoenix.json');
    expect(r.code).toBe(ExitCode.ok);
    expect(r.out).toMatch(/plan qdrant-to-dr-phoenix is valid \(digest [0-9a-f]{64}\)/);
    expect(r.out).toMatch(/create VM 1002 Dr-Phoenix from 9000/);
    expect(r.out).toMatch(/gateway CT 101 .*qdrant_service → 10\.0\.0\.102:6333/);
  });

  it('gateway-diff: prints the cutover diff; says when nothing would change; names the file on errors', async () => {
    const site = path.join(tmp, 'site.conf');
    fs.writeFileSync(site, SITE);
    const diff = await cli(
      'gateway-diff',
      '--file',
      site,
      '--upstream',
      'qdrant_service',
      '--server',
      '10.0.0.102:6333',
      '--server',
      '10.0.0.103:6333',
    );
    expect(diff.code).toBe(ExitCode.ok);
    expect(diff.out).toMatch(/^-\s+server 10\.0\.0\.152:6333;$/m);
    expect(diff.out).toMatch(/^\+\s+server 10\.0\.0\.102:6333;$/m);
    expect(diff.out).toMatch(/^\+\s+server 10\.0\.0\.103:6333;$/m);
    expect(fs.readFileSync(site, 'utf8')).toBe(SITE); // offline: the file is only read

    const same = await cli(
      'gateway-diff',
      '--file',
      site,
      '--upstream',
      'qdrant_service',
      '--server',
      '10.0.0.152:6333',
    );
    expect(same.code).toBe(ExitCode.ok);
    expect(same.out).toMatch(/already points at 10\.0\.0\.152:6333: the cutover would change nothing/);

    const noUpstream = await cli('gateway-diff', '--file', site, '--upstream', 'nope', '--server', '10.0.0.102:6333');
    expect(noUpstream.code).toBe(ExitCode.badInput);
    expect(noUpstream.err).toContain(site);
    expect(noUpstream.err).toMatch(/nope/);

    const missing = await cli(
      'gateway-diff',
      '--file',
      path.join(tmp, 'absent.conf'),
      '--upstream',
      'qdrant_service',
      '--server',
      '10.0.0.102:6333',
    );
    expect(missing.code).toBe(ExitCode.badInput);
    expect(missing.err).toMatch(/cannot read .*absent\.conf: ENOENT/);

    const noServer = await cli('gateway-diff', '--file', site, '--upstream', 'qdrant_service');
    expect(noServer.code).toBe(ExitCode.badInput);
    for (const r of [noUpstream, missing, noServer]) expectClean(r);
  });

  it('gateway-refs: lists upstreams, filters by IP, JSON; errors name the file', async () => {
    const site = path.join(tmp, 'refs.conf');
    fs.writeFileSync(site, SITE);
    const all = await cli('gateway-refs', '--file', site);
    expect(all.code).toBe(ExitCode.ok);
    expect(all.out).toMatch(/^qdrant_service\s+line 1\s+10\.0\.0\.152:6333$/m);
    expect(all.out).toMatch(/^embedding_service\s+line 5\s+10\.0\.0\.150:8000 max_fails=3$/m);

    const filtered = await cli('gateway-refs', '--file', site, '--ip', '10.0.0.150');
    expect(filtered.out).toMatch(/embedding_service/);
    expect(filtered.out).not.toMatch(/qdrant_service/);
    const none = await cli('gateway-refs', '--file', site, '--ip', '10.0.0.99');
    expect(none.code).toBe(ExitCode.ok);
    expect(none.out).toMatch(/no upstream in .* points at 10\.0\.0\.99/);

    const json = await cli('gateway-refs', '--file', site, '--json');
    expect(json.code).toBe(ExitCode.ok);
    expect((JSON.parse(json.out) as { name: string }[]).map((u) => u.name)).toEqual([
      'qdrant_service',
      'embedding_service',
    ]);

    const empty = path.join(tmp, 'empty.conf');
    fs.writeFileSync(empty, 'server { listen 80; }\n');
    expect((await cli('gateway-refs', '--file', empty)).out).toMatch(/defines no upstreams/);

    const dir = await cli('gateway-refs', '--file', tmp);
    expect(dir.code).toBe(ExitCode.badInput);
    expect(dir.err).toMatch(/cannot read .*: EISDIR/);
    const unbalanced = path.join(tmp, 'unbalanced.conf');
    fs.writeFileSync(unbalanced, 'upstream a {\n server 1.2.3.4:80;\n');
    const bad = await cli('gateway-refs', '--file', unbalanced);
    expect(bad.code).toBe(ExitCode.badInput);
    expect(bad.err).toContain(unbalanced);
    for (const r of [dir, bad]) expectClean(r);
  });

  it('lab deploy-stack without a running lab: exit 4 and the hint to start one', async () => {
    const r = await cli('lab', 'deploy-stack', '--dir', path.join(tmp, 'no-lab'));
    expect(r.code).toBe(ExitCode.notFound);
    expect(r.err).toMatch(/no lab is running in .*no-lab/);
    expect(r.err).toMatch(/hint: start the lab first: npm run lab/);
  });

  it('lab with bad options is bad input, before anything starts', async () => {
    const r = await cli('lab', '--dir', path.join(tmp, 'lab'), '--portainer-mode', 'carrier-pigeon');
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.err).toMatch(
      /option '--portainer-mode <mode>' argument 'carrier-pigeon' is invalid. Allowed choices are manual, api/,
    );
    expect(fs.existsSync(path.join(tmp, 'lab'))).toBe(false);
  });

  it('Temporal unreachable (127.0.0.1:1): start exits 6 with a hint (run commands share the same connect)', async () => {
    // One case only: the client waits out its 5 s connect timeout before giving up.
    const start = await cli('start', '--plan', 'plans/qdrant-to-dr-phoenix.json', '--address', '127.0.0.1:1');
    expect(start.code).toBe(ExitCode.unavailable);
    expect(start.err).toMatch(/^phoenix-migrate: cannot reach the Temporal server at 127\.0\.0\.1:1/m);
    expect(start.err).toMatch(/^hint: start one .*--address/m);
    expectClean(start);
  });

  it('worker with an unreachable --address: exit 6 with one clear line and a hint', async () => {
    const r = await cli('worker', '--address', '127.0.0.1:1');
    expect(r.code).toBe(ExitCode.unavailable);
    const [first, ...rest] = r.err.split('\n').filter((l) => l.trim() !== '');
    expect(first).toMatch(/^phoenix-migrate: cannot reach the Temporal server at 127\.0\.0\.1:1/);
    expect(rest).toEqual([expect.stringMatching(/^hint: /)]);
  });
});

describeIf('phoenix-migrate: run commands against a world', () => {
  let mw: MigrationWorld;
  let address: string;
  let planPath: string;
  let planName: string;
  let workflowId: string;
  const at = () => ['--address', address];

  beforeAll(async () => {
    address = testAddress();
    mw = await startMigrationWorld({ taskQueue: TASK_QUEUE });
    planPath = mw.world.planPath;
    planName = mw.world.plan.name;
    workflowId = `migration-${planName}`;
  }, 60_000);
  afterAll(async () => {
    await mw?.close();
  });

  async function untilStatus(
    pred: (s: { phase?: string; waitingFor?: { what: string } }) => boolean,
    timeoutMs = 40_000,
    plan = planPath,
  ): Promise<CliResult> {
    const deadline = Date.now() + timeoutMs;
    let last: CliResult | undefined;
    while (Date.now() < deadline) {
      last = await cli('status', '--plan', plan, '--json', ...at());
      const snap = JSON.parse(last.out) as { status?: { phase?: string; waitingFor?: { what: string } } };
      if (snap.status && pred(snap.status)) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`status never matched; last: ${last?.all}`);
  }

  it('unknown run: status, answers, cancel and history exit 4 "no run"', async () => {
    for (const command of ['status', 'watch', 'confirm-portainer', 'approve-decommission', 'cancel']) {
      const r = await cli(command, '--id', 'migration-no-such-run', ...at());
      expect(r.code).toBe(ExitCode.notFound);
      expect(r.err).toMatch(/no run migration-no-such-run on .* \(namespace default\)/);
      // Hints are commands that work as printed: this CLI as invoked here, with the server it was pointed at.
      expect(r.err).toContain(`hint: start one with: ${selfCommand()} start --plan FILE --address ${address}`);
    }
    const h = await cli(
      'history',
      '--id',
      'migration-no-such-run',
      '--export',
      path.join(mw.world.dir, 'h.json'),
      ...at(),
    );
    expect(h.code).toBe(ExitCode.notFound);
    expect(fs.existsSync(path.join(mw.world.dir, 'h.json'))).toBe(false);
  });

  it('start with an invalid plan: exit 2, every problem listed, nothing started', async () => {
    const bad = JSON.parse(fs.readFileSync(planPath, 'utf8'));
    bad.gateway.upstream = 'qdrant service';
    bad.durations.soak = 'forever';
    const badPath = path.join(path.dirname(planPath), 'bad-plan.json');
    fs.writeFileSync(badPath, JSON.stringify(bad));
    const r = await cli('start', '--plan', badPath, ...at());
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.err).toMatch(/\$\.gateway\.upstream/);
    expect(r.err).toMatch(/\$\.durations\.soak/);
    expect(r.err).toMatch(/2 error\(s\)/);
    await expect(mw.t.client.workflow.getHandle(workflowId).describe()).rejects.toMatchObject({
      name: 'WorkflowNotFoundError',
    });
    const status = await cli('status', '--plan', badPath, ...at());
    expect(status.code).toBe(ExitCode.badInput);
    expect(status.err).toMatch(/the plan .*bad-plan\.json is not valid/);
  });

  it('plan (dry run): prints the changes per phase, exit 0, and no mutating Proxmox call', async () => {
    const before = mw.world.proxmox.audit().length;
    const r = await cli('plan', '--plan', planPath, ...at());
    expect(r.err).toBe('');
    expect(r.code).toBe(ExitCode.ok);
    expect(r.out).toMatch(new RegExp(`Dry run of plan ${planName} \\(digest [0-9a-f]{12}\\): no changes were made`));
    for (const phase of [
      '1. Declarative Configuration',
      '2. Orchestrator and File Preparation',
      '3. Infrastructure Provisioning',
      '4. Application Deployment and Cutover',
      '5. Verification and Decommissioning',
    ]) {
      expect(r.out).toContain(phase);
    }
    expect(r.out).toMatch(/Changes a real run would make:/);
    expect(r.out).toMatch(/1002/);
    const calls = mw.world.proxmox.audit().slice(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.method !== 'GET')).toEqual([]);
    expect(mw.world.proxmox.guest(1002)).toBeUndefined();
  }, 40_000);

  /** A copy of the world's plan under another name: another run id, same world. */
  function planNamed(suffix: string): { file: string; id: string } {
    const plan = JSON.parse(fs.readFileSync(planPath, 'utf8'));
    plan.name = `${planName}-${suffix}`;
    const file = path.join(path.dirname(planPath), `plan-${suffix}.json`);
    fs.writeFileSync(file, JSON.stringify(plan));
    return { file, id: `migration-${plan.name}` };
  }

  it('abort while the run waits for the Portainer deploy: exit 0, the run ends aborted (status exit 1), nothing deleted', async () => {
    const { file, id } = planNamed('a');
    expect((await cli('start', '--plan', file, ...at())).code).toBe(ExitCode.ok);
    await untilStatus((s) => s.waitingFor?.what === 'portainer-deploy', 40_000, file);
    const r = await cli('abort', '--plan', file, '--by', 'tester', '--note', 'not today', ...at());
    expect(r.err).toBe('');
    expect(r.code).toBe(ExitCode.ok);
    const report = (await mw.t.client.workflow.getHandle(id).result()) as { outcome: string };
    expect(report.outcome).toBe('aborted');
    const status = await cli('status', '--id', id, ...at());
    expect(status.code).toBe(ExitCode.failed);
    expect(status.out).toMatch(/outcome: aborted/);
    for (const ctid of [950, 951, 952]) expect(mw.world.proxmox.guest(ctid)).toBeDefined();
  }, 60_000);

  it('start: prints the run id and its Temporal UI URL; a second start while open is refused (exit 5)', async () => {
    const r = await cli('start', '--plan', planPath, ...at());
    expect(r.code).toBe(ExitCode.ok);
    expect(r.out).toContain(`started ${workflowId}`);
    const port = Number(address.split(':').pop());
    expect(r.out).toContain(
      `Temporal UI: http://${address.replace(/:\d+$/, '')}:${port + 1000}/namespaces/default/workflows/${workflowId}`,
    );

    const again = await cli('start', '--plan', planPath, ...at());
    expect(again.code).toBe(ExitCode.conflict);
    expect(again.err).toMatch(new RegExp(`a run of plan ${planName} is already open: ${workflowId}`));
    expect(again.err).toContain(`hint: follow it with: ${selfCommand()} watch --id ${workflowId} --address ${address}`);
  });

  it('status waits for the Portainer deploy: exit 3, JSON with phase, steps and waitingFor; watch exits 3 too', async () => {
    const r = await untilStatus((s) => s.waitingFor?.what === 'portainer-deploy');
    expect(r.code).toBe(ExitCode.waitingForPerson);
    const snap = JSON.parse(r.out) as {
      workflowId: string;
      state: string;
      status: {
        phase: string;
        steps: { name: string; status: string }[];
        waitingFor: { what: string };
      };
      continueWith: string;
    };
    expect(snap).toMatchObject({ workflowId, state: 'RUNNING' });
    expect(snap.status.phase).toBe('Application Deployment and Cutover');
    expect(snap.status.steps.length).toBeGreaterThan(3);
    expect(snap.status.steps.some((s) => s.status === 'done')).toBe(true);
    expect(snap.continueWith).toMatch(/phoenix-migrate confirm-portainer/);

    const text = await cli('status', '--id', workflowId, ...at());
    expect(text.code).toBe(ExitCode.waitingForPerson);
    expect(text.out).toMatch(/WAITING FOR YOU: /);
    expect(text.out).toContain(`then run: ${selfCommand()} confirm-portainer --id ${workflowId} --address ${address}`);

    const watch = await cli('watch', '--plan', planPath, '--interval', '200', ...at());
    expect(watch.code).toBe(ExitCode.waitingForPerson);
    expect(watch.out).toMatch(/WAITING FOR YOU/);
  }, 60_000);

  it('answers out of turn are refused with the reason (exit 5); confirm-portainer before the deploy is rejected', async () => {
    const early = await cli('confirm-portainer', '--plan', planPath, '--by', 'tester', ...at());
    expect(early.code).toBe(ExitCode.conflict);
    expect(early.err).toMatch(/^rejected: .*does not answer ready/m);
    for (const command of ['approve-decommission', 'retry-verification', 'reindex-done']) {
      const r = await cli(command, '--plan', planPath, '--by', 'tester', ...at());
      expect(r.code).toBe(ExitCode.conflict);
      expect(r.err).toMatch(/^rejected: /m);
      expectClean(r);
    }
    // Still waiting: a refused answer changes nothing.
    expect((await cli('status', '--plan', planPath, ...at())).code).toBe(ExitCode.waitingForPerson);
  }, 30_000);

  it('after the deploy: confirm-portainer --note is accepted, approve-decommission ok, the run completes (status 0)', async () => {
    await mw.world.deployStack();
    const confirm = await cli(
      'confirm-portainer',
      '--plan',
      planPath,
      '--by',
      'tester',
      '--note',
      'deployed v1.12',
      ...at(),
    );
    expect(confirm.err).toBe('');
    expect(confirm.code).toBe(ExitCode.ok);
    expect(confirm.out).toBe('accepted');

    await untilStatus((s) => s.waitingFor?.what === 'decommission-approval');
    const approve = await cli('approve-decommission', '--id', workflowId, '--by', 'tester', ...at());
    expect(approve.code).toBe(ExitCode.ok);
    expect(approve.out).toMatch(/^approved: delete CT/);

    const watch = await cli('watch', '--id', workflowId, '--interval', '200', ...at());
    expect(watch.code).toBe(ExitCode.ok);
    expect(watch.out).toMatch(/outcome: completed/);
    const status = await cli('status', '--plan', planPath, '--json', ...at());
    expect(status.code).toBe(ExitCode.ok);
    const snap = JSON.parse(status.out) as {
      state: string;
      report: { outcome: string; operator: { by: string; note?: string }[] };
    };
    expect(snap.state).toBe('COMPLETED');
    expect(snap.report.outcome).toBe('completed');
    expect(snap.report.operator).toEqual(
      expect.arrayContaining([expect.objectContaining({ by: 'tester', note: 'deployed v1.12' })]),
    );

    const again = await cli('approve-decommission', '--id', workflowId, '--by', 'tester', ...at());
    expect(again.code).toBe(ExitCode.conflict);
    expect(again.err).toMatch(/^rejected: /m);
    const abort = await cli('abort', '--id', workflowId, ...at());
    expect(abort.code).toBe(ExitCode.conflict);
  }, 60_000);

  it('history --export writes a JSON history that historyFromJSON parses', async () => {
    const file = path.join(mw.world.dir, 'history.json');
    const r = await cli('history', '--plan', planPath, '--export', file, ...at());
    expect({ code: r.code, err: r.err }).toEqual({ code: ExitCode.ok, err: '' });
    expect(r.out).toMatch(
      new RegExp(`wrote \\d+ events of ${workflowId} to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    // historyFromJSON, as the SDK has it.
    const history = historyFromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
    expect(history.events?.length).toBeGreaterThan(10);
    expect(history.events?.[0].workflowExecutionStartedEventAttributes?.workflowType?.name).toBe('migration');
    // …and it is a real history: the current workflow code replays it without non-determinism.
    await Worker.runReplayHistory({ workflowBundle: { codePath: mw.t.workflowBundlePath } }, history, workflowId);

    const nowhere = await cli(
      'history',
      '--plan',
      planPath,
      '--export',
      path.join(mw.world.dir, 'no-such-dir', 'h.json'),
      ...at(),
    );
    expect(nowhere.code).toBe(ExitCode.failed);
    expect(nowhere.err).toMatch(/ENOENT/);
    expectClean(nowhere);
  });

  it('cancel on a fresh run: exit 0, and the run ends cancelled', async () => {
    const { file: cancelPlan, id } = planNamed('c');
    expect((await cli('start', '--plan', cancelPlan, ...at())).code).toBe(ExitCode.ok);
    const r = await cli('cancel', '--plan', cancelPlan, ...at());
    expect(r.code).toBe(ExitCode.ok);
    expect(r.out).toMatch(new RegExp(`cancel requested for ${id}`));

    const handle = mw.t.client.workflow.getHandle(id);
    await expect(handle.result()).rejects.toMatchObject({
      name: 'WorkflowFailedError',
      cause: { name: 'CancelledFailure' },
    });
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    const status = await cli('status', '--plan', cancelPlan, ...at());
    expect(status.code).toBe(ExitCode.failed);
    expect(status.out).toMatch(/CANCELLED/);
  }, 40_000);
});
