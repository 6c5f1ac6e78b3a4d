/**
 * The one way a plan's `TlsTrust` becomes an undici dispatcher, shared by every HTTPS client (Proxmox, Portainer).
 *
 * Homelab servers use self-signed certificates, so besides a CA bundle we support pinning the leaf certificate's
 * SHA-256 fingerprint. `checkServerIdentity` cannot do that (Node rejects the self-signed chain before the hook runs,
 * and with verification off the hook never runs): chain validation is off and the pin is compared on every new socket,
 * before any byte of a request is written. `insecure` must be chosen explicitly and is warned about.
 */
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { TlsTrust } from '../config/resolved-plan';

export type TlsErrorCode = 'TLS_PIN_MISMATCH' | 'TLS_CA_UNREADABLE' | 'TLS_PIN_INVALID';

export interface TlsPinError extends Error {
  code: TlsErrorCode;
}

/** `AA:BB:…` upper-case, the way `pvenode cert info` and Node's `fingerprint256` print it. Accepts any case/colons. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp
    .replace(/^sha256[:=]?/i, '')
    .replace(/[^0-9a-f]/gi, '')
    .toUpperCase();
  return (hex.match(/.{2}/g) ?? []).join(':');
}

export interface DispatcherOptions {
  /** Bounds connection establishment (TCP + TLS handshake). */
  connectTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Most connections open to the server at once (requests beyond wait for a free one); unlimited when unset. */
  connections?: number;
  /** For messages: what we talk to, e.g. "the Proxmox API at https://10.0.0.13:8006". */
  what?: string;
  /** For messages: where the trust is set in the plan, e.g. "proxmox.tls". */
  planField?: string;
  /** Told once per dispatcher when TLS verification is off. */
  warn?: (message: string) => void;
  /** Lets a client raise its own typed error (e.g. a ProxmoxError of kind `tls`). */
  makeError?: (code: TlsErrorCode, message: string) => Error;
}

/** A dispatcher that trusts exactly what the plan says. Reuse it: it pools connections. */
export function dispatcherFor(tls: TlsTrust, opts: DispatcherOptions = {}): Agent {
  const timeout = opts.connectTimeoutMs ?? 10_000;
  const what = opts.what ?? 'the server';
  const field = opts.planField ?? 'tls';
  const fail =
    opts.makeError ??
    ((code: TlsErrorCode, message: string) =>
      Object.assign(new Error(message), { code, name: 'TlsPinError' }) as TlsPinError);
  const common = {
    connectTimeout: timeout,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4_000,
    ...(opts.connections ? { connections: opts.connections } : {}),
  };

  if (tls.mode === 'ca') {
    let ca: string;
    try {
      ca = readFileSync(tls.caFile, 'utf8');
    } catch (e) {
      throw fail(
        'TLS_CA_UNREADABLE',
        `CA file ${tls.caFile} for ${what} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}); fix ${field}.caFile in the plan.`,
      );
    }
    return new Agent({ ...common, connect: { ca, timeout } });
  }
  if (tls.mode === 'insecure') {
    opts.warn?.(
      `TLS verification is OFF for ${what} (${field}: insecure in the plan); anyone on the path can read what is sent. Pin the certificate's fingerprint instead.`,
    );
    return new Agent({ ...common, connect: { rejectUnauthorized: false, timeout } });
  }
  const want = normaliseFingerprint(tls.sha256);
  if (want.length !== 95) {
    throw fail(
      'TLS_PIN_INVALID',
      `${field}.fingerprint in the plan is not a SHA-256 fingerprint (expected 32 colon-separated hex bytes, as \`pvenode cert info\` prints them).`,
    );
  }
  // No TLS session cache: a resumed session carries no peer certificate, and every socket must show its pin.
  const connector = buildConnector({ rejectUnauthorized: false, timeout, maxCachedSessions: 0 });
  return new Agent({
    ...common,
    connect: (options, callback) => {
      connector(options, (err, socket) => {
        if (err || !socket) {
          callback(err ?? new Error('connection failed'), null);
          return;
        }
        const got = normaliseFingerprint((socket as TLSSocket).getPeerCertificate?.()?.fingerprint256 ?? '');
        if (got !== want) {
          socket.destroy();
          callback(
            fail(
              'TLS_PIN_MISMATCH',
              `TLS fingerprint mismatch for ${what}: the server presented ${got || '(none)'}, the plan pins ${want}. ` +
                `If the certificate was renewed on purpose, update ${field}.fingerprint; otherwise something is intercepting the connection.`,
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
