import { clusterApi, storageApi } from './cluster';
import { createProxmoxHttp, type ProxmoxClientOptions, type ProxmoxHttp } from './client';
import { lxcApi } from './lxc';
import { qemuApi } from './qemu';
import { shareTaskWatchers } from './task-watcher';

/** One HTTP core, with a small client per API area. Also usable as a plain ProxmoxHttp (for tasks, guests). */
export interface ProxmoxApi extends ProxmoxHttp {
  readonly qemu: ReturnType<typeof qemuApi>;
  readonly lxc: ReturnType<typeof lxcApi>;
  readonly cluster: ReturnType<typeof clusterApi>;
  readonly storage: ReturnType<typeof storageApi>;
}

export function proxmoxApiOver(http: ProxmoxHttp): ProxmoxApi {
  const api: ProxmoxApi = {
    baseUrl: http.baseUrl,
    get: http.get.bind(http),
    post: http.post.bind(http),
    put: http.put.bind(http),
    delete: http.delete.bind(http),
    close: http.close.bind(http),
    qemu: qemuApi(http),
    lxc: lxcApi(http),
    cluster: clusterApi(http),
    storage: storageApi(http),
  };
  shareTaskWatchers(api, http); // waits through either object share one watcher per node
  return api;
}

export function createProxmoxApi(options: ProxmoxClientOptions): ProxmoxApi {
  return proxmoxApiOver(createProxmoxHttp(options));
}
