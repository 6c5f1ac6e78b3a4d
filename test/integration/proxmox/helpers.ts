/** Shared set-up for the Proxmox activity tests: settings for a simulator, plan-like specs, a Temporal-like retry loop. */
import type { BackupSettings, ProxmoxSettings, VmSpec } from '../../../src/config/resolved-plan';
import type { ProxmoxActivityDeps } from '../../../src/activities/vms';
import { defaultProxmoxFor } from '../../../src/activities/vms';
import { isRetryable } from '../../../src/proxmox';
import type { ProxmoxSim } from '../../../src/lab/proxmox-sim';

export const OWNER_TAG = 'phoenix-migrate';

/** Settings as the resolver would write them for this simulator; the secret comes from an env var like on a worker. */
export function settingsFor(
  sim: ProxmoxSim,
  envName: string,
  overrides: Partial<ProxmoxSettings> = {},
): ProxmoxSettings {
  process.env[envName] = sim.tokenSecret;
  return {
    node: 'pve',
    apiUrl: sim.url,
    tls: { mode: 'fingerprint', sha256: sim.fingerprint },
    tokenId: sim.tokenId,
    tokenSecret: { env: envName },
    ownerTag: OWNER_TAG,
    requestTimeoutMs: 10_000,
    ...overrides,
  };
}

export function depsFor(): ProxmoxActivityDeps {
  return {
    proxmoxFor: defaultProxmoxFor({ warn: () => undefined }),
    readyTimeoutMs: 10_000,
    taskPollMs: { min: 20, max: 200 },
    attempts: 6,
  };
}

export const SSH_KEYS =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1b2c3d4e5f6 op@laptop\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIZ9y8x7w6v5u4 ci@runner';

export function vmSpec(vmid: number, name: string, overrides: Partial<VmSpec> = {}): VmSpec {
  const last = vmid % 1000;
  return {
    vmid,
    name,
    node: 'pve',
    cloneFrom: 9000,
    storage: 'local-lvm',
    cores: 4,
    memoryMb: 8192,
    diskSizeGb: 64,
    onboot: true,
    startup: { order: 2, up: 30 },
    ip: `10.0.0.${100 + last}`,
    ipconfig0: `ip=10.0.0.${100 + last}/24,gw=10.0.0.1`,
    nameserver: '10.0.0.1',
    ciuser: 'phoenix',
    sshPublicKeys: SSH_KEYS,
    tags: [OWNER_TAG, 'qdrant'],
    features: [],
    volumes: [],
    ...overrides,
  };
}

export const BACKUPS: BackupSettings = { enabled: true, storage: 'local', mode: 'snapshot', compress: 'zstd' };

/** Retry retryable failures the way Temporal would (a bounded loop, no delay to speak of). */
export async function retrying<T>(fn: () => Promise<T>, attempts = 25): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const e = err as { nonRetryable?: boolean; name?: string };
      const retryable = e?.name === 'ApplicationFailure' ? e.nonRetryable !== true : isRetryable(err);
      if (!retryable || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export async function failureOf(
  p: Promise<unknown>,
): Promise<{ message: string; type?: string; nonRetryable?: boolean; name?: string }> {
  try {
    await p;
  } catch (err) {
    return err as { message: string; type?: string; nonRetryable?: boolean };
  }
  throw new Error('expected a failure');
}

/** Audit entries from index `from` on that changed something (agent reads are GETs). */
export function mutatingSince(sim: ProxmoxSim, from: number) {
  return sim
    .audit()
    .slice(from)
    .filter((e) => e.method !== 'GET');
}
