import type { ProxmoxHttp } from './client';
import type { GuestConfig } from './qemu';

export interface LxcStatus {
  status: 'running' | 'stopped';
  name?: string;
  lock?: string;
  uptime?: number;
}

const ctPath = (node: string, vmid: number) => `/nodes/${encodeURIComponent(node)}/lxc/${vmid}`;

export function lxcApi(http: ProxmoxHttp) {
  return {
    list: (node: string) =>
      http.get<{ vmid: number | string; name?: string; status: string; lock?: string }[]>(
        `/nodes/${encodeURIComponent(node)}/lxc`,
      ),
    /** With pending changes applied (Proxmox's default view). */
    config: (node: string, vmid: number) => http.get<GuestConfig>(`${ctPath(node, vmid)}/config`),
    /** What is in effect now (`current=1`): a change still pending on a running CT is not in here. */
    currentConfig: (node: string, vmid: number) =>
      http.get<GuestConfig>(`${ctPath(node, vmid)}/config`, { current: 1 }),
    /** Every key with its current value and, when a change waits for the next start, `pending` / `delete`. */
    pending: (node: string, vmid: number) =>
      http.get<{ key: string; value?: unknown; pending?: unknown; delete?: number }[]>(`${ctPath(node, vmid)}/pending`),
    /** Synchronous `PUT …/config` (null); `digest` makes it refuse if the config changed since it was read. */
    setConfig: (node: string, vmid: number, params: Record<string, string | number>) =>
      http.put<null>(`${ctPath(node, vmid)}/config`, params),
    status: (node: string, vmid: number) => http.get<LxcStatus>(`${ctPath(node, vmid)}/status/current`),
    /** → UPID (`vzshutdown`); 500 `CT N not running` when stopped. */
    shutdown: (node: string, vmid: number, timeoutSec: number, forceStop = false) =>
      http.post<string>(`${ctPath(node, vmid)}/status/shutdown`, { timeout: timeoutSec, forceStop }),
    /** → UPID (`vzstop`); 500 `CT N not running` when stopped. */
    stop: (node: string, vmid: number) => http.post<string>(`${ctPath(node, vmid)}/status/stop`),
    /** → UPID (`vzdestroy`). Parameters go in the query string. */
    destroy: (node: string, vmid: number) =>
      http.delete<string>(ctPath(node, vmid), { purge: 1, 'destroy-unreferenced-disks': 1 }),
  };
}

export type LxcApi = ReturnType<typeof lxcApi>;
