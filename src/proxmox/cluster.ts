import type { ProxmoxHttp } from './client';
import { isProxmoxError } from './errors';

export interface ClusterResource {
  id: string;
  type: 'qemu' | 'lxc' | string;
  vmid?: number;
  node?: string;
  name?: string;
  status?: string;
  template?: number;
  lock?: string;
  tags?: string;
}

export interface BackupVolume {
  volid: string;
  ctime: number;
  size?: number;
  format?: string;
  vmid?: number;
  notes?: string;
  protected?: number;
}

export interface VzdumpParams {
  vmid: number;
  storage: string;
  mode: 'snapshot' | 'suspend' | 'stop';
  compress: string;
  notesTemplate?: string;
  protected?: boolean;
}

export function clusterApi(http: ProxmoxHttp) {
  return {
    guests: () => http.get<ClusterResource[]>('/cluster/resources', { type: 'vm' }),
    /**
     * Whether a vmid is free anywhere in the cluster. Authoritative (unlike /cluster/resources, which hides
     * guests the token may not audit): 400 "VM N already exists" means taken.
     */
    async vmidIsFree(vmid: number): Promise<boolean> {
      try {
        await http.get<string>('/cluster/nextid', { vmid });
        return true;
      } catch (err) {
        if (isProxmoxError(err) && err.kind === 'already-exists') return false;
        throw err;
      }
    },
    nodes: () => http.get<{ node: string; status: string }[]>('/nodes'),
  };
}

export function storageApi(http: ProxmoxHttp) {
  return {
    backups: (node: string, storage: string, vmid: number) =>
      http.get<BackupVolume[]>(`/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/content`, {
        content: 'backup',
        vmid,
      }),
    /** → UPID (`vzdump`), or `OK` when none of the guests is on this node. */
    vzdump: (node: string, p: VzdumpParams) =>
      http.post<string>(`/nodes/${encodeURIComponent(node)}/vzdump`, {
        vmid: String(p.vmid),
        storage: p.storage,
        mode: p.mode,
        compress: p.compress,
        'notes-template': p.notesTemplate,
        protected: p.protected,
      }),
  };
}

export type ClusterApi = ReturnType<typeof clusterApi>;
export type StorageApi = ReturnType<typeof storageApi>;
