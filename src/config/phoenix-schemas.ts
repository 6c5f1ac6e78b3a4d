/**
 * Schemas for Phoenix's own config files (`phoenix_vm_configs.json`, `phoenix_lxc_configs.json`), shaped as the real
 * files are. They carry many fields we do not use, so every object is loose (unknown keys pass); the fields we do
 * use are checked strictly. Phoenix's shipped JSON schemas drift from the files, so we do not use them.
 */
import { z } from 'zod';

const vmid = z.number().int();
const positiveInt = z.number().int().positive();

export const vmNetworkConfigSchema = z.looseObject({
  /** `CIDR` or `dhcp`. */
  ip: z.string(),
  gw: z.string().optional(),
  nameserver: z.string().optional(),
  mac_address: z.string().optional(),
});

export const vmVolumeSchema = z.looseObject({
  type: z.literal('nfs'),
  name: z.string().optional(),
  path: z.string().min(1),
  mount_point: z.string().min(1),
  server: z.string().optional(),
});

export const composeFileEntrySchema = z.looseObject({
  source: z.string().min(1),
  destination: z.string().min(1),
});

/** A VM entry after `vm_defaults` were applied. */
export const vmEntrySchema = z.looseObject({
  vmid,
  name: z.string().min(1),
  clone_from_vmid: vmid.optional(),
  is_template: z.boolean().optional(),
  cores: positiveInt.optional(),
  memory_mb: positiveInt.optional(),
  disk_size_gb: positiveInt.optional(),
  storage_pool: z.string().min(1).optional(),
  start_at_boot: z.boolean().optional(),
  boot_order: z.number().int().nonnegative().optional(),
  boot_delay: z.number().int().nonnegative().optional(),
  features: z.array(z.string()).optional(),
  portainer_role: z.enum(['primary', 'agent']).optional(),
  network_config: vmNetworkConfigSchema.optional(),
  user_config: z.looseObject({ username: z.string().min(1).optional() }).optional(),
  volumes: z.array(vmVolumeSchema).optional(),
  docker_compose_files: z.array(composeFileEntrySchema).optional(),
  dependencies: z.array(z.union([z.string(), z.number()])).optional(),
});

export const vmConfigFileSchema = z.looseObject({
  vm_defaults: z.record(z.string(), z.unknown()).optional(),
  vms: z.array(z.unknown()),
});

export const lxcEntrySchema = z.looseObject({
  name: z.string().min(1),
  network_config: z
    .looseObject({
      name: z.string().optional(),
      bridge: z.string().optional(),
      ip: z.string().optional(),
      gw: z.string().optional(),
    })
    .optional(),
  mac_address: z.string().optional(),
  portainer_role: z.string().optional(),
  start_at_boot: z.boolean().optional(),
  boot_order: z.number().int().nonnegative().optional(),
  boot_delay: z.number().int().nonnegative().optional(),
  /** CTIDs as strings in the real files; numbers tolerated. */
  dependencies: z.array(z.union([z.string(), z.number()])).optional(),
});

export const lxcConfigFileSchema = z.looseObject({
  lxc_configs: z.record(z.string(), z.unknown()),
});

export type VmEntry = z.infer<typeof vmEntrySchema>;
export type LxcEntry = z.infer<typeof lxcEntrySchema>;
