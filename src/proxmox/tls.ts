import type { Agent } from 'undici';
import type { TlsTrust } from '../config/resolved-plan';
import { dispatcherFor, normaliseFingerprint } from '../http/tls';
import { ProxmoxError } from './errors';

/** Kept under the Proxmox name for callers of this module. */
export const normalizeFingerprint = normaliseFingerprint;

/** The shared TLS trust (src/http/tls.ts), with failures as ProxmoxErrors of kind `tls` (permanent). */
export function createDispatcher(
  tls: TlsTrust,
  opts: { baseUrl: string; connectTimeoutMs: number; warn?: (message: string) => void },
): Agent {
  return dispatcherFor(tls, {
    connectTimeoutMs: opts.connectTimeoutMs,
    what: `the Proxmox API at ${opts.baseUrl}`,
    planField: 'proxmox.tls',
    warn: opts.warn
      ? (m) => opts.warn?.(`${m} For Proxmox: read it with \`pvenode cert info\` (the SHA-256 line).`)
      : undefined,
    makeError: (_code, message) => new ProxmoxError(message, { kind: 'tls' }),
  });
}
