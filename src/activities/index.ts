/**
 * Every activity the migration runs, made over injected dependencies (`createActivities(deps)`): the worker passes
 * real clients, tests and the lab pass the same real clients pointed at loopback. Workflows only `import type` this.
 */
import type { ProxmoxSettings, SecretRef } from '../config/resolved-plan';
import { resolveSecret as readSecret } from '../secrets';
import type { Logger } from '../logging';
import type { ProxmoxApi } from '../proxmox';
import { createDataGateActivities } from './data-gate';
import { createDecommissionActivities } from './decommission';
import { createLegacyScanActivities } from './legacy-scan';
import { withFailureTranslation } from './failures';
import { createFileActivities } from './files';
import { createGatewayActivities } from './gateway';
import { createGatewayIdentityActivities } from './gateway-identity';
import { createNotifyActivities } from './notify';
import { createPhoenixSourcesActivities } from './phoenix-sources';
import { createPortainerActivities } from './portainer';
import { createPreflightActivities } from './preflight';
import { createProvisioningActivities } from './provisioning';
import { createReadinessActivities } from './readiness';
import { createVerifyActivities } from './verify';
import { createVmActivities, defaultProxmoxFor } from './vms';

export interface ActivityDeps {
  /** The worker's environment: secrets and key paths are looked up here by the names the plan gives. */
  env: NodeJS.ProcessEnv;
  proxmoxFor(settings: ProxmoxSettings): ProxmoxApi;
  logger?: Logger;
  /** Overrides for slow real-world waits (tests and the lab shorten them). */
  timings?: { readyTimeoutMs?: number; lockWaitMs?: number; verifyIntervalMs?: number };
}

export function defaultActivityDeps(logger?: Logger, env: NodeJS.ProcessEnv = process.env): ActivityDeps {
  return {
    env,
    logger,
    proxmoxFor: defaultProxmoxFor({
      env,
      warn: (m) => (logger ? logger.warn(m) : process.emitWarning(m, 'InsecureTLSWarning')),
    }),
  };
}

export function createActivities(deps: ActivityDeps) {
  const log = deps.logger
    ? {
        info: (m: string, f?: Record<string, unknown>) => deps.logger?.info(f ?? {}, m),
        warn: (m: string, f?: Record<string, unknown>) => deps.logger?.warn(f ?? {}, m),
      }
    : undefined;
  const proxmox = {
    proxmoxFor: deps.proxmoxFor,
    log,
    readyTimeoutMs: deps.timings?.readyTimeoutMs,
    lockWaitMs: deps.timings?.lockWaitMs,
  };
  const gateway = createGatewayActivities({ env: deps.env, verifyIntervalMs: deps.timings?.verifyIntervalMs });
  const resolveSecret = async (ref: SecretRef) => readSecret(ref, deps.env);
  // Each factory already classifies its own failures; this catches a factory that does not (wrapping is idempotent).
  return withFailureTranslation({
    ...createPreflightActivities({ env: deps.env, proxmoxFor: deps.proxmoxFor, readGateway: gateway.readGateway }),
    ...createFileActivities({ env: deps.env }),
    ...createVmActivities(proxmox),
    ...createProvisioningActivities({ env: deps.env, proxmoxFor: deps.proxmoxFor }),
    ...createReadinessActivities({ proxmoxFor: deps.proxmoxFor }),
    ...createVerifyActivities({ resolveSecret }),
    ...createDataGateActivities({ resolveSecret }),
    ...createPortainerActivities({ resolveSecret }),
    ...gateway,
    ...createGatewayIdentityActivities({ resolveSecret }),
    ...createDecommissionActivities(proxmox),
    ...createLegacyScanActivities({ ...proxmox, env: deps.env }),
    ...createNotifyActivities({ env: deps.env }),
    ...createPhoenixSourcesActivities(),
  });
}

export type MigrationActivities = ReturnType<typeof createActivities>;
