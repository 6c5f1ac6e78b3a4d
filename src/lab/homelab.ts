/**
 * The real Phoenix homelab's containers and storage at the moment of the migration — what the tool meets on the node,
 * as opposed to what Phoenix's LXC config still lists (the legacy CTs have left that file while they keep running).
 * Facts from Phoenix Hypervisor's public sources (see docs/architecture.md, "The lab's world"); addresses are the
 * real ones (10.0.0.N): the lab maps them onto loopback like every other address.
 *
 * CT 953 (the old gateway, once 10.0.0.153) is already gone and so is absent here.
 */

export const HOMELAB_NODE = 'phoenix';

/** Storage pools on the node (ids as `pvesm status` lists them). */
export const HOMELAB_STORAGE = {
  vmDisks: 'quickOS-vm-disks',
  ctDisks: 'quickOS-lxc-disks',
  dataVolumes: 'quickOS-shared-prod-data-volumes',
  bulkData: 'fastData-shared-bulk-data',
  backups: 'fastData-shared-backups',
} as const;

export interface HomelabContainer {
  ctid: number;
  name: string;
  /** net0's address (real, 10.0.0.N). */
  ip: string;
  mac?: string;
  /** Root disk size (GB) on quickOS-lxc-disks. */
  rootfsGb: number;
  /** Where the root disk lives (default quickOS-lxc-disks). */
  rootfsStorage?: string;
  /**
   * Mount points as Proxmox writes them in the CT's config: a volume (`<storage>:<volume>,mp=…,size=…`), which the
   * delete destroys and vzdump skips unless `backup=1`; or a bind mount (`/host/path,mp=…`), which neither touches.
   */
  mountPoints?: Record<string, string>;
  /** A legacy CT the plan retires. */
  legacy?: boolean;
}

export const HOMELAB_CONTAINERS: HomelabContainer[] = [
  {
    ctid: 101,
    name: 'Nginx-Phoenix',
    ip: '10.0.0.153',
    mac: '52:54:00:67:89:B1',
    rootfsGb: 32,
    mountPoints: { mp0: '/quickOS/lxc-persistent-data/101/logs,mp=/logs/nginx' },
  },
  { ctid: 801, name: 'granite-embedding', ip: '10.0.0.141', mac: '52:54:00:67:89:41', rootfsGb: 64 },
  {
    ctid: 950,
    name: 'vllm-qwen2.5-7b-awq',
    ip: '10.0.0.150',
    mac: '52:54:00:67:89:50',
    rootfsGb: 128,
    mountPoints: { mp0: `${HOMELAB_STORAGE.bulkData}:subvol-950-disk-1,mp=/vllm_models,size=50G` },
    legacy: true,
  },
  {
    ctid: 951,
    name: 'vllm-granite-embed-r2',
    ip: '10.0.0.151',
    mac: '52:54:00:67:89:51',
    rootfsGb: 128,
    mountPoints: { mp0: `${HOMELAB_STORAGE.bulkData}:subvol-951-disk-1,mp=/vllm_models,size=50G` },
    legacy: true,
  },
  {
    ctid: 952,
    name: 'qdrant-VSCodeRag',
    ip: '10.0.0.152',
    mac: '52:54:00:67:89:52',
    rootfsGb: 64,
    mountPoints: { mp0: `${HOMELAB_STORAGE.dataVolumes}:subvol-952-disk-1,mp=/qdrant/storage,size=20G` },
    legacy: true,
  },
];

/** The other upstreams of the real gateway site (`qdrant_service` is the one the migration moves). Real addresses. */
export const HOMELAB_UPSTREAMS: { name: string; server: string }[] = [
  { name: 'embedding_service', server: '10.0.0.141:8000' },
  { name: 'qwen_service', server: '10.0.0.150:8000' },
  { name: 'n8n_service', server: '10.0.0.154:5678' },
  { name: 'open_webui_service', server: '10.0.0.120:8080' },
  { name: 'ollama_service', server: '10.0.0.155:11434' },
  { name: 'llamacpp_service', server: '10.0.0.157:8081' },
  { name: 'portainer_service', server: '10.0.0.101:9443' },
];
