import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { TlsTrust } from '../config/resolved-plan';
import { ProxmoxError } from './errors';

/** `AA:BB:…` upper-case, the way `pvenode cert info` and Node's `fingerprint256` print it. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/^sha256[:=]?/i, '').replace(/[^0-9a-f]/gi, '').toUpperCase();
  return hex.match(/.{2}/g)?.join(':') ?? '';
}

export interface DispatcherOptions {
  baseUrl: string;
  connectTimeoutMs: number;
  warn?: (message: string) => void;
}

/**
 * An undici Agent that trusts the Proxmox API the way the plan says: a CA file (normal chain + name checks),
 * a pinned leaf fingerprint (checked on every new socket before any request is written), or explicitly nothing.
 */
export function createDispatcher(tls: TlsTrust, opts: DispatcherOptions): Agent {
  const common = { connectTimeout: opts.connectTimeoutMs, keepAliveTimeout: 4_000 };
  if (tls.mode === 'ca') {
    let ca: Buffer;
    try {
      ca = readFileSync(tls.caFile);
    } catch (err) {
      throw new ProxmoxError(
        `CA file ${tls.caFile} for the Proxmox API cannot be read (${(err as { code?: string }).code ?? 'error'}); ` +
          `copy /etc/pve/pve-root-ca.pem there or fix proxmox.tls.caFile in the plan.`,
        { kind: 'tls' },
      );
    }
    return new Agent({ ...common, connect: { ca, timeout: opts.connectTimeoutMs } });
  }
  if (tls.mode === 'insecure') {
    opts.warn?.(
      `TLS verification is OFF for the Proxmox API at ${opts.baseUrl} (proxmox.tls.mode = "insecure" in the plan); ` +
        `anyone on the path can read the API token. Pin the fingerprint from \`pvenode cert info\` instead.`,
    );
    return new Agent({ ...common, connect: { rejectUnauthorized: false, timeout: opts.connectTimeoutMs } });
  }
  const expected = normalizeFingerprint(tls.sha256);
  if (expected.length !== 95) {
    throw new ProxmoxError(
      `proxmox.tls.fingerprint in the plan is not a SHA-256 fingerprint (expected 32 colon-separated hex bytes as ` +
        `\`pvenode cert info\` prints them).`,
      { kind: 'tls' },
    );
  }
  // Chain verification is off on purpose: the pin below is the trust decision, made before any byte is written.
  // No TLS session cache: a resumed session carries no peer certificate, and every socket must show its pin.
  const connector = buildConnector({ rejectUnauthorized: false, timeout: opts.connectTimeoutMs, maxCachedSessions: 0 });
  return new Agent({
    ...common,
    connect: (connectOpts, callback) => {
      connector(connectOpts, (err, socket) => {
        if (err || !socket) {
          callback(err ?? new Error('no socket'), null);
          return;
        }
        const actual = normalizeFingerprint((socket as TLSSocket).getPeerCertificate?.()?.fingerprint256 ?? '');
        if (actual !== expected) {
          socket.destroy();
          callback(
            new ProxmoxError(
              `TLS fingerprint mismatch for the Proxmox API at ${opts.baseUrl}: the server presented ${actual || '(none)'}, ` +
                `the plan pins ${expected}. If the node certificate was renewed on purpose, update proxmox.tls.fingerprint ` +
                `from \`pvenode cert info\`; otherwise something is intercepting the connection.`,
              { kind: 'tls' },
            ),
            null,
          );
          return;
        }
        callback(null, socket);
      });
    },
  });
}
