/**
 * The lab and test worlds never send traffic to the real network: the plan's 10.0.0.N addresses are mapped onto
 * 127.0.0.N (last octet kept, so 127.0.0.102:6333 still reads as "Qdrant on VM 1002"), in the lab's own copies of
 * the configs.
 */
const REAL_IP = /\b10\.0\.0\.(\d{1,3})\b/g;

export type AddressMap = Record<string, string>;

export function loopbackOf(ip: string): string {
  return ip.replace(REAL_IP, (_m, octet: string) => `127.0.0.${octet}`);
}

/** Rewrites every 10.0.0.N in `text`, recording each mapping in `map`. */
export function mapAddresses(text: string, map: AddressMap): string {
  return text.replace(REAL_IP, (m, octet: string) => {
    const mapped = `127.0.0.${octet}`;
    map[m] = mapped;
    return mapped;
  });
}

/** `http://10.0.0.152:6333/x` → `{ host: '10.0.0.152', port: 6333 }`. */
export function hostPortOf(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: u.port ? Number(u.port) : defaultPort };
}
