/**
 * One way to turn the plan's `TlsTrust` into an undici dispatcher, shared by the HTTPS clients.
 *
 * Homelab servers (Proxmox, Portainer) use self-signed certificates, so besides a CA bundle we support pinning the
 * leaf certificate's SHA-256 fingerprint: chain validation is skipped, but the connection is refused unless the
 * server presents exactly the pinned certificate. `insecure` exists for the lab and must be chosen explicitly.
 */
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { TlsTrust } from '../config/resolved-plan';

export interface TlsPinError extends Error {
  code: 'TLS_PIN_MISMATCH' | 'TLS_CA_UNREADABLE';
}

/** `AA:BB:…` upper-case, the way `pvenode cert info` and Node's `fingerprint256` print it. Accepts any case/colons. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp.replace(/^sha256:/i, '').replace(/[^0-9a-f]/gi, '').toUpperCase();
  return (hex.match(/.{2}/g) ?? []).join(':');
}

function tlsError(code: TlsPinError['code'], message: string): TlsPinError {
  const err = new Error(message) as TlsPinError;
  err.code = code;
  err.name = 'TlsPinError';
  return err;
}

export interface DispatcherOptions {
  /** Bounds connection establishment (TCP + TLS handshake). */
  connectTimeoutMs?: number;
}

/** A dispatcher that trusts exactly what the plan says. Reuse it: it pools connections. */
export function dispatcherFor(tls: TlsTrust, opts: DispatcherOptions = {}): Dispatcher {
  const timeout = opts.connectTimeoutMs ?? 10_000;
  switch (tls.mode) {
    case 'ca': {
      let ca: string;
      try {
        ca = readFileSync(tls.caFile, 'utf8');
      } catch (e) {
        throw tlsError('TLS_CA_UNREADABLE', `TLS CA file ${tls.caFile} cannot be read (${(e as Error).message}); fix tls.caFile in the plan`);
      }
      return new Agent({ connect: { ca, timeout } });
    }
    case 'insecure':
      return new Agent({ connect: { rejectUnauthorized: false, timeout } });
    case 'fingerprint': {
      const want = normaliseFingerprint(tls.sha256);
      // Chain validation is off because the cert is self-signed; the pin below is the real check. Session resumption
      // is off too: a resumed TLS session may present no peer certificate to compare.
      const base = buildConnector({ rejectUnauthorized: false, timeout, maxCachedSessions: 0 });
      return new Agent({
        connect: (options, callback) => {
          base(options, (err, socket) => {
            if (err || !socket) {
              callback(err ?? new Error('connection failed'), null);
              return;
            }
            const got = normaliseFingerprint((socket as TLSSocket).getPeerCertificate?.()?.fingerprint256 ?? '');
            if (got !== want) {
              socket.destroy();
              callback(
                tlsError(
                  'TLS_PIN_MISMATCH',
                  `TLS certificate of ${options.hostname}:${options.port} has SHA-256 fingerprint ${got || '(none)'}, ` +
                    `but the plan pins ${want}; check the server's certificate and update tls.sha256 if it was renewed`,
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
  }
}
