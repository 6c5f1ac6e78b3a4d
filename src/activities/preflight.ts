/**
 * Phase 1 on live state: does the world look the way the plan assumes? Only reads; lists everything that is wrong
 * (with the fix) instead of stopping at the first problem, so the operator fixes it all in one go.
 */
import type { GatewaySettings, ProxmoxSettings, ResolvedPlan, SshEndpoint } from '../config/resolved-plan';
import type { ProxmoxApi } from '../proxmox';
import { hostTarget, withSsh, type WorkerEnv } from '../remote';
import type { MissingItem } from './readiness';
import { heartbeat } from './heartbeat';
import { comparePhoenixEntries } from './phoenix-entry';
import { adoptionDiff } from './vms';
import { withFailureTranslation } from './failures';

export interface PreflightDeps {
  env: WorkerEnv;
  proxmoxFor(settings: ProxmoxSettings): ProxmoxApi;
  readGateway(input: {
    proxmoxHost: SshEndpoint;
    gateway: GatewaySettings;
  }): Promise<{ upstreams: { name: string }[] }>;
}

export interface PreflightResult {
  problems: MissingItem[];
  checks: string[];
  notes: string[];
}

const emptyFindings = (): PreflightResult => ({ problems: [], checks: [], notes: [] });

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function createPreflightActivities(deps: PreflightDeps) {
  /** The template, the planned vmids, the legacy CTs and the gateway CT, from the Proxmox API. */
  async function proxmoxFindings(plan: ResolvedPlan): Promise<PreflightResult> {
    const { problems, checks, notes } = emptyFindings();
    const api = deps.proxmoxFor(plan.proxmox);
    // Proxmox: one listing answers most questions; `nextid` is the authoritative "is this vmid free".
    const guests = await api.cluster.guests();
    const byId = new Map(guests.map((g) => [g.vmid, g]));
    const template = byId.get(plan.templateVmid);
    if (!template)
      problems.push({
        item: `template ${plan.templateVmid} is not on the cluster`,
        fix: `create or restore the template, or fix clone_from_vmid`,
      });
    else if (!template.template)
      problems.push({
        item: `guest ${plan.templateVmid} is not a template`,
        fix: `convert it with \`qm template ${plan.templateVmid}\` or pick the right clone_from_vmid`,
      });
    else checks.push(`template ${plan.templateVmid} present`);

    // Each VM's questions at once (nextid, and the config of a VM to adopt); findings kept in plan order.
    const perVm = await Promise.all(
      plan.vms.map(async (vm): Promise<PreflightResult> => {
        const { problems, checks, notes } = emptyFindings();
        const free = await api.cluster.vmidIsFree(vm.vmid);
        if (free) {
          checks.push(`vmid ${vm.vmid} free`);
          return { problems, checks, notes };
        }
        const existing = byId.get(vm.vmid);
        const tags = (existing?.tags ?? '').split(/[;,\s]+/);
        if (existing && tags.includes(plan.proxmox.ownerTag)) {
          checks.push(`vmid ${vm.vmid} exists and is ours (tag ${plan.proxmox.ownerTag}): will be converged`);
        } else if (existing && vm.adopt && existing.type === 'qemu' && !existing.template) {
          const config = await api.qemu.config(existing.node ?? vm.node, vm.vmid);
          const diff = adoptionDiff(vm, plan.proxmox.ownerTag, config);
          checks.push(
            `VM ${vm.vmid} "${existing.name}" exists and will be adopted (converged in place, never recloned): ${diff.join('; ') || 'already as planned'}`,
          );
        } else {
          problems.push({
            item: `vmid ${vm.vmid} is taken by ${existing ? `${existing.type} "${existing.name}" on ${existing.node}` : 'a guest this token cannot see'} that phoenix-migrate did not create`,
            fix:
              existing?.type === 'qemu' && !existing.template
                ? `to converge that VM in place write {"vmid": ${vm.vmid}, "existing": "adopt"} in the plan's vms; or pick another vmid for ${vm.name}, or remove that guest (never done automatically)`
                : `pick another vmid for ${vm.name}, or remove that guest (never done automatically)`,
          });
        }
        return { problems, checks, notes };
      }),
    );
    for (const f of perVm) {
      problems.push(...f.problems);
      checks.push(...f.checks);
      notes.push(...f.notes);
    }

    for (const legacy of plan.legacyGuests) {
      const g = byId.get(legacy.ctid);
      if (!g)
        notes.push(
          `CT ${legacy.ctid}${legacy.name ? ` (${legacy.name})` : ''} is already absent: it will be skipped${legacy.name ? '' : ', and a guest that takes its id later is refused'}`,
        );
      else if (g.type !== 'lxc')
        problems.push({
          item: `legacy guest ${legacy.ctid} is a ${g.type}, not a container`,
          fix: 'fix legacyGuests in the plan',
        });
      else if (legacy.name === undefined)
        checks.push(
          `CT ${legacy.ctid} present as "${g.name}": the plan names none, so this name is pinned for the run`,
        );
      else if (g.name !== legacy.name)
        problems.push({
          item: `CT ${legacy.ctid} is named "${g.name}", the plan expects "${legacy.name}"`,
          fix: 'make sure it is the guest you mean, then fix its name in the plan or the LXC config',
        });
      else checks.push(`CT ${legacy.ctid} (${legacy.name}) present`);
    }
    const gatewayGuest = byId.get(plan.gateway.ctid);
    if (!gatewayGuest)
      problems.push({
        item: `gateway CT ${plan.gateway.ctid} is not on the cluster`,
        fix: 'fix gateway.ctid in the plan',
      });
    else if (gatewayGuest.status !== 'running')
      problems.push({
        item: `gateway CT ${plan.gateway.ctid} is ${gatewayGuest.status}`,
        fix: `start it: pct start ${plan.gateway.ctid}`,
      });
    heartbeat({ proxmox: 'checked' });
    return { problems, checks, notes };
  }

  /** The gateway: reachable, its site file has the upstream we move. */
  async function gatewayFindings(plan: ResolvedPlan): Promise<PreflightResult> {
    const { problems, checks, notes } = emptyFindings();
    // The gateway: reachable, its site file has the upstream we move.
    try {
      const gw = await deps.readGateway({ proxmoxHost: plan.proxmoxHost, gateway: plan.gateway });
      if (gw.upstreams.some((u) => u.name === plan.gateway.upstream))
        checks.push(`gateway has upstream ${plan.gateway.upstream}`);
      else
        problems.push({
          item: `${plan.gateway.siteFile} has no upstream ${plan.gateway.upstream}`,
          fix: `fix gateway.upstream or gateway.siteFile in the plan (found: ${gw.upstreams.map((u) => u.name).join(', ') || 'none'})`,
        });
    } catch (err) {
      problems.push({ item: `the gateway (CT ${plan.gateway.ctid}) cannot be read`, fix: errText(err) });
    }
    heartbeat({ gateway: 'checked' });
    return { problems, checks, notes };
  }

  /** The Proxmox host over SSH: Phoenix's VM config (phoenix-cli) and the NFS exports. */
  async function hostFindings(plan: ResolvedPlan): Promise<PreflightResult> {
    const { problems, checks, notes } = emptyFindings();
    // The NFS exports the compose files go to exist on the Proxmox host before any VM does.
    // Only the exports Phase 2 writes compose files to: a VM's own directory is made with the VM (Phase 3, or
    // Phoenix's `phoenix create`), so a VM without compose files may not have one yet.
    const withFiles = new Set(plan.composeFiles.map((f) => f.vmid));
    const exportDirs = [
      ...new Set(
        plan.vms
          .filter((vm) => withFiles.has(vm.vmid))
          .flatMap((vm) => vm.volumes.filter((v) => v.type === 'nfs').map((v) => v.path)),
      ),
    ];
    try {
      await withSsh(plan.proxmoxHost, deps.env, async (session) => {
        const host = hostTarget(session);
        if (plan.provisioning.provisioner === 'phoenix-cli') {
          const file = plan.provisioning.phoenixVmConfig;
          const read = await host.run(['cat', '--', file]);
          const found =
            read.code === 0
              ? comparePhoenixEntries(plan.vms, read.stdout, file)
              : [
                  {
                    item: `Phoenix's VM config ${file} cannot be read on ${plan.proxmoxHost.host} (exit ${read.code}: ${read.stderr.trim()})`,
                    fix: 'the phoenix-cli provisioner compares it with the plan: check provisioning.phoenixVmConfig and the SSH gate',
                  },
                ];
          problems.push(...found);
          if (!found.length)
            checks.push(`Phoenix's own entries for VM ${plan.vms.map((v) => v.vmid).join(', ')} agree with the plan`);
        }
        for (const dir of exportDirs) {
          const res = await host.run(['test', '-d', dir]);
          if (res.code === 0) checks.push(`NFS export ${dir} present`);
          else if (plan.provisioning.provisioner !== 'none')
            notes.push(
              `NFS export ${dir} is missing: Phase 3 creates it (${plan.provisioning.provisioner} provisioner)`,
            );
          else
            problems.push({
              item: `NFS export ${dir} is missing on ${plan.proxmoxHost.host}`,
              fix: `create it (mkdir -p ${dir}) and export it, as the Phoenix NFS setup does`,
            });
        }
      });
    } catch (err) {
      problems.push({
        item: `the Proxmox host ${plan.proxmoxHost.host} cannot be reached by SSH`,
        fix: errText(err),
      });
    }
    return { problems, checks, notes };
  }

  return withFailureTranslation({
    async preflight(input: { plan: ResolvedPlan }): Promise<PreflightResult> {
      // Three independent sources, asked at once (Phase 1 is on the run's critical path); findings in this order.
      const parts = await Promise.all([
        proxmoxFindings(input.plan),
        gatewayFindings(input.plan),
        hostFindings(input.plan),
      ]);
      return {
        problems: parts.flatMap((p) => p.problems),
        checks: parts.flatMap((p) => p.checks),
        notes: parts.flatMap((p) => p.notes),
      };
    },
  });
}
