/**
 * The runbook: the seed's five phases as one durable run that waits for a person where the seed says so.
 * Deterministic workflow code only: every read and change of the world happens in an activity.
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { MigrationActivities } from '../activities';
import type { MigrationInput } from '../config/resolved-plan';
import { hostOfUrl, scanDependencies } from './gates';
import { statusQuery, type WaitingFor } from './messages';
import { AbortRequested, installOperatorHandlers, PersonChannel } from './operator';
import { newReport, type MigrationReport } from './report';
import { MigrationPhaseKey, PlanNameKey } from './search-attributes';
import { renderChecklist, StatusBoard, type Outcome, type PhaseName } from './status';
import { formatMs, messageOf } from './text';

type Acts = MigrationActivities;

const retry: ActivityOptions['retry'] = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 20,
};
// A worker that dies mid-activity is noticed when its heartbeats stop: the timeout bounds how long a crash costs.
// Every activity heartbeats at least every few seconds while it waits (task polls, probes, SSH steps).
const quick: ActivityOptions = { startToCloseTimeout: '2m', heartbeatTimeout: '20s', retry };
const long: ActivityOptions = { startToCloseTimeout: '30m', heartbeatTimeout: '20s', retry };

const acts = proxyActivities<Acts>(quick);
const longActs = proxyActivities<Acts>(long);
/** Notifications must never block or fail the run. */
const notifyActs = proxyActivities<Acts>({
  scheduleToCloseTimeout: '5m',
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5 },
});

