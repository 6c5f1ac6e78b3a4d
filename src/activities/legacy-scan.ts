/**
 * The live facts the decommission gates decide on (read-only):
 * - `inspectLegacyGuests`: each legacy CT as the node has it now — there or not, every address of every NIC, every
 *   mount point (Phoenix's LXC config no longer lists the legacy CTs; the node is the truth about them);
 * - `readGatewayRoutes`: everything nginx in the gateway CT loads (`nginx -T`), as upstream servers and literal
 *   `*_pass` addresses per file.
 */
import type { GatewaySettings, LegacyGuest, ProxmoxSettings, SshEndpoint } from '../config/resolved-plan';
import { splitNginxDump, routesOf, type GatewayRoutes } from '../nginx/loaded-config';
import { lxcAddresses, lxcMountPoints, type LxcMountPoint, type ProxmoxApi } from '../proxmox';
import { containerTarget, hostTarget, withSsh, type WorkerEnv } from '../remote';
import { FailureType } from '../failure-types';
import { refuse, toActivityFailure } from './failures';
import { createFreshReads } from './fresh-reads';
import { heartbeat } from './heartbeat';
import { converging, type ProxmoxActivityDeps } from './vms';

export interface LegacyGuestLive {
  ctid: number;
  /** False when the vmid is free on the whole cluster: nothing to delete. */
  exists: boolean;
  /** False when the vmid is taken but the token may not see the guest. */
  visible: boolean;
  type?: 'qemu' | 'lxc';
  node?: string;
  name?: string;
  status?: string;
  /** Every static address of every `netN`, in effect or pending. */
  addresses: string[];
  mountPoints: LxcMountPoint[];
}

export function createLegacyScanActivities(deps: ProxmoxActivityDeps & { env: WorkerEnv }) {
  async function inspectOne(
    api: ProxmoxApi,
    guest: LegacyGuest,
    clusterGuests: () => ReturnType<ProxmoxApi['cluster']['guests']>,
  ): Promise<LegacyGuestLive> {
    const ctid = guest.ctid;
    if (await api.cluster.vmidIsFree(ctid))
      return { ctid, exists: false, visible: true, addresses: [], mountPoints: [] };
    const found = (await clusterGuests()).find((g) => g.vmid === ctid);
    if (!found) return { ctid, exists: true, visible: false, addresses: [], mountPoints: [] };
    const type: LegacyGuestLive['type'] = found.type === 'lxc' || found.type === 'qemu' ? found.type : undefined;
    const node = found.node ?? guest.node;
    const base = { ctid, exists: true, visible: true, type, node, name: found.name };
    if (type !== 'lxc') return { ...base, status: found.status, addresses: [], mountPoints: [] };
    const current = await api.lxc.currentConfig(node, ctid);
    const withPending = await api.lxc.config(node, ctid);
    const addresses = [...new Set([...lxcAddresses(current), ...lxcAddresses(withPending)])];
    return {
      ...base,
      name: String(current.hostname ?? found.name ?? ''),
      status: found.status,
      addresses,
      mountPoints: lxcMountPoints(current),
    };
  }

  async function inspectLegacyGuests(input: {
    proxmox: ProxmoxSettings;
    guests: LegacyGuest[];
  }): Promise<LegacyGuestLive[]> {
    const api = deps.proxmoxFor(input.proxmox);
    return converging(deps, 'inspect legacy guests', async () => {
      // One list of the cluster's guests for all of them (it was read once per CT), read when the first is found
      // taken: the largest answer the API gives on a node with many guests.
      let listed: ReturnType<ProxmoxApi['cluster']['guests']> | undefined;
      const clusterGuests = () => (listed ??= api.cluster.guests());
      const out: LegacyGuestLive[] = [];
      for (const guest of input.guests) {
        out.push(await inspectOne(api, guest, clusterGuests));
        heartbeat({ what: 'inspect legacy guests', done: out.length });
      }
      return out;
    });
  }

  /** The gateway CT's loaded config as routes, one read for the scans that ask at once (fresh-reads.ts). */
  const loadedRoutes = createFreshReads<GatewayRoutes>();

  async function readGatewayRoutes(input: {
    proxmoxHost: SshEndpoint;
    gateway: GatewaySettings;
    /**
     * Only the routes a scan can use: upstreams named `keepUpstream` or with a server on one of `addresses`, literal
     * `*_pass` targets on one of them. The scan looks at nothing else, and a shared gateway's whole route table (a
     * fleet's 200 upstreams: 38 KB) went into the run's history with every scan. Absent: every route.
     */
    only?: { addresses: string[]; keepUpstream: string };
  }): Promise<GatewayRoutes> {
    const { gateway } = input;
    const endpoint = gateway.access.via === 'ssh' ? gateway.access.ssh : input.proxmoxHost;
    heartbeat({ what: 'nginx -T', on: `CT ${gateway.ctid}` });
    const key = JSON.stringify([
      endpoint.host,
      endpoint.port,
      endpoint.user,
      gateway.access.via,
      gateway.ctid,
      gateway.nginxCommand,
    ]);
    const routes = await loadedRoutes(key, () => loadRoutes(endpoint, gateway));
    heartbeat();
    return input.only ? onlyRoutesTouching(routes, input.only) : routes;
  }

  /** `nginx -T` in the gateway CT, parsed. Shared by several activities: no heartbeat or cancellation in here. */
  async function loadRoutes(endpoint: SshEndpoint, gateway: GatewaySettings): Promise<GatewayRoutes> {
    let result;
    try {
      result = await withSsh(endpoint, deps.env, (session) => {
        const target = gateway.access.via === 'ssh' ? hostTarget(session) : containerTarget(session, gateway.ctid);
        return target.run([...gateway.nginxCommand, '-T'], { timeoutMs: endpoint.commandTimeoutMs });
      });
    } catch (err) {
      throw toActivityFailure(err);
    }
    if (result.code !== 0) {
      throw refuse(
        FailureType.GatewayConfigUnreadable,
        `\`${gateway.nginxCommand.join(' ')} -T\` in CT ${gateway.ctid} exited ${result.code}: ${result.stderr.trim().slice(0, 500)}; without the loaded config no legacy CT can be shown to be unrouted, so none is deleted. Fix what the message says (an SSH gate refusal: update the gate; otherwise nginx's config fails \`nginx -t\`), then run again.`,
      );
    }
    const files = splitNginxDump(result.stdout);
    if (!files.length) {
      throw refuse(
        FailureType.GatewayConfigUnreadable,
        `\`${gateway.nginxCommand.join(' ')} -T\` in CT ${gateway.ctid} printed no configuration file; none is deleted.`,
      );
    }
    try {
      return routesOf(files);
    } catch (err) {
      throw refuse(
        FailureType.GatewayConfigUnreadable,
        `nginx's loaded config in CT ${gateway.ctid} could not be read for routes: ${(err as Error).message}`,
      );
    }
  }

  return { inspectLegacyGuests, readGatewayRoutes };
}

export function onlyRoutesTouching(
  routes: GatewayRoutes,
  only: { addresses: string[]; keepUpstream: string },
): GatewayRoutes {
  const on = new Set(only.addresses);
  return {
    files: routes.files,
    upstreams: routes.upstreams.filter((u) => u.name === only.keepUpstream || u.servers.some((s) => on.has(s.host))),
    literals: routes.literals.filter((l) => on.has(l.host)),
  };
}
