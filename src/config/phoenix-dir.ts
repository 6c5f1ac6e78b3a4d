/**
 * A Phoenix checkout anywhere. Phoenix's configs name files by absolute paths under `/usr/local/phoenix_hypervisor/`
 * (where the checkout lives on the Proxmox host); given a copy of the checkout in DIR, those paths resolve inside
 * DIR, so a plan and its Phoenix files can be checked on any machine.
 */
import * as path from 'node:path';

/** Where Phoenix lives on the Proxmox host: every absolute path in its configs starts here. */
export const PHOENIX_ROOT = '/usr/local/phoenix_hypervisor';

/** The checkout's files phoenix-migrate reads, relative to its root. */
export const CHECKOUT = {
  vmConfigs: 'etc/phoenix_vm_configs.json',
  lxcConfigs: 'etc/phoenix_lxc_configs.json',
  hypervisorConfig: 'etc/phoenix_hypervisor_config.json',
  sitesAvailable: 'etc/nginx/sites-available',
  /** The script that builds LXC <ctid> (for the gateway, it writes the live site from a heredoc). */
  lxcScript: (ctid: number) => `bin/phoenix_hypervisor_lxc_${ctid}.sh`,
} as const;

/**
 * A path as a Phoenix config writes it, on this machine: `/usr/local/phoenix_hypervisor/x` → `<phoenixDir>/x` when a
 * checkout is given; other absolute paths as they are; relative paths against `baseDir` (the naming file's directory).
 */
export function phoenixPath(file: string, baseDir: string, phoenixDir?: string): string {
  if (phoenixDir !== undefined && (file === PHOENIX_ROOT || file.startsWith(`${PHOENIX_ROOT}/`)))
    return path.join(phoenixDir, file.slice(PHOENIX_ROOT.length));
  return path.isAbsolute(file) ? file : path.resolve(baseDir, file);
}

export interface PhoenixFiles {
  vmConfigs: string;
  lxcConfigs: string;
  /** The checkout's root, when known. */
  dir?: string;
}

/**
 * The plan's `phoenix` section (and a `--phoenix-dir` override) → the files to read. With a checkout, `vmConfigs` and
 * `lxcConfigs` default to its `etc/` files; written paths are relative to the plan file (or under PHOENIX_ROOT).
 */
export function phoenixFiles(
  section: { dir?: string; vmConfigs?: string; lxcConfigs?: string },
  planDir: string,
  phoenixDirOverride?: string,
): PhoenixFiles | undefined {
  const dir =
    phoenixDirOverride !== undefined
      ? path.resolve(phoenixDirOverride)
      : section.dir !== undefined
        ? path.resolve(planDir, section.dir)
        : undefined;
  const pick = (written: string | undefined, inCheckout: string) =>
    written !== undefined
      ? phoenixPath(written, planDir, dir)
      : dir !== undefined
        ? path.join(dir, inCheckout)
        : undefined;
  const vmConfigs = pick(section.vmConfigs, CHECKOUT.vmConfigs);
  const lxcConfigs = pick(section.lxcConfigs, CHECKOUT.lxcConfigs);
  if (vmConfigs === undefined || lxcConfigs === undefined) return undefined;
  return { vmConfigs, lxcConfigs, ...(dir !== undefined ? { dir } : {}) };
}
