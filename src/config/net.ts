/** Small, pure checks on addresses, names and paths used by the cross-checks. */

/** Dotted-quad IPv4 → 32-bit number, or undefined when it is not one (no leading zeros, each part 0..255). */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export interface Cidr {
  ip: string;
  prefix: number;
}

/** `10.0.0.102/24` → `{ip, prefix}`; undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const match = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  if (!match) return undefined;
  const prefix = Number(match[2]);
  if (parseIPv4(match[1]) === undefined || prefix < 1 || prefix > 32) return undefined;
  return { ip: match[1], prefix };
}

/** True when `other` lies in the subnet `cidr.ip/cidr.prefix`. */
export function inSubnet(cidr: Cidr, other: string): boolean {
  const a = parseIPv4(cidr.ip);
  const b = parseIPv4(other);
  if (a === undefined || b === undefined) return false;
  const size = 2 ** (32 - cidr.prefix);
  return Math.floor(a / size) === Math.floor(b / size);
}

/** Proxmox guest names are DNS names: dot-separated labels of [A-Za-z0-9-], not starting/ending with '-', ≤ 63. */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/** Characters allowed in a path that later reaches a remote shell: anything else is refused, not quoted. */
export const REMOTE_PATH_UNSAFE = /[^A-Za-z0-9._/@:+-]/;

export function isSafeRemotePath(p: string): boolean {
  return !REMOTE_PATH_UNSAFE.test(p);
}

/** An absolute, normalised path without `.`/`..` segments or doubled slashes. */
export function isCleanAbsolutePath(p: string): boolean {
  if (!p.startsWith('/')) return false;
  const segments = p.split('/').slice(1);
  return segments.every((s, i) => (s !== '' || i === segments.length - 1) && s !== '.' && s !== '..');
}

/** `HOST:PORT` with a valid port; the host is an IPv4 literal or a DNS name. */
export function parseHostPort(text: string): { host: string; port: number; isIp: boolean } | undefined {
  const match = /^([^:\s]+):([0-9]{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  const isIp = parseIPv4(match[1]) !== undefined;
  if (!isIp && (/^[0-9.]+$/.test(match[1]) || !isDnsName(match[1]))) return undefined;
  return { host: match[1], port, isIp };
}

/** MAC address normalised to upper case with colons, or undefined when malformed. */
export function normaliseMac(text: string): string | undefined {
  const match = /^([0-9A-Fa-f]{2})([:-][0-9A-Fa-f]{2}){5}$/.exec(text);
  return match ? text.replace(/-/g, ':').toUpperCase() : undefined;
}
