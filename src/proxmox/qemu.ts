import type { Params, ProxmoxHttp } from './client';

/** A guest config as GET …/config returns it: numbers for most fields, strings for memory/startup/agent/… */
export type GuestConfig = Record<string, string | number | undefined>;

export interface PendingEntry {
  key: string;
  value?: string | number;
  pending?: string | number;
  delete?: number;
}

export interface QemuStatus {
  status: 'running' | 'stopped';
  name?: string;
  lock?: string;
  qmpstatus?: string;
  agent?: number;
  uptime?: number;
  template?: number;
}

export interface CloneParams extends Params {
  newid: number;
  name?: string;
  full?: boolean;
  storage?: string;
  target?: string;
  description?: string;
}

const vmPath = (node: string, vmid: number) => `/nodes/${encodeURIComponent(node)}/qemu/${vmid}`;

export function qemuApi(http: ProxmoxHttp) {
  return {
    list: (node: string) =>
      http.get<{ vmid: number; name?: string; status: string; template?: number }[]>(
        `/nodes/${encodeURIComponent(node)}/qemu`,
      ),
    /** The config with pending changes applied (PVE's default), or the running one with `current`. */
    config: (node: string, vmid: number, current = false) =>
      http.get<GuestConfig>(`${vmPath(node, vmid)}/config`, current ? { current: 1 } : undefined),
    pending: (node: string, vmid: number) => http.get<PendingEntry[]>(`${vmPath(node, vmid)}/pending`),
    /** Synchronous config update (PUT); returns nothing. */
    setConfig: (node: string, vmid: number, params: Params) => http.put<null>(`${vmPath(node, vmid)}/config`, params),
    status: (node: string, vmid: number) => http.get<QemuStatus>(`${vmPath(node, vmid)}/status/current`),
    /** → UPID (type `qmclone`, id = source vmid). */
    clone: (node: string, sourceVmid: number, params: CloneParams) =>
      http.post<string>(`${vmPath(node, sourceVmid)}/clone`, params),
    /** → UPID on PVE ≥ 8, null on PVE 7. */
    resize: (node: string, vmid: number, disk: string, size: string) =>
      http.put<string | null>(`${vmPath(node, vmid)}/resize`, { disk, size }),
    start: (node: string, vmid: number) => http.post<string>(`${vmPath(node, vmid)}/status/start`),
    shutdown: (node: string, vmid: number, timeoutSec?: number) =>
      http.post<string>(`${vmPath(node, vmid)}/status/shutdown`, { timeout: timeoutSec }),
    stop: (node: string, vmid: number) => http.post<string>(`${vmPath(node, vmid)}/status/stop`),
  };
}

export type QemuApi = ReturnType<typeof qemuApi>;
