import type { GuestImage } from '../guest-sandbox/images';
import type { ConfigValue, ExecRule, SimGuest, SimGuestSeed, SimState, WorldSeed } from './types';

export function emptyState(): SimState {
  return { nodes: [], guests: {}, tasks: [], backups: {}, exec: [], nextPid: 0x1a2b };
}

function macFor(vmid: number): string {
  const hex = vmid.toString(16).padStart(6, '0');
  return `BC:24:11:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`.toUpperCase();
}

function guestFromSeed(seed: SimGuestSeed, world: WorldSeed): SimGuest {
  const node = seed.node ?? world.node;
  const config: Record<string, string | number> = { name: seed.name };
  if (seed.type === 'qemu') {
    Object.assign(config, {
      cores: 2,
      memory: '2048',
      sockets: 1,
      ostype: 'l26',
      scsihw: 'virtio-scsi-single',
      boot: 'order=scsi0;ide2;net0',
      scsi0: `${world.storage}:${seed.template ? 'base' : 'vm'}-${seed.vmid}-disk-0,iothread=1,size=32G`,
      ide2: `${world.storage}:vm-${seed.vmid}-cloudinit,media=cdrom`,
      net0: `virtio=${macFor(seed.vmid)},bridge=vmbr0`,
      ipconfig0: seed.ip ? `ip=${seed.ip}/24` : 'ip=dhcp',
      serial0: 'socket',
      vga: 'serial0',
    });
    if (seed.agent !== false) config.agent = 'enabled=1';
    if (seed.template) config.template = 1;
  } else {
    Object.assign(config, {
      hostname: seed.name,
      arch: 'amd64',
      cores: 2,
      memory: 2048,
      swap: 512,
      ostype: 'ubuntu',
      rootfs: `${world.storage}:vm-${seed.vmid}-disk-0,size=16G`,
      net0: `name=eth0,bridge=vmbr0,hwaddr=${macFor(seed.vmid)},ip=${seed.ip ? `${seed.ip}/24` : 'dhcp'},type=veth`,
      onboot: 1,
      unprivileged: 1,
    });
    delete config.name;
  }
  if (seed.tags?.length) config.tags = seed.tags.join(';');
  if (seed.protection) config.protection = 1;
  if (seed.description) config.description = seed.description;
  Object.assign(config, seed.config ?? {});
  const running = (seed.status ?? 'stopped') === 'running';
  return {
    vmid: seed.vmid,
    type: seed.type,
    node,
    status: running ? 'running' : 'stopped',
    lock: seed.lock,
    config,
    pending: {},
    pendingDelete: [],
    startedAt: running ? Date.now() : undefined,
    agentReadyAt: running ? Date.now() : undefined,
    exec: seed.exec ?? [],
    execRuns: {},
    nextExecPid: 1000,
    ignoresShutdown: seed.ignoresShutdown ?? false,
    ...(seed.image ? { image: seed.image } : {}),
    ...(world.backupLockDomain ? { backupLockDomain: world.backupLockDomain } : {}),
  };
}

/** Add a world to the state; vmids must not collide with guests already there. */
export function addWorld(state: SimState, world: WorldSeed): void {
  const backupStorage = world.backupStorage ?? 'local';
  let node = state.nodes.find((n) => n.node === world.node);
  if (!node) {
    node = { node: world.node, storages: [] };
    state.nodes.push(node);
  }
  for (const s of [world.storage, backupStorage, ...(world.extraStorages ?? [])])
    if (!node.storages.includes(s)) node.storages.push(s);
  state.backups[backupStorage] ??= [];
  for (const seed of world.guests) {
    if (state.guests[seed.vmid])
      throw new Error(`proxmox-sim: vmid ${seed.vmid} is seeded twice (worlds must use distinct vmid ranges)`);
    const gnode = seed.node ?? world.node;
    if (!state.nodes.some((n) => n.node === gnode))
      state.nodes.push({ node: gnode, storages: [world.storage, backupStorage] });
    state.guests[seed.vmid] = guestFromSeed(seed, world);
  }
}

export interface PhoenixWorldOptions {
  node?: string;
  storage?: string;
  backupStorage?: string;
  templateVmid?: number;
  templateName?: string;
  templateDiskGb?: number;
  gatewayCtid?: number;
  gatewayName?: string;
  gatewayIp?: string;
  /** Extra config of the gateway CT (e.g. its bind mount `mp0`). */
  gatewayConfig?: Record<string, ConfigValue>;
  legacy?: {
    ctid: number;
    name: string;
    ip?: string;
    running?: boolean;
    protection?: boolean;
    /** Extra/overriding config keys (mount points `mpN`, `rootfs`, …). */
    config?: Record<string, ConfigValue>;
  }[];
  /** Guests that are neither template, gateway nor legacy (e.g. CT 801): there, never to be touched. */
  others?: SimGuestSeed[];
  /** Storage pools besides the clone target and the backup storage. */
  extraStorages?: string[];
  /** Agent exec answers for VMs cloned from the template (e.g. `docker info` → 0). */
  exec?: ExecRule[];
  /** The template's disk image: with a guest sandbox, its clones run real commands in a root built from it. */
  templateImage?: GuestImage;
  /** VMs that exist before the run (e.g. 1001 "Dr-Phoenix", running the Portainer server). */
  vms?: SimGuestSeed[];
}

/**
 * The pre-migration Phoenix world: the Ubuntu cloud template (9000), the nginx gateway LXC (101, running)
 * and the legacy CTs (950–953) that the migration replaces.
 */
export function seedFromPhoenixWorld(opts: PhoenixWorldOptions = {}): WorldSeed {
  const templateVmid = opts.templateVmid ?? 9000;
  const legacy = opts.legacy ?? [
    { ctid: 950, name: 'lxc-vllm-embed', ip: '10.0.0.150' },
    { ctid: 951, name: 'lxc-vllm-chat', ip: '10.0.0.151' },
    { ctid: 952, name: 'qdrant-lxc', ip: '10.0.0.152' },
    { ctid: 953, name: 'api-gateway-lxc', ip: '10.0.0.153' },
  ];
  const storage = opts.storage ?? 'local-lvm';
  const guests: SimGuestSeed[] = [
    {
      vmid: templateVmid,
      type: 'qemu',
      name: opts.templateName ?? 'ubuntu-2404-cloud-template',
      template: true,
      status: 'stopped',
      config: { scsi0: `${storage}:base-${templateVmid}-disk-0,iothread=1,size=${opts.templateDiskGb ?? 32}G` },
      exec: opts.exec,
      ...(opts.templateImage ? { image: opts.templateImage } : {}),
    },
    ...(opts.vms ?? []),
    {
      vmid: opts.gatewayCtid ?? 101,
      type: 'lxc',
      name: opts.gatewayName ?? 'nginx-gateway',
      status: 'running',
      ip: opts.gatewayIp ?? '10.0.0.153',
      config: opts.gatewayConfig,
    },
    ...legacy.map((l): SimGuestSeed => ({
      vmid: l.ctid,
      type: 'lxc',
      name: l.name,
      ip: l.ip,
      status: l.running === false ? 'stopped' : 'running',
      protection: l.protection,
      config: l.config,
    })),
    ...(opts.others ?? []),
  ];
  return {
    node: opts.node ?? 'pve',
    storage,
    backupStorage: opts.backupStorage ?? 'local',
    extraStorages: opts.extraStorages,
    guests,
  };
}
