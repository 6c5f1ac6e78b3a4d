import fs from 'node:fs';
import net from 'node:net';

/**
 * Ports this process has handed out, per host. Nothing is bound between handing a port out and the service's own
 * bind, so the OS may offer the same free port twice: two services of one world on one address would then share it
 * (nginx's HTTP and HTTPS servers on one port refuse to start). Never handing a port out twice rules that out.
 */
const handedOut = new Set<string>();

function osFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The kernel's range for the local ports of outgoing connections (and of `listen(0)`). */
export function ephemeralPorts(): [number, number] {
  try {
    const [low, high] = fs
      .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // not Linux: the IANA range most systems use
  }
  return [49152, 65535];
}

const STABLE_FROM = 20_000;

/**
 * A free port below the ephemeral range, or undefined when that range leaves too little room. A port from the
 * ephemeral range (what `listen(0)` gives) can become the local port of any outgoing connection while its service is
 * down: chaos restarts the Temporal dev server on its port, and once the restart failed with "address already in
 * use" (chaos series 18, run 11) — the lab's processes open connections all the time.
 */
async function stableFreePort(host: string): Promise<number | undefined> {
  const top = ephemeralPorts()[0] - 1;
  if (top - STABLE_FROM < 1000) return undefined;
  for (let tries = 0; tries < 50; tries++) {
    const port = STABLE_FROM + Math.floor(Math.random() * (top - STABLE_FROM + 1));
    if (!handedOut.has(`${host}:${port}`) && (await portIsFree(host, port))) return port;
  }
  return undefined;
}

/**
 * A port free on `host` right now, not handed out before by this process, and below the ephemeral range when there is
 * room (so a service restarted on it finds it free).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = (await stableFreePort(host)) ?? (await osFreePort(host));
    if (!handedOut.has(`${host}:${port}`)) return handOut(host, port);
  }
}

/** Records a port chosen earlier (a resumed world's), so that this process hands it out to nothing else. */
export function handOut(host: string, port: number): number {
  handedOut.add(`${host}:${port}`);
  return port;
}

export async function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** The port the real world uses when it is free on this loopback address (readable lab addresses), else any free one. */
export async function preferredPort(host: string, preferred: number | undefined): Promise<number> {
  if (preferred && !handedOut.has(`${host}:${preferred}`) && (await portIsFree(host, preferred)))
    return handOut(host, preferred);
  return freePort(host);
}

export async function waitForTcp(
  host: string,
  port: number,
  opts: { timeoutMs?: number; alive?: () => string | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    const dead = opts.alive?.();
    if (dead) throw new Error(dead);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${host}:${port} after ${opts.timeoutMs ?? 15_000} ms`);
}
