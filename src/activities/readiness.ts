/**
 * Phase 4a: is the world ready for the person's Portainer step? Docker on both VMs, the Portainer server answering,
 * the agent listening, the NFS share mounted in VM 1001 with the compose file visible. Missing items are answers with
 * a fix, not failures: the workflow waits and re-checks.
 */
import net from 'node:net';
import { request } from 'undici';
import type { ResolvedPlan, VmSpec } from '../config/resolved-plan';
import { dispatcherFor } from '../http/tls';
import { guestExec, type ProxmoxApi } from '../proxmox';
import type { ProxmoxSettings } from '../config/resolved-plan';
import { heartbeat } from './heartbeat';
import { withFailureTranslation } from './failures';

export interface ReadinessDeps {
  proxmoxFor(settings: ProxmoxSettings): ProxmoxApi;
  /** How long one probe may take. */
  probeTimeoutMs?: number;
}

export interface MissingItem {
  item: string;
  fix: string;
}

export interface ReadinessResult {
  missing: MissingItem[];
  checked: string[];
}

export function createReadinessActivities(deps: ReadinessDeps) {
  const timeoutMs = deps.probeTimeoutMs ?? 5000;

  async function dockerRunning(api: ProxmoxApi, vm: VmSpec): Promise<MissingItem | undefined> {
    try {
      const res = await guestExec(api, vm.node, vm.vmid, ['docker', 'info', '--format', '{{.ServerVersion}}'], {
        timeoutMs,
      });
      if (res.exitcode === 0) return undefined;
      return {
        item: `Docker not running on VM ${vm.vmid} (${vm.name})`,
        fix: `apply the docker feature to VM ${vm.vmid} (or \`systemctl start docker\` in it): ${res.stderr.trim().split('\n')[0] ?? ''}`.trim(),
      };
    } catch (err) {
      return {
        item: `VM ${vm.vmid} (${vm.name}) cannot run commands through the guest agent`,
        fix: `check that VM ${vm.vmid} runs and qemu-guest-agent is up: ${(err as Error).message}`,
      };
    }
  }

  async function composeFileVisible(api: ProxmoxApi, vm: VmSpec, guestPath: string): Promise<MissingItem | undefined> {
    try {
      const res = await guestExec(api, vm.node, vm.vmid, ['test', '-f', guestPath], { timeoutMs });
      if (res.exitcode === 0) return undefined;
      const vol = vm.volumes[0];
      return {
        item: `the compose file ${guestPath} is not visible in VM ${vm.vmid} (${vm.name})`,
        fix: vol
          ? `mount the NFS share ${vol.server ? `${vol.server}:` : ''}${vol.path} at ${vol.mountPoint} in VM ${vm.vmid}`
          : `mount the persistent storage in VM ${vm.vmid}`,
      };
    } catch (err) {
      return {
        item: `VM ${vm.vmid} (${vm.name}) cannot run commands through the guest agent`,
        fix: (err as Error).message,
      };
    }
  }

  async function portainerAnswers(plan: ResolvedPlan): Promise<MissingItem | undefined> {
    const dispatcher = dispatcherFor(plan.portainer.tls, {
      connectTimeoutMs: timeoutMs,
      what: 'Portainer',
      planField: 'portainer.tls',
    });
    try {
      const res = await request(`${plan.portainer.url.replace(/\/$/, '')}/api/system/status`, {
        dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump();
      // Any HTTP answer means the server is up; auth is checked later, if credentials are configured.
      return undefined;
    } catch (err) {
      return {
        item: `Portainer does not answer at ${plan.portainer.url}`,
        fix: `start the Portainer server stack on the orchestrator VM (${(err as Error).message})`,
      };
    } finally {
      await dispatcher.close().catch(() => undefined);
    }
  }

  async function agentListens(agentUrl: string): Promise<MissingItem | undefined> {
    const m = /^tcp:\/\/([^:/]+):(\d+)$/.exec(agentUrl);
    if (!m)
      return { item: `the agent URL ${agentUrl} is not tcp://HOST:PORT`, fix: 'fix portainer.agentUrl in the plan' };
    const [, host, port] = m;
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port: Number(port), timeout: timeoutMs });
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
    return ok
      ? undefined
      : {
          item: `the Portainer agent does not listen on ${host}:${port}`,
          fix: `start portainer/agent on the Dr-Phoenix VM (port ${port})`,
        };
  }

  return withFailureTranslation({
    async checkReadiness(input: { plan: ResolvedPlan }): Promise<ReadinessResult> {
      const { plan } = input;
      const api = deps.proxmoxFor(plan.proxmox);
      const missing: MissingItem[] = [];
      const checked: string[] = [];
      const add = (name: string, m: MissingItem | undefined) => {
        checked.push(name);
        if (m) missing.push(m);
        heartbeat({ checked: checked.length });
      };
      for (const vm of plan.vms) {
        if (vm.features.includes('docker') || vm.portainerRole)
          add(`docker on ${vm.vmid}`, await dockerRunning(api, vm));
        for (const file of plan.composeFiles.filter((f) => f.vmid === vm.vmid)) {
          add(`${file.guestPath} in ${vm.vmid}`, await composeFileVisible(api, vm, file.guestPath));
        }
      }
      add('portainer server', await portainerAnswers(plan));
      add('portainer agent', await agentListens(plan.portainer.agentUrl));
      return { missing, checked };
    },
  });
}