export async function migration(input: MigrationInput): Promise<MigrationReport> {
  const { plan, digest } = input;
  const dryRun = input.dryRun ?? false;
  const workflowId = workflowInfo().workflowId;
  const board = new StatusBoard({ planName: plan.name, planDigest: digest, workflowId, dryRun }, () => new Date());
  const report = newReport(plan, digest, dryRun);
  const person = new PersonChannel();
  const pendingNotifications: Promise<unknown>[] = [];

  const publish = () => setCurrentDetails(renderChecklist(board.status));
  const notify = (event: string, message: string) => {
    if (!plan.notify || dryRun) return;
    pendingNotifications.push(
      notifyActs
        .notify({
          webhookUrlEnv: plan.notify.webhookUrlEnv,
          event: { event, message, workflowId, planName: plan.name, phase: board.status.phase },
        })
        .catch((err) => log.warn('notification not delivered', { event, error: String(err) })),
    );
  };
  const enterPhase = (phase: PhaseName) => {
    board.startPhase(phase);
    upsertSearchAttributes([{ key: MigrationPhaseKey, value: phase }]);
    publish();
  };
  /** Runs one step: status, checklist and summary stay in line with what actually happens. */
  const step = async <T>(name: string, run: () => Promise<T>, describe?: (r: T) => string): Promise<T> => {
    board.startStep(name);
    publish();
    try {
      const result = await run();
      board.endStep(name, 'done', describe?.(result));
      return result;
    } catch (err) {
      if (!isCancellation(err)) board.endStep(name, 'failed', undefined, messageOf(err));
      throw err;
    } finally {
      publish();
    }
  };
  const waitFor = (what: WaitingFor, message: string, items: string[] = []) => {
    board.wait(what, message, items);
    publish();
  };
  const stopWaiting = () => {
    board.stopWaiting();
    publish();
  };

  /** True from the moment a cutover may have touched the gateway until a rollback put it back. */
  let gatewayChanged = false;
  let verified = false;
  /** What the upstream pointed at before the cutover; empty when nobody knows (a rerun that found it already moved). */
  let previousServers: string[] = [];
  let decommissionStarted = false;

  // Handlers first: a message that arrives before they exist would be lost (signals) or rejected (updates).
  setHandler(statusQuery, () => board.status);
  installOperatorHandlers(person, board, plan, report, publish, notify, () => verified);
  upsertSearchAttributes([{ key: PlanNameKey, value: plan.name }]);

  /**
   * The end-state rule for the gateway (docs/end-states.md): changed and not yet verified → back on its previous
   * servers, in a non-cancellable scope so a cancel cannot interrupt the compensation. After verification it stays.
   */
  const restoreGateway = async (why: string): Promise<void> => {
    if (!gatewayChanged || verified || dryRun) return;
    if (!previousServers.length || sameServers(previousServers, plan.gateway.newServers)) {
      report.changes.push(
        `gateway NOT rolled back (${why}): what upstream ${plan.gateway.upstream} pointed at before the cutover is unknown (it was already on ${plan.gateway.newServers.join(', ')}) — check ${plan.gateway.siteFile} in CT ${plan.gateway.ctid} by hand`,
      );
      gatewayChanged = false;
      return;
    }
    await CancellationScope.nonCancellable(async () => {
      const res = await acts.rollbackGateway.executeWithOptions(
        { ...quick, summary: `nginx upstream ${plan.gateway.upstream} → ${previousServers.join(', ')} (rollback)` },
        [
          {
            proxmoxHost: plan.proxmoxHost,
            gateway: plan.gateway,
            previousServers,
            verifyUrl: `${plan.qdrant.gatewayUrl}/readyz`,
            verifyBudgetMs: plan.timings.verifyBudgetMs,
          },
        ],
      );
      gatewayChanged = false;
      report.gateway.rolledBack = true;
      report.gateway.currentServers = previousServers;
      report.changes.push(
        `gateway rolled back to ${previousServers.join(', ')} (${why})${res.changed ? '' : ` — ${res.reason}`}`,
      );
    });
  };
  /** The same, for the ways out that must not fail because of it: a failed rollback is reported, not thrown. */
  const restoreGatewayOrReport = async (why: string): Promise<void> => {
    try {
      await restoreGateway(why);
    } catch (e) {
      report.changes.push(
        `gateway rollback FAILED (${why}): ${messageOf(e)} — put upstream ${plan.gateway.upstream} back on ${previousServers.join(', ')} by hand`,
      );
    }
  };

  try {
    // ── Phase 1 ────────────────────────────────────────────────────────────────────────────────────────────────
    enterPhase('Declarative Configuration');
    const preflight = await step(
      'preflight on live state',
      () =>
        acts.preflight.executeWithOptions(
          { ...quick, summary: 'preflight: template, vmids, gateway, NFS export, legacy guests' },
          [{ plan }],
        ),
      (r) => `${r.checks.length} checks passed`,
    );
    if (preflight.problems.length) {
      const list = preflight.problems.map((p) => `${p.item} — fix: ${p.fix}`);
      board.endStep('preflight on live state', 'failed', undefined, `${list.length} problem(s)`);
      throw ApplicationFailure.nonRetryable(
        `Preflight found ${list.length} problem(s); nothing was changed:\n- ${list.join('\n- ')}`,
        'PreflightFailed',
        preflight,
      );
    }

    // ── Phase 2 ────────────────────────────────────────────────────────────────────────────────────────────────
    enterPhase('Orchestrator and File Preparation');
    const files = await step(
      'compose files onto the NFS export',
      () =>
        acts.provisionComposeFiles.executeWithOptions(
          {
            ...quick,
            summary: `push ${plan.composeFiles.map((f) => f.destination).join(', ')} → ${plan.proxmoxHost.host}`,
          },
          [{ host: plan.proxmoxHost, files: plan.composeFiles, dryRun }],
        ),
      (r) => r.files.map((f) => `${f.hostPath}: ${f.outcome}`).join('; '),
    );
    report.composeFiles = files.files;
    for (const f of files.files)
      if (f.outcome !== 'unchanged') report.changes.push(`compose file ${f.hostPath}: ${f.outcome}`);

    // ── Phase 3 ────────────────────────────────────────────────────────────────────────────────────────────────
    enterPhase('Infrastructure Provisioning');
    // Each VM is recorded as soon as it is done, so a failure of the other still reports what exists.
    await allOrFirstFailure(
      plan.vms.map((vm) =>
        step(
          `VM ${vm.vmid} ${vm.name}`,
          () =>
            longActs.ensureVm.executeWithOptions(
              { ...long, summary: `clone ${vm.cloneFrom} → ${vm.vmid} (${vm.name})` },
              [{ proxmox: plan.proxmox, vm, dryRun }],
            ),
          (r) =>
            (r.changes.length ? r.changes.join('; ') : 'already as planned') +
            (r.rebootRequired ? ' — REBOOT REQUIRED for pending changes' : ''),
        ).then((r) => {
          report.vms.push(r);
          report.changes.push(...r.changes.map((c) => `VM ${r.vmid}: ${c}${dryRun ? ' (would be)' : ''}`));
        }),
      ),
    );

    // ── Phase 4 ────────────────────────────────────────────────────────────────────────────────────────────────
    enterPhase('Application Deployment and Cutover');
    if (dryRun) {
      board.endStep('readiness of VMs, Docker, Portainer and NFS', 'skipped', 'checked once the VMs exist');
      if (plan.portainer.mode === 'api') {
        await step(
          'Portainer deploy',
          () =>
            acts.ensurePortainerDeployment.executeWithOptions(
              {
                ...quick,
                summary: `Portainer stack ${plan.portainer.stackName} on ${plan.portainer.environmentName} (dry run)`,
              },
              [
                {
                  portainer: plan.portainer,
                  composeContent: plan.composeFiles[plan.portainer.composeFileIndex].content,
                  dryRun: true,
                },
              ],
            ),
          (r) => r.changes.join('; ') || 'already deployed',
        ).then((r) => report.changes.push(...r.changes.map((c) => `Portainer: ${c} (would be)`)));
      } else {
        board.endStep(
          'Portainer deploy',
          'skipped',
          'needs a person here: deploy the stack in Portainer, then confirm',
        );
        report.needsPerson.push(
          'Phase 4: deploy the Qdrant stack in Portainer (environment Dr-Phoenix), then `phoenix-migrate confirm-portainer`',
        );
      }
    } else {
      await waitUntilReady();
      await deployStack();
      if (plan.qdrant.data.mode === 'snapshot') {
        const copied = await step(
          'copy Qdrant collections by snapshot',
          () =>
            longActs.copyQdrantCollections.executeWithOptions(
              { ...long, summary: `snapshot ${plan.qdrant.legacyUrl} → ${plan.qdrant.newUrl}` },
              [{ legacyUrl: plan.qdrant.legacyUrl, newUrl: plan.qdrant.newUrl, apiKey: plan.qdrant.apiKey }],
            ),
          (r) =>
            r.map((c) => `${c.name}: ${c.newCount}/${c.legacyCount}`).join('; ') ||
            'no collections on the legacy instance',
        );
        report.changes.push(...copied.map((c) => `Qdrant collection ${c.name} copied (${c.newCount} points)`));
      }
    }

    // Cutover and verification loop (Phase 4c → Phase 5): a failed verification rolls the gateway back and asks.
    for (;;) {
      if (board.status.phase !== 'Application Deployment and Cutover') enterPhase('Application Deployment and Cutover');
      let failure = await cutover();
      if (dryRun) {
        enterPhase('Verification and Decommissioning');
        board.endStep('verification through the gateway', 'skipped', 'runs after the real cutover');
        break;
      }
      if (!failure) {
        enterPhase('Verification and Decommissioning');
        failure = await verifyAndSoak();
      }
      if (!failure) {
        verified = true;
        break;
      }
      await step(
        'gateway rollback',
        () => restoreGateway(failure ?? 'verification failed'),
        () => `back on ${previousServers.join(', ')}`,
      );
      notify('rejected', `Verification failed and the gateway was rolled back: ${failure}`);
      const choice = await person.waitForChoice(() =>
        waitFor(
          'operator-choice-after-failed-verification',
          `Verification failed (${failure}); the gateway is back on ${previousServers.join(', ')}. Fix the new Qdrant, then retry — or abort.`,
        ),
      );
      stopWaiting();
      if (choice === 'abort') throw new AbortRequested(`aborted by ${person.lastActor} after a failed verification`);
      report.changes.push(`verification retried (asked by ${person.lastActor})`);
    }

    if (plan.qdrant.data.mode === 'reindex' && !dryRun) await waitForReindex();

    // ── Phase 5: decommissioning behind its gates ─────────────────────────────────────────────────────────────
    const gatewayNow = await step('dependency scan', () =>
      acts.readGateway.executeWithOptions({ ...quick, summary: `read gateway ${plan.gateway.siteFile}` }, [
        { proxmoxHost: plan.proxmoxHost, gateway: plan.gateway },
      ]),
    );
    const scan = scanDependencies({
      legacy: plan.legacyGuests,
      movedUpstream: plan.gateway.upstream,
      upstreams: gatewayNow.upstreams,
      guestDependencies: plan.guestDependencies,
    });
    report.decommission.refused.push(...scan.refused);
    board.endStep(
      'dependency scan',
      'done',
      `${scan.deletable.length} deletable, ${scan.refused.length} refused${scan.refused.length ? `: ${scan.refused.map((r) => r.reason).join('; ')}` : ''}`,
    );
    if (dryRun) for (const r of scan.refused) report.changes.push(`kept (refused by the dependency scan): ${r.reason}`);

    let toDelete = scan.deletable;
    if (plan.approvals.decommission && toDelete.length) {
      if (dryRun) {
        board.endStep('decommission approval', 'skipped', 'needs a person here: approve the deletion');
        report.needsPerson.push(
          `Phase 5: approve deleting CT ${toDelete.map((g) => g.ctid).join(', ')} (\`phoenix-migrate approve-decommission\`)${scan.refused.length ? `; kept: ${scan.refused.map((r) => r.ctid).join(', ')}` : ''}`,
        );
      } else {
        const items = [
          ...toDelete.map(
            (g) =>
              `delete CT ${g.ctid} ${g.name}${plan.backups.enabled ? ` (after a vzdump backup to ${plan.backups.storage})` : ''}`,
          ),
          ...scan.refused.map((r) => `kept: ${r.reason}`),
          ...report.legacyTraffic.map((t) => `⚠ ${t}`),
        ];
        board.setStepWaiting('decommission approval', 'waiting for approval');
        notify('waiting', `Approve deleting ${toDelete.map((g) => g.ctid).join(', ')}`);
        await person.waitForApproval(() =>
          waitFor('decommission-approval', 'Approve deleting these legacy containers.', items),
        );
        stopWaiting();
        board.endStep('decommission approval', 'done', `approved by ${person.lastActor}`);
        report.operator.push(person.lastRecord('approveDecommission'));
        toDelete = toDelete.filter((g) => !person.deniedCtids.has(g.ctid));
      }
    }

    const protectedVmids = {
      template: plan.templateVmid,
      gateway: plan.gateway.ctid,
      targets: plan.vms.map((v) => v.vmid),
    };
    decommissionStarted = !dryRun && toDelete.length > 0;
    // Each deletion is recorded as soon as it is done, so a failure of another still reports what is gone.
    await allOrFirstFailure(
      toDelete.map((guest) =>
        step(
          `decommission CT ${guest.ctid} ${guest.name}`,
          () =>
            longActs.decommissionGuest.executeWithOptions(
              {
                ...long,
                summary: `${plan.backups.enabled ? 'back up and ' : ''}delete CT ${guest.ctid} (${guest.name})${dryRun ? ' (dry run)' : ''}`,
              },
              [
                {
                  proxmox: plan.proxmox,
                  guest,
                  legacyCtids: plan.legacyGuests.map((g) => g.ctid),
                  protectedVmids,
                  backups: plan.backups,
                  shutdownTimeoutMs: plan.timings.shutdownTimeoutMs,
                  dryRun,
                },
              ],
            ),
          (r) => `${r.outcome}${r.backupVolid ? `, backup ${r.backupVolid}` : ''}`,
        ).then((r) => {
          report.decommission.results.push(r);
          if (r.outcome === 'deleted' || r.outcome === 'already-absent') report.decommission.deleted.push(r.ctid);
          if (r.backupVolid) report.backups.push({ ctid: r.ctid, volid: r.backupVolid });
          if (r.outcome !== 'already-absent')
            report.changes.push(`CT ${r.ctid}: ${r.outcome}${r.backupVolid ? ` (backup ${r.backupVolid})` : ''}`);
        }),
      ),
    );

    return await finish(dryRun ? 'dry-run' : 'completed');
  } catch (err) {
    if (err instanceof AbortRequested) {
      await restoreGatewayOrReport('aborted');
      return await finish('aborted', `${err.message}; ${endStateSummary()}`);
    }
    if (isCancellation(err)) {
      await restoreGatewayOrReport('cancelled');
      const reason = `the run was cancelled; ${endStateSummary()}`;
      board.finishPhases('cancelled', reason);
      board.status.changes = report.changes;
      publish();
      await CancellationScope.nonCancellable(async () => {
        notify('cancelled', reason);
        await settle(pendingNotifications);
      });
      throw err;
    }
    await restoreGatewayOrReport('failed');
    const reason = messageOf(err);
    board.finishPhases('failed', reason);
    board.status.changes = report.changes;
    publish();
    notify('failed', reason);
    await settle(pendingNotifications);
    throw ApplicationFailure.nonRetryable(`Migration ${plan.name} failed: ${reason}`, 'MigrationFailed', {
      ...report,
      outcome: 'failed',
      endReason: `${reason}; ${endStateSummary()}`,
      phases: board.status.phases,
      steps: board.status.steps,
    });
  }

  // ── helpers that read like runbook steps ───────────────────────────────────────────────────────────────────

  /** One line for every way out: what stays, what was put back, what was deleted. */
  function endStateSummary(): string {
    const vms = report.vms.filter((v) => v.created || v.changes.length).map((v) => v.vmid);
    const gw = !report.gateway.changed
      ? 'gateway never touched'
      : report.gateway.rolledBack
        ? `gateway back on ${report.gateway.previousServers.join(', ')}`
        : `gateway on ${report.gateway.currentServers.join(', ')}${verified ? ' (verified)' : ''}`;
    const deleted = report.decommission.deleted.length
      ? `deleted CT ${report.decommission.deleted.join(', ')}`
      : decommissionStarted
        ? 'no CT deleted'
        : 'nothing deleted';
    return `${vms.length ? `VMs ${vms.join(', ')} kept` : 'no VM created'}; ${gw}; ${deleted}`;
  }

  async function finish(outcome: Outcome, endReason?: string): Promise<MigrationReport> {
    board.finishPhases(outcome, endReason);
    board.status.changes = report.changes;
    publish();
    notify(
      outcome === 'completed' || outcome === 'dry-run' ? 'completed' : outcome,
      endReason ?? `Migration ${plan.name}: ${outcome}`,
    );
    await settle(pendingNotifications);
    await condition(allHandlersFinished);
    return { ...report, outcome, endReason, phases: board.status.phases, steps: board.status.steps };
  }

  /**
   * Phase 4c: move the gateway. Reads the upstream first (what a rollback restores), then the locked rewrite, which
   * checks the gateway itself. Returns why the check failed (the gateway is then changed and must be rolled back).
   */
  async function cutover(): Promise<string | undefined> {
    const name = 'gateway cutover';
    const target = plan.gateway.newServers.join(', ');
    try {
      const cut = await step(
        name,
        async () => {
          if (!dryRun) {
            const before = await acts.readGateway.executeWithOptions(
              { ...quick, summary: `read upstream ${plan.gateway.upstream} before the cutover` },
              [{ proxmoxHost: plan.proxmoxHost, gateway: plan.gateway }],
            );
            const servers =
              before.upstreams.find((u) => u.name === plan.gateway.upstream)?.servers.map((s) => s.address) ?? [];
            if (servers.length && !sameServers(servers, plan.gateway.newServers)) previousServers = servers;
            gatewayChanged = true;
          }
          return acts.cutoverGateway.executeWithOptions(
            { ...quick, summary: `nginx upstream ${plan.gateway.upstream} → ${target}` },
            [
              {
                proxmoxHost: plan.proxmoxHost,
                gateway: plan.gateway,
                verifyUrl: `${plan.qdrant.gatewayUrl}/readyz`,
                verifyBudgetMs: plan.timings.verifyBudgetMs,
                dryRun,
              },
            ],
          );
        },
        (r) =>
          r.changed
            ? `${r.previousServers.join(', ')} → ${target}${dryRun ? ' (would change)' : ''}`
            : `already on ${target}`,
      );
      if (dryRun) {
        if (cut.changed)
          report.changes.push(
            `nginx upstream ${plan.gateway.upstream}: ${cut.previousServers.join(', ')} → ${target} (would change)${cut.diff ? `\n${cut.diff}` : ''}`,
          );
        return undefined;
      }
      // A retry after a lost response learns the previous servers from the activity's record on the gateway.
      if (cut.previousKnown && cut.previousServers.length && !sameServers(cut.previousServers, plan.gateway.newServers))
        previousServers = cut.previousServers;
      report.gateway = {
        ...report.gateway,
        previousServers,
        changed: true,
        backupPath: cut.backupPath ?? undefined,
        currentServers: plan.gateway.newServers,
        rolledBack: false,
      };
      if (cut.changed)
        report.changes.push(`nginx upstream ${plan.gateway.upstream}: ${previousServers.join(', ')} → ${target}`);
      return undefined;
    } catch (err) {
      if (isCancellation(err) || failureTypeOf(err) !== 'GatewayVerifyFailed') throw err;
      // nginx was changed and reloaded, but the new backend does not answer through it: that is a failed verification.
      report.gateway = {
        ...report.gateway,
        previousServers,
        changed: true,
        currentServers: plan.gateway.newServers,
        rolledBack: false,
      };
      report.changes.push(
        `nginx upstream ${plan.gateway.upstream}: ${previousServers.join(', ')} → ${target} (did not answer through the gateway)`,
      );
      return `the gateway did not answer through the new servers after the cutover: ${messageOf(err)}`;
    }
  }

  /** Phase 4a: the person should only be asked once the machines are able to take the stack. */
  async function waitUntilReady(): Promise<void> {
    const name = 'readiness of VMs, Docker, Portainer and NFS';
    board.startStep(name);
    for (;;) {
      const r = await acts.checkReadiness.executeWithOptions(
        { ...quick, summary: 'readiness: Docker, Portainer, agent, NFS mount' },
        [{ plan }],
      );
      if (!r.missing.length) break;
      const items = r.missing.map((m) => `${m.item} — fix: ${m.fix}`);
      board.setStepWaiting(name, `${r.missing.length} item(s) missing`);
      waitFor('readiness', 'Phase 4 cannot start yet: fix these (re-checked every minute).', items);
      const aborted = await condition(() => person.abortRequested, plan.timings.readinessRecheckMs);
      if (aborted) throw new AbortRequested(`aborted by ${person.lastActor}`);
    }
    stopWaiting();
    board.endStep(name, 'done', 'Docker, Portainer, agent and NFS ready');
    publish();
  }

  /** Phase 4b: a person deploys the stack in Portainer (or, in `api` mode, the run does it). */
  async function deployStack(): Promise<void> {
    const name = 'Portainer deploy';
    if (plan.portainer.mode === 'api') {
      const composeFile = plan.composeFiles[plan.portainer.composeFileIndex];
      await step(
        name,
        () =>
          longActs.ensurePortainerDeployment.executeWithOptions(
            { ...long, summary: `Portainer stack ${plan.portainer.stackName} on ${plan.portainer.environmentName}` },
            [{ portainer: plan.portainer, composeContent: composeFile.content }],
          ),
        (r) => r.changes.join('; ') || 'already deployed',
      );
      // The container runs; Qdrant must also answer before clients are moved to it.
      // Bounded like the manual wait: a stack that never answers fails the run before anything downstream changes.
      await step(
        'Qdrant answers on the new VM',
        async () => {
          const deadline = Date.now() + plan.timings.deployTimeoutMs;
          for (;;) {
            const probe = await acts.probeQdrant.executeWithOptions(
              { ...quick, summary: `probe ${plan.qdrant.newUrl}/readyz` },
              [{ url: plan.qdrant.newUrl, apiKey: plan.qdrant.apiKey, timeoutMs: 5000 }],
            );
            if (probe.ready) return probe;
            if (Date.now() >= deadline) {
              throw ApplicationFailure.nonRetryable(
                `Qdrant on the new VM (${plan.qdrant.newUrl}/readyz) did not answer ready within ${formatMs(plan.timings.deployTimeoutMs)} after the Portainer deploy (last: ${probe.detail}); nothing downstream was changed. Check the stack's container logs in Portainer, then start the run again.`,
                'DeployTimeout',
              );
            }
            await sleep(Math.min(plan.timings.soakProbeEveryMs, Math.max(1, deadline - Date.now())));
          }
        },
        (p) => p.detail,
      );
      return;
    }
    board.setStepWaiting(name, 'waiting for the manual deploy');
    const composeFile = plan.composeFiles[plan.portainer.composeFileIndex];
    const message =
      `In Portainer (${plan.portainer.url}), environment "${plan.portainer.environmentName}": add a stack "${plan.portainer.stackName}" ` +
      `from the compose file ${composeFile?.guestPath ?? ''} on the server's filesystem and deploy it. Then confirm.`;
    notify('waiting', message);
    person.expectDeploy = true;
    const deadline = Date.now() + plan.timings.deployTimeoutMs;
    waitFor('portainer-deploy', message);
    while (!person.deployConfirmed) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw ApplicationFailure.nonRetryable(
          `Nobody confirmed the Portainer deploy within ${formatMs(plan.timings.deployTimeoutMs)}; nothing downstream was changed (gateway and legacy CTs untouched, VMs kept). Deploy the stack, then start the run again: it converges on what exists.`,
          'DeployTimeout',
        );
      }
      const woke = await condition(
        () => person.deployConfirmed || person.abortRequested,
        Math.min(left, plan.timings.remindEveryMs),
      );
      if (person.abortRequested) throw new AbortRequested(`aborted by ${person.lastActor}`);
      if (!woke && Date.now() < deadline && !person.deployConfirmed) {
        const n = board.remind();
        log.info('still waiting for the Portainer deploy', {
          waitingSince: board.status.waitingFor?.since,
          reminder: n,
        });
        notify('reminder', `Still waiting (reminder ${n}, ${formatMs(deadline - Date.now())} left): ${message}`);
        publish();
      }
    }
    person.expectDeploy = false;
    stopWaiting();
    board.endStep(name, 'done', `confirmed by ${person.lastActor}`);
    report.operator.push(person.lastRecord('confirmPortainerDeploy'));
  }

  /** Phase 5 verification through the gateway, then the optional soak. Returns the reason it failed, if it did. */
  async function verifyAndSoak(): Promise<string | undefined> {
    const verification = await step(
      'verification through the gateway',
      () =>
        longActs.verifyQdrant.executeWithOptions(
          { ...long, summary: `verify ${plan.qdrant.gatewayUrl}/readyz and collections` },
          [
            {
              url: plan.qdrant.gatewayUrl,
              apiKey: plan.qdrant.apiKey,
              expectedCollections: plan.qdrant.data.mode === 'reindex' ? [] : plan.qdrant.expectedCollections,
              budgetMs: plan.timings.verifyBudgetMs,
            },
          ],
        ),
      (r) => r.detail,
    );
    report.verification = verification;
    if (!verification.ok) {
      board.endStep('verification through the gateway', 'failed', undefined, verification.detail);
      return verification.detail;
    }
    if (plan.timings.soakMs <= 0) return undefined;

    const legacyHost = hostOfUrl(plan.qdrant.legacyUrl);
    const legacyGuest = plan.legacyGuests.find((g) => g.ip === legacyHost);
    const trafficBefore = await acts.readLegacyTraffic({ url: plan.qdrant.legacyUrl }).catch(() => undefined);
    const soakName = `soak ${formatMs(plan.timings.soakMs)}`;
    board.startStep(soakName);
    publish();
    const soakEnd = Date.now() + plan.timings.soakMs;
    let probes = 0;
    while (Date.now() < soakEnd) {
      await sleep(Math.min(plan.timings.soakProbeEveryMs, Math.max(1, soakEnd - Date.now())));
      const probe = await acts.probeQdrant({
        url: `${plan.qdrant.gatewayUrl}`,
        apiKey: plan.qdrant.apiKey,
        timeoutMs: 5000,
      });
      probes++;
      if (!probe.ready) {
        board.endStep(soakName, 'failed', undefined, `probe ${probes} failed: ${probe.detail}`);
        return `soak probe ${probes} through the gateway failed: ${probe.detail}`;
      }
    }
    const trafficAfter = await acts.readLegacyTraffic({ url: plan.qdrant.legacyUrl }).catch(() => undefined);
    // Data requests only: our own /metrics reads (and any health probe or scraper) count in requestsTotal too.
    if (trafficBefore && trafficAfter && trafficAfter.dataRequestsTotal > trafficBefore.dataRequestsTotal) {
      const who = legacyGuest ? `CT ${legacyGuest.ctid} (${legacyGuest.name})` : plan.qdrant.legacyUrl;
      report.legacyTraffic.push(
        `${who} still received ${trafficAfter.dataRequestsTotal - trafficBefore.dataRequestsTotal} request(s) directly during the soak: some client bypasses the gateway`,
      );
    }
    board.endStep(
      soakName,
      'done',
      `${probes} probe(s) passed${report.legacyTraffic.length ? `; ${report.legacyTraffic.join('; ')}` : ''}`,
    );
    return undefined;
  }

  async function waitForReindex(): Promise<void> {
    const name = 'wait for re-indexing';
    board.setStepWaiting(name, 'waiting for the producers to re-index');
    notify('waiting', 'Re-index Qdrant data into the new instance, then run `phoenix-migrate reindex-done`.');
    person.expectReindex = true;
    await person.waitForReindex(() =>
      waitFor(
        'reindex',
        'Let the producers re-index into the new Qdrant, then report it.',
        plan.qdrant.expectedCollections.map((c) => `${c.name}${c.minCount ? ` ≥ ${c.minCount} points` : ''}`),
      ),
    );
    person.expectReindex = false;
    stopWaiting();
    board.endStep(name, 'done', `reported by ${person.lastActor}`);
    const check = await step(
      'check re-indexed collections',
      () =>
        longActs.verifyQdrant.executeWithOptions({ ...long, summary: 'check collections and minimum counts' }, [
          {
            url: plan.qdrant.gatewayUrl,
            apiKey: plan.qdrant.apiKey,
            expectedCollections: plan.qdrant.expectedCollections,
            budgetMs: plan.timings.verifyBudgetMs,
          },
        ]),
      (r) => r.detail,
    );
    if (!check.ok) {
      const bad = check.collections.filter((c) => !c.ok).map((c) => `${c.name}: ${c.reason ?? 'mismatch'}`);
      throw ApplicationFailure.nonRetryable(
        `Re-indexed data does not match the plan (${bad.join('; ') || check.detail}); decommissioning is blocked. The gateway stays on the new Qdrant.`,
        'ReindexMismatch',
      );
    }
  }
}

/** Waits for every branch (so each records its result), then fails with the first failure, if any. */
async function allOrFirstFailure(branches: Promise<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(branches);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function sameServers(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** The ApplicationFailure type of an activity failure (classify by fields, never by class across modules). */
function failureTypeOf(err: unknown): string | undefined {
  const cause = (err as { cause?: { type?: unknown } } | undefined)?.cause;
  const type = cause?.type ?? (err as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' ? type : undefined;
}

async function settle(promises: Promise<unknown>[]): Promise<void> {
  await Promise.allSettled(promises);
}
