/**
 * Phase 3 — Infrastructure Provisioning: every planned VM exists, configured as planned (cloned from the template, or
 * an existing VM adopted in place), then made what `phoenix create` makes of it: its volume directory on the NFS
 * export, then each feature (mount, base_setup, docker, the Portainer role) as check → apply → verify in the guest.
 * With `provisioner: "phoenix-cli"` the operator's own `phoenix create` does the work and the same verify proves it;
 * with `"none"` nothing is installed (Phase 4's readiness says what is missing).
 */
import { ActivityFailure, ApplicationFailure, patched } from '@temporalio/workflow';
import type { ProvisionFeatureResult, ProvisionFeaturesInput } from '../../activities/provisioning';
import type { VmSpec } from '../../config/resolved-plan';
import { featuresFor, type FeatureStep } from '../../provisioning/plan';
import { featureRuns, long } from '../activity-proxies';
import type { ProvisionedVm } from '../report';
import type { MigrationRun } from '../run';
import { allOrFirstFailure } from '../text';

export async function provisionInfrastructure(run: MigrationRun): Promise<void> {
  const asked = patched(VMS_BEFORE_DIRECTORIES) ? run.plan.vms.map((vm) => ensureVm(run, vm)) : [];
  // Each VM is recorded as soon as it is done, so a failure of the other still reports what exists.
  await allOrFirstFailure(run.plan.vms.map((vm, i) => provisionVm(run, vm, asked[i])));
}

/**
 * Marks runs that ask for every VM before any volume directory. A workflow task hands at most three of the activities
 * it schedules straight to this worker (eager dispatch, a constant of the SDK); a fourth waits for the worker's next
 * poll of the task queue — seconds under a fleet's load. Scheduled VM by VM, the last VM's clone (the run's critical
 * path) was that fourth. Runs recorded before this asked VM by VM and replay that way.
 */
export const VMS_BEFORE_DIRECTORIES = 'vms-before-volume-directories';

/** Marks runs that provision after the clone; runs recorded before it (only ensureVm) replay as they ran. */
export const PROVISIONING_PATCH = 'phase-3-provisions-like-phoenix-create';

/** Marks runs that make a VM's volume directory on the host while the VM is cloned, not after. */
export const VOLUME_DIRECTORY_WITH_CLONE = 'volume-directory-while-cloning';

async function provisionVm(run: MigrationRun, vm: VmSpec, asked?: ReturnType<typeof ensureVm>): Promise<void> {
  const provisioner = run.plan.provisioning?.provisioner ?? 'none';
  // The directory is on the Proxmox host and needs nothing of the VM: made while the clone runs, it is off the run's
  // critical path. Runs recorded before this made it after ensureVm and replay that way.
  const early =
    provisioner === 'native' && !run.dryRun && patched(VOLUME_DIRECTORY_WITH_CLONE)
      ? volumeDirectory(run, vm)
      : undefined;
  // Both settle before either's failure is raised: nothing of this VM is left running behind a failed phase.
  const [made] = await allOrFirstFailure([asked ?? ensureVm(run, vm), early]);
  if (provisioner === 'none' || !patched(PROVISIONING_PATCH)) return;
  if (run.dryRun) {
    // A dry run sends no command into a VM (a guest-agent exec is a POST): each feature is checked in the real run.
    for (const step of featuresFor(vm, run.plan.provisioning)) {
      run.board.endStep(`VM ${vm.vmid} ${step.name}`, 'skipped', 'check → apply → verify in the real run');
      made.entry.features.push({ name: step.name, outcome: 'would-check' });
    }
    if (made.exists && provisioner === 'native') await volumeDirectory(run, vm);
    return;
  }
  if (provisioner === 'phoenix-cli') await phoenixCreate(run, vm);
  else if (!early) await volumeDirectory(run, vm);
  const steps = featuresFor(vm, run.plan.provisioning);
  const verifyOnly = provisioner === 'phoenix-cli';
  if (steps.length > 0 && patched(FEATURES_IN_ONE_ACTIVITY)) await features(run, vm, steps, verifyOnly, made.entry);
  else for (const step of steps) made.entry.features.push(await feature(run, vm, step, verifyOnly));
}

