/**
 * Where the Temporal server is, read the way the `temporal` CLI reads it (@temporalio/envconfig): TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS variables and `temporal.toml` profiles (TEMPORAL_PROFILE or --profile).
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

export const TASK_QUEUE = 'phoenix-migrate';
export const DEFAULT_ADDRESS = 'localhost:7233';

export interface TemporalTarget {
  address: string;
  namespace: string;
  connectionOptions: NativeConnectionOptions;
}

export function loadTemporalTarget(
  opts: { profile?: string; address?: string; namespace?: string } = {},
): TemporalTarget {
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ profile: opts.profile ?? process.env.TEMPORAL_PROFILE });
  } catch (err) {
    throw new Error(
      `cannot read the Temporal connection settings: ${(err as Error).message}\nhint: check TEMPORAL_* variables and your temporal.toml profile`,
    );
  }
  const connectionOptions: NativeConnectionOptions = { ...loaded.connectionOptions };
  if (opts.address) connectionOptions.address = opts.address;
  connectionOptions.address ??= DEFAULT_ADDRESS;
  return {
    address: connectionOptions.address,
    namespace: opts.namespace ?? loaded.namespace ?? 'default',
    connectionOptions,
  };
}

/** The Web UI of a dev server is on port + 1000 (`temporal server start-dev`); TEMPORAL_UI_URL overrides. */
export function webUiUrl(target: TemporalTarget, workflowId?: string): string {
  const base =
    process.env.TEMPORAL_UI_URL?.replace(/\/$/, '') ??
    (() => {
      const m = /^(.*):(\d+)$/.exec(target.address);
      return m ? `http://${m[1]}:${Number(m[2]) + 1000}` : 'http://localhost:8233';
    })();
  const ns = encodeURIComponent(target.namespace);
  return workflowId
    ? `${base}/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}`
    : `${base}/namespaces/${ns}/workflows`;
}
