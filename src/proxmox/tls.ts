import type { Agent } from 'undici';
import type { TlsTrust } from '../config/resolved-plan';
import { dispatcherFor, normaliseFingerprint } from '../http/tls';
import { ProxmoxError } from './errors';

/** Kept under the Proxmox name for callers of this module. */
export const normalizeFingerprint = normaliseFingerprint;

/**
 * Connections the worker keeps to one Proxmox API at most. Its requests are short (task lists, configs, guest agent
 * calls); without a bound a burst (a fleet of runs, or many waits ticking together) opened a new TLS connection per
 * concurrent request — a full handshake each, since a pinned certificate allows no session resumption — until the
 * bench's simulator, busy with handshakes, took more than 15 s to accept one. Beyond the bound, requests wait for a free
 * keep-alive connection (that wait is not counted in the request's timeouts).
 */
export const PROXMOX_CONNECTIONS = 16;

/** The shared TLS trust (src/http/tls.ts), with failures as ProxmoxErrors of kind `tls` (permanent). */
export function createDispatcher(
  tls: TlsTrust,
  opts: { baseUrl: string; connectTimeoutMs: number; warn?: (message: string) => void },
): Agent {
  return dispatcherFor(tls, {
    connectTimeoutMs: opts.connectTimeoutMs,
    connections: PROXMOX_CONNECTIONS,
    what: `the Proxmox API at ${opts.baseUrl}`,
    planField: 'proxmox.tls',
    warn: opts.warn
      ? (m) => opts.warn?.(`${m} For Proxmox: read it with \`pvenode cert info\` (the SHA-256 line).`)
      : undefined,
    makeError: (_code, message) => new ProxmoxError(message, { kind: 'tls' }),
  });
}