/**
 * Marks runs that provision a VM's features in one activity (`provisionFeatures`) instead of one activity each: no
 * workflow turn between two features. Runs recorded before it replay one activity per feature.
 */
export const FEATURES_IN_ONE_ACTIVITY = 'features-of-a-vm-in-one-activity';

async function ensureVm(run: MigrationRun, vm: VmSpec): Promise<{ entry: ProvisionedVm; exists: boolean }> {
  const { plan, dryRun, report } = run;
  const result = await run.step(
    `VM ${vm.vmid} ${vm.name}`,
    () =>
      long.ensureVm.executeWithOptions(
        {
          summary: vm.adopt
            ? `adopt VM ${vm.vmid} in place (${vm.name}), or clone ${vm.cloneFrom} if absent`
            : `clone ${vm.cloneFrom} → ${vm.vmid} (${vm.name})`,
        },
        [{ proxmox: plan.proxmox, vm, dryRun }],
      ),
    (r) =>
      (r.adopted ? 'adopted; ' : '') +
      (r.changes.length ? r.changes.join('; ') : 'already as planned') +
      (r.rebootRequired ? ' — REBOOT REQUIRED for pending changes' : ''),
  );
  report.vms.push(result);
  report.changes.push(...result.changes.map((c) => `VM ${result.vmid}: ${c}${dryRun ? ' (would be)' : ''}`));
  const entry: ProvisionedVm = {
    vmid: vm.vmid,
    name: vm.name,
    adopted: result.adopted,
    cloned: result.created,
    ...(result.diskGb !== undefined ? { diskGb: result.diskGb } : {}),
    features: [],
  };
  (report.provisioned ??= []).push(entry);
  return { entry, exists: !dryRun || result.ready };
}

async function volumeDirectory(run: MigrationRun, vm: VmSpec): Promise<void> {
  if (!vm.volumes.some((v) => v.type === 'nfs')) return;
  const { plan, dryRun, report } = run;
  const r = await run.step(
    `VM ${vm.vmid} volume directory`,
    () =>
      long.prepareVolumeDirectory.executeWithOptions(
        { summary: `volume directory for VM ${vm.vmid} on ${plan.proxmoxHost.host} (0750)` },
        [{ proxmoxHost: plan.proxmoxHost, vm, dryRun }],
      ),
    (res) => res.directories.map((d) => `${d.path}: ${d.outcome}`).join('; '),
  );
  for (const d of r.directories)
    if (d.outcome !== 'already') report.changes.push(`VM ${vm.vmid}: volume directory ${d.path} ${d.outcome}`);
}

async function phoenixCreate(run: MigrationRun, vm: VmSpec): Promise<void> {
  const { plan, dryRun } = run;
  const command = [...plan.provisioning.phoenixCommand, String(vm.vmid)].join(' ');
  if (dryRun) {
    run.board.endStep(`VM ${vm.vmid} ${command}`, 'skipped', 'runs on the Proxmox host in a real run');
    run.report.changes.push(`VM ${vm.vmid}: run \`${command}\` on ${plan.proxmoxHost.host} (would be)`);
    return;
  }
  await run.step(
    `VM ${vm.vmid} ${command}`,
    () =>
      long.runPhoenixCreate.executeWithOptions({ summary: `${command} on ${plan.proxmoxHost.host}` }, [
        { proxmoxHost: plan.proxmoxHost, vmid: vm.vmid, command: plan.provisioning.phoenixCommand },
      ]),
    (r) => r.tail.split('\n').pop() ?? 'done',
  );
  run.report.changes.push(`VM ${vm.vmid}: \`${command}\` ran on ${plan.proxmoxHost.host}`);
}

