/**
 * Phase 3 after the clone: make each VM what `phoenix create` makes of it. Host side, the VM's volume directory on
 * the NFS export; guest side, through the guest agent, each feature's shipped script as check → apply → verify, in
 * one guest command per feature (converge.sh).
 * Or, with the phoenix-cli provisioner, the operator's own `phoenix create <vmid>` on the host, then the same verify.
 *
 * Every step converges from live state: a retry (or a second run) finds finished features `already` done.
 */
import net from 'node:net';
import { ApplicationFailure } from '@temporalio/activity';
import { request } from 'undici';
import type {
  PortainerSettings,
  ProvisioningSettings,
  ProxmoxSettings,
  SshEndpoint,
  VmSpec,
} from '../config/resolved-plan';
import { dispatcherFor } from '../http/tls';
import { FailureType, type FailureTypeName } from '../failure-types';
import {
  CONVERGE_SCRIPT,
  cloudInitWaited,
  convergeArgv,
  convergeVerdict,
  parseConvergeReport,
  type ConvergePlan,
  type StepSeconds,
} from '../provisioning/converge';
import { guestLogFile, scriptSha256, type FeatureStep } from '../provisioning/features';
import {
  guestExecStart,
  guestExecPolls,
  guestExecStatus,
  guestFileRead,
  isRetryable,
  type GuestExecResult,
  type ProxmoxApi,
} from '../proxmox';
import { hostTarget, withSsh, type WorkerEnv } from '../remote';
import { resolveSecret } from '../secrets';
import { toActivityFailure, withFailureTranslation } from './failures';
import { carryInHeartbeats, heartbeat, heartbeatDetails } from './heartbeat';