async function feature(
  run: MigrationRun,
  vm: VmSpec,
  step: FeatureStep,
  verifyOnly: boolean,
): Promise<ProvisionedVm['features'][number]> {
  const { plan, dryRun } = run;
  const r = await run.step(
    `VM ${vm.vmid} ${step.name}`,
    () =>
      long.provisionFeature.executeWithOptions({ summary: `${verifyOnly ? 'verify ' : ''}${step.summary}` }, [
        {
          proxmox: plan.proxmox,
          vm: { vmid: vm.vmid, name: vm.name, node: vm.node },
          verifyOnly,
          dryRun,
          ...featureInput(run, step),
        },
      ]),
    (res) => `${res.outcome}${res.detail ? ` — ${res.detail}` : ''}${res.notice ? ` — ⚠ ${res.notice}` : ''}`,
  );
  return recordFeature(run, vm, r);
}

/** All of a VM's features in one activity; each one done is recorded, also when a later one fails. */
async function features(
  run: MigrationRun,
  vm: VmSpec,
  steps: FeatureStep[],
  verifyOnly: boolean,
  entry: ProvisionedVm,
): Promise<void> {
  const { plan, dryRun } = run;
  const verb = verifyOnly ? 'verify ' : '';
  try {
    const r = await run.step(
      `VM ${vm.vmid} ${steps.map((s) => s.name).join(', ')}`,
      () =>
        featureRuns.provisionFeatures.executeWithOptions(
          { summary: `${verb}${steps.map((s) => s.summary.replace(/ in VM \d+$/, '')).join('; ')} in VM ${vm.vmid}` },
          [
            {
              proxmox: plan.proxmox,
              vm: { vmid: vm.vmid, name: vm.name, node: vm.node },
              verifyOnly,
              dryRun,
              features: steps.map((step) => featureInput(run, step)),
            },
          ],
        ),
      (res) => res.features.map((f) => `${f.name} ${f.outcome}${f.notice ? ` — ⚠ ${f.notice}` : ''}`).join('; '),
    );
    for (const f of r.features) entry.features.push(recordFeature(run, vm, f));
  } catch (err) {
    for (const f of featuresDoneBefore(err)) entry.features.push(recordFeature(run, vm, f));
    throw err;
  }
}

/** What a failed `provisionFeatures` finished before the feature that failed (its failure's details say). */
function featuresDoneBefore(err: unknown): ProvisionFeatureResult[] {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const details = cause instanceof ApplicationFailure ? cause.details?.[0] : undefined;
  const done = (details as { featuresDone?: ProvisionFeatureResult[] } | undefined)?.featuresDone;
  return Array.isArray(done) ? done : [];
}

/** One feature's part of the activity input: the step, and what proves it from the worker. */
function featureInput(run: MigrationRun, step: FeatureStep): ProvisionFeaturesInput['features'][number] {
  const { plan } = run;
  const probe =
    step.feature === 'portainer_agent'
      ? { tcp: plan.portainer.agentUrl }
      : step.feature === 'portainer_server'
        ? { https: { url: plan.portainer.url, tls: plan.portainer.tls } }
        : undefined;
  const admin = plan.provisioning.portainerAdmin;
  return {
    step,
    ...(probe ? { probe } : {}),
    ...(admin && step.feature === 'portainer_server'
      ? { portainerAdmin: { ...admin, url: plan.portainer.url, tls: plan.portainer.tls } }
      : {}),
  };
}

/** The report's record of one feature: its change, and what a person must do now. */
function recordFeature(run: MigrationRun, vm: VmSpec, r: ProvisionFeatureResult): ProvisionedVm['features'][number] {
  const { report } = run;
  if (r.outcome === 'applied' || r.outcome === 'would-apply')
    report.changes.push(`VM ${vm.vmid}: ${r.name} ${r.outcome === 'applied' ? 'applied' : 'would be applied'}`);
  if (r.notice) {
    report.changes.push(`VM ${vm.vmid}: ⚠ ${r.notice}`);
    report.needsPerson.push(r.notice);
    run.notify('waiting', r.notice);
  }
  return { name: r.name, outcome: r.outcome };
}