export interface ProvisioningDeps {
  env: WorkerEnv;
  proxmoxFor(settings: ProxmoxSettings): ProxmoxApi;
  /** How long cloud-init may take after the first boot (default 15 min). */
  cloudInitTimeoutMs?: number;
  /** How long one feature's apply may take (default 20 min: apt over a slow mirror). */
  applyTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export type FeatureOutcome = 'applied' | 'already' | 'verified' | 'would-apply';

export interface ProvisionFeatureInput {
  proxmox: ProxmoxSettings;
  vm: Pick<VmSpec, 'vmid' | 'name' | 'node'>;
  step: FeatureStep;
  /** phoenix-cli: Phoenix did the work; only prove the result. */
  verifyOnly?: boolean;
  dryRun?: boolean;
  /** Worker-side proof that the service answers, after the in-guest verify. */
  probe?: { tcp?: string; https?: { url: string; tls: PortainerSettings['tls'] } };
  /** portainer_server: create the admin from this secret right after a fresh start. */
  portainerAdmin?: ProvisioningSettings['portainerAdmin'] & { url: string; tls: PortainerSettings['tls'] };
}

export interface ProvisionFeaturesInput extends Pick<
  ProvisionFeatureInput,
  'proxmox' | 'vm' | 'verifyOnly' | 'dryRun'
> {
  /** In the order they run (Phoenix's: `featuresFor`), each with its worker-side probe and admin, as for one. */
  features: Pick<ProvisionFeatureInput, 'step' | 'probe' | 'portainerAdmin'>[];
}

export interface ProvisionedFeature extends ProvisionFeatureResult {
  startedAt: string;
  endedAt: string;
}

export interface ProvisionFeaturesResult {
  features: ProvisionedFeature[];
}

export interface ProvisionFeatureResult {
  vmid: number;
  name: string;
  outcome: FeatureOutcome;
  /** sha256 of the script run (the lab's event log names the same). */
  sha256: string;
  detail: string;
  /** Something the person must do now (e.g. create Portainer's admin before it locks itself). */
  notice?: string;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const TAIL_LINES = 20;

function tailOf(text: string, lines = TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function createProvisioningActivities(deps: ProvisioningDeps) {
  const sleep = deps.sleep ?? realSleep;

  /**
   * Run argv in the guest; while it runs for longer than a couple of seconds, the log file's tail goes into heartbeat
   * details. The tail is read only when asked for (a failure's message, the verify's detail): a command that ends at
   * once costs no file read — and a feature's log does not exist yet before its first command writes it.
   */
  async function runInGuest(
    api: ProxmoxApi,
    vm: ProvisionFeatureInput['vm'],
    argv: string[],
    opts: { what: string; timeoutMs: number; logFile?: string },
  ): Promise<GuestExecResult & { readTail(): Promise<string> }> {
    const pid = await guestExecStart(api, vm.node, vm.vmid, argv);
    const startedAt = Date.now();
    const deadline = startedAt + opts.timeoutMs;
    const readTail = async () =>
      opts.logFile
        ? tailOf((await guestFileRead(api, vm.node, vm.vmid, opts.logFile).catch(() => ({ content: '' }))).content)
        : '';
    let lastTailAt = startedAt;
    for (const interval of guestExecPolls()) {
      await sleep(interval);
      const done = await guestExecStatus(api, vm.node, vm.vmid, pid);
      if (done) return { ...done, readTail };
      if (Date.now() >= deadline)
        throw ApplicationFailure.create({
          type: FailureType.FeatureScriptFailed,
          nonRetryable: true,
          message: `${opts.what} in VM ${vm.vmid} did not finish within ${Math.round(opts.timeoutMs / 1000)} s (guest agent pid ${pid}); last lines of ${opts.logFile ?? 'its output'}:\n${await readTail()}`,
        });
      if (Date.now() - lastTailAt > 2_000) {
        lastTailAt = Date.now();
        heartbeat({ what: opts.what, vmid: vm.vmid, running: true, tail: await readTail() });
      } else heartbeat({ what: opts.what, vmid: vm.vmid, running: true });
    }
    throw new Error('unreachable: guestExecPolls() does not end');
  }

  /** One feature (its own activity in runs recorded before `provisionFeatures`). */
  function provisionFeature(input: ProvisionFeatureInput): Promise<ProvisionFeatureResult> {
    return convergeFeature(deps.proxmoxFor(input.proxmox), input, { cloudInitWaited: false });
  }

  /**
   * A VM's features in order, in one activity: each check → apply → verify as before, but without a workflow task
   * between two features (a fleet of 100 runs ran a fifth fewer: BENCHMARKS.md), and cloud-init is waited for once —
   * it does not run again until the VM reboots, which nothing here does. A retry resumes after
   * the features its earlier attempt reported done in its heartbeats (their outcome, e.g. `applied`, stays theirs);
   * a feature it had not reported done is checked again, which converges. A feature that fails names the ones done
   * before it in its failure's details (`featuresDone`), for the run's report.
   */
  async function provisionFeatures(input: ProvisionFeaturesInput): Promise<ProvisionFeaturesResult> {
    const api = deps.proxmoxFor(input.proxmox);
    const earlier = heartbeatDetails<{ featuresDone?: ProvisionedFeature[] }>()?.featuresDone ?? [];
    const done: ProvisionedFeature[] = [];
    for (const f of earlier) if (input.features[done.length]?.step.name === f.name) done.push(f);
    const shared = { cloudInitWaited: false };
    carryInHeartbeats({ featuresDone: [...done] });
    for (const f of input.features.slice(done.length)) {
      const startedAt = new Date().toISOString();
      try {
        const result = await convergeFeature(
          api,
          { proxmox: input.proxmox, vm: input.vm, verifyOnly: input.verifyOnly, dryRun: input.dryRun, ...f },
          shared,
        );
        done.push({ ...result, startedAt, endedAt: new Date().toISOString() });
        carryInHeartbeats({ featuresDone: [...done] });
      } catch (err) {
        const failure = toActivityFailure(err);
        if (!(failure instanceof ApplicationFailure)) throw failure;
        throw ApplicationFailure.create({
          type: failure.type ?? undefined,
          nonRetryable: failure.nonRetryable ?? undefined,
          message: failure.message,
          cause: failure.cause,
          details: [{ ...(failure.details?.[0] as object | undefined), featuresDone: done }],
        });
      }
    }
    return { features: done };
  }

  /**
   * One feature, one guest command (converge.sh): check; when it fails, cloud-init's wait (once per activity), apply,
   * verify — what ran comes back in the command's output, with the feature log's tail. One round trip into the guest
   * instead of four: in a fleet, most of a feature's time was the hand-overs between its commands (BENCHMARKS.md).
   * A transient failure starts the command again; converge.sh lets one run of a feature at a time, so a second start
   * waits for the first and finds its work done.
   */
  async function convergeFeature(
    api: ProxmoxApi,
    input: ProvisionFeatureInput,
    shared: { cloudInitWaited: boolean },
  ): Promise<ProvisionFeatureResult> {
    const { vm, step } = input;
    const sha256 = scriptSha256(step.script);
    const logFile = guestLogFile(step);
    const plan: ConvergePlan = input.verifyOnly ? 'verify' : input.dryRun ? 'check' : 'converge';
    // The check only reads, so it does not wait for cloud-init: what it finds in place stays in place (cloud-init
    // adds users and packages, it takes none away). Only a change (or Phoenix's result, verified) waits.
    const seconds: StepSeconds = {
      check: 120,
      cloudInit: shared.cloudInitWaited ? 0 : (deps.cloudInitTimeoutMs ?? 900_000) / 1000,
      apply: (deps.applyTimeoutMs ?? 1_200_000) / 1000,
      verify: 120,
    };
    const budgetMs = (seconds.check + seconds.cloudInit + seconds.apply + seconds.verify) * 1000;
    heartbeat({ what: step.name, vmid: vm.vmid, plan });
    const res = await guarded(() =>
      runInGuest(api, vm, convergeArgv(step, plan, seconds), {
        what: `${step.script} (${plan})`,
        // Its own steps, after waiting out an earlier run of the same feature (bounded by as much), and a margin.
        timeoutMs: 2 * budgetMs + 60_000,
        logFile,
      }),
    );
    const report = parseConvergeReport(res.stdout);
    if (cloudInitWaited(report)) shared.cloudInitWaited = true;
    const verdict = convergeVerdict(plan, report);
    const output = report.tail || res.stderr.trim() || '(no output)';
    const failure = (message: string, exitcode: number, type: FailureTypeName = FailureType.FeatureScriptFailed) =>
      ApplicationFailure.create({
        type,
        nonRetryable: true,
        message,
        details: [{ vmid: vm.vmid, feature: step.name, exitcode, sha256 }],
      });
    const where = `in VM ${vm.vmid} (${vm.name})`;
    switch (verdict.kind) {
      case 'already':
        // Nothing runs here; whether the service answers is Phase 4's readiness question.
        return { vmid: vm.vmid, name: step.name, outcome: 'already', sha256, detail: 'already in place' };
      case 'would-apply':
        return { vmid: vm.vmid, name: step.name, outcome: 'would-apply', sha256, detail: `would apply ${step.script}` };
      case 'unfinished':
        throw failure(
          verdict.before === 'lock'
            ? `an earlier run of ${step.script} ${where} had still not ended after ${budgetMs / 1000} s; last lines of ${logFile}:\n${output}`
            : `${CONVERGE_SCRIPT} for ${step.script} ${where} ended with exit code ${res.exitcode} before its ${verdict.before} (output: ${(res.stdout + res.stderr).trim() || 'none'})`,
          res.exitcode,
        );
      case 'failed': {
        const { step: failed, exitcode } = verdict;
        if (failed === 'cloud-init')
          throw failure(
            exitcode === 124
              ? `cloud-init ${where} had not finished after ${seconds.cloudInit} s — see /var/log/cloud-init-output.log in the VM`
              : `cloud-init ${where} ended with exit code ${exitcode}: ${res.stderr.trim()} — see /var/log/cloud-init-output.log in the VM`,
            exitcode,
          );
        const bound = failed === 'check' || failed === 'verify' ? seconds[failed] : undefined;
        throw failure(
          `${step.script} ${failed} ${exitcode === 124 && bound !== undefined ? `did not finish within ${bound} s ${where}` : `failed ${where} with exit code ${exitcode}`}; ` +
            `last lines of ${logFile}:\n${output}\n` +
            `Fix the cause in the VM, then run the migration again: finished features are not re-applied.`,
          exitcode,
          failed === 'verify' ? FailureType.FeatureVerifyFailed : FailureType.FeatureScriptFailed,
        );
      }
      case 'changed':
        break;
    }
    await probe(input);
    const detail = lastLine(report.tail ?? '');
    if (plan === 'verify') return { vmid: vm.vmid, name: step.name, outcome: 'verified', sha256, detail };
    const notice = step.feature === 'portainer_server' ? await initPortainerAdmin(input) : undefined;
    return { vmid: vm.vmid, name: step.name, outcome: 'applied', sha256, detail, ...(notice ? { notice } : {}) };
  }

  /** Transient Proxmox failures (agent restarting, lock) are retried here a few times before Temporal retries. */
  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isRetryable(err) || attempt >= 5) throw err;
        heartbeat({ retry: attempt, error: (err as Error).message });
        await sleep(Math.min(3_000, 250 * 2 ** attempt));
      }
    }
  }

  /** The service answers from the worker: a freshly started container gets ~30 s to open its port. */
  async function probe(input: ProvisionFeatureInput): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await probeOnce(input);
      } catch (err) {
        if (attempt >= 10) throw err;
        heartbeat({ what: `probe ${input.step.name}`, attempt });
        await sleep(3_000);
      }
    }
  }

  async function probeOnce(input: ProvisionFeatureInput): Promise<void> {
    const p = input.probe;
    if (p?.tcp) {
      const m = /^tcp:\/\/([^:/]+):(\d+)$/.exec(p.tcp);
      if (m && !(await tcpAnswers(m[1], Number(m[2]))))
        throw ApplicationFailure.create({
          type: FailureType.FeatureVerifyFailed,
          nonRetryable: true,
          message: `${input.step.name} runs in VM ${input.vm.vmid}, but nothing answers on ${p.tcp} from the worker (firewall? port mapping?)`,
        });
    }
    if (p?.https) {
      const dispatcher = dispatcherFor(p.https.tls, {
        connectTimeoutMs: 5_000,
        what: 'Portainer',
        planField: 'portainer.tls',
      });
      try {
        const res = await request(`${p.https.url.replace(/\/$/, '')}/api/system/status`, {
          dispatcher,
          headersTimeout: 5_000,
          bodyTimeout: 5_000,
        });
        await res.body.dump();
      } catch (err) {
        throw ApplicationFailure.create({
          type: FailureType.FeatureVerifyFailed,
          nonRetryable: true,
          message: `${input.step.name} runs in VM ${input.vm.vmid}, but ${p.https.url} does not answer from the worker: ${(err as Error).message}`,
        });
      } finally {
        await dispatcher.close().catch(() => undefined);
      }
    }
  }

  /**
   * A freshly started Portainer CE locks itself if no admin is created within minutes: create it from the secret,
   * or say at once what the person must do.
   */
  async function initPortainerAdmin(input: ProvisionFeatureInput): Promise<string | undefined> {
    const admin = input.portainerAdmin;
    const url = admin?.url ?? input.probe?.https?.url ?? 'https://<VM>:9443';
    if (!admin?.password)
      return (
        `Portainer was just started in VM ${input.vm.vmid} with an empty database: open ${url} NOW and create the admin user ` +
        `(Portainer locks itself about 5 minutes after its start; if it did, run \`docker restart portainer\` in VM ${input.vm.vmid}), ` +
        `or set provisioning.portainerAdmin in the plan.`
      );
    const password = resolveSecret(admin.password, deps.env);
    const dispatcher = dispatcherFor(admin.tls, {
      connectTimeoutMs: 5_000,
      what: 'Portainer',
      planField: 'portainer.tls',
    });
    try {
      const res = await request(`${admin.url.replace(/\/$/, '')}/api/users/admin/init`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Username: admin.username, Password: password }),
      });
      const text = await res.body.text();
      // 409: an admin exists already (a retry after a lost answer, or someone was quicker) — fine either way.
      if (res.statusCode >= 300 && res.statusCode !== 409)
        return `Portainer in VM ${input.vm.vmid} refused creating admin "${admin.username}" (HTTP ${res.statusCode}: ${text.slice(0, 200)}); create it at ${admin.url} before Portainer locks itself.`;
      return undefined;
    } finally {
      await dispatcher.close().catch(() => undefined);
    }
  }

  /** Host side: the VM's directory on the NFS export, 0750 root:root (Phoenix makes it 0777; we do not). */
  async function prepareVolumeDirectory(input: {
    proxmoxHost: SshEndpoint;
    vm: Pick<VmSpec, 'vmid' | 'volumes'>;
    dryRun?: boolean;
  }): Promise<{ vmid: number; directories: { path: string; outcome: FeatureOutcome }[] }> {
    const dirs = input.vm.volumes.filter((v) => v.type === 'nfs').map((v) => v.path);
    return withSsh(input.proxmoxHost, deps.env, async (session) => {
      const host = hostTarget(session);
      const out: { path: string; outcome: FeatureOutcome }[] = [];
      for (const dir of dirs) {
        heartbeat({ what: 'volume directory', dir });
        if ((await host.run(['test', '-d', dir])).code === 0) {
          out.push({ path: dir, outcome: 'already' });
          continue;
        }
        if (input.dryRun) {
          out.push({ path: dir, outcome: 'would-apply' });
          continue;
        }
        const made = await host.run(['mkdir', '-p', '-m', '0750', '--', dir]);
        if (made.code !== 0 || (await host.run(['test', '-d', dir])).code !== 0)
          throw ApplicationFailure.create({
            type: FailureType.FeatureScriptFailed,
            nonRetryable: true,
            message: `cannot create the volume directory ${dir} on ${session.describe} (exit ${made.code}): ${made.stderr.trim()}`,
          });
        out.push({ path: dir, outcome: 'applied' });
      }
      return { vmid: input.vm.vmid, directories: out };
    });
  }

  /**
   * The phoenix-cli provisioner: the operator's own `phoenix create <vmid>` on the Proxmox host (root or sudo there),
   * its output streamed into heartbeats. Phoenix is idempotent per VM (it skips the clone of an existing VM).
   */
  async function runPhoenixCreate(input: {
    proxmoxHost: SshEndpoint;
    vmid: number;
    command: string[];
  }): Promise<{ vmid: number; exitcode: number; tail: string }> {
    return withSsh(input.proxmoxHost, deps.env, async (session) => {
      let output = '';
      let last = 0;
      const res = await session.run([...input.command, String(input.vmid)], {
        timeoutMs: deps.applyTimeoutMs ?? 1_800_000,
        onOutput: (chunk) => {
          output = (output + chunk).slice(-16_384);
          if (Date.now() - last > 1_000) {
            last = Date.now();
            heartbeat({ what: `${input.command.join(' ')} ${input.vmid}`, tail: tailOf(output, 10) });
          }
        },
      });
      const tail = tailOf(`${res.stdout}\n${res.stderr}`);
      if (res.code !== 0)
        throw ApplicationFailure.create({
          type: FailureType.FeatureScriptFailed,
          nonRetryable: true,
          message: `\`${input.command.join(' ')} ${input.vmid}\` on ${session.describe} failed with exit code ${res.code}; last lines:\n${tail}`,
        });
      return { vmid: input.vmid, exitcode: res.code, tail };
    });
  }

  return withFailureTranslation({ provisionFeature, provisionFeatures, prepareVolumeDirectory, runPhoenixCreate });
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').pop() ?? '';
}

function tcpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port, timeout: 5_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
