/**
 * Reading a container's live config (`GET …/lxc/{id}/config`) for what decommissioning must know: every address it
 * answers on (each `netN`) and every mount point — volumes, which the delete destroys and vzdump skips unless they
 * carry `backup=1`, and bind mounts (host paths), which neither touches. Pure.
 */

export interface LxcMountPoint {
  /** `mp0` … */
  key: string;
  kind: 'volume' | 'bind';
  /** `<storage>:<volume>` for a volume, the host path for a bind mount. */
  source: string;
  /** Where the CT sees it. */
  path: string;
  /** Size in GB (volumes; from `size=`). */
  sizeGb?: number;
  /** `backup=1`: vzdump includes it. */
  backup: boolean;
  /** The option string as Proxmox stores it (what a change rewrites). */
  raw: string;
}

/** `ip=10.0.0.150/24` of every `netN` (static addresses only; `dhcp`/`manual` teach nothing). */
export function lxcAddresses(config: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!/^net[0-9]+$/.test(key)) continue;
    for (const opt of String(value).split(',')) {
      const m = /^ip6?=([^/]+)(?:\/\d+)?$/.exec(opt.trim());
      if (m && m[1] !== 'dhcp' && m[1] !== 'manual' && m[1] !== 'auto' && !out.includes(m[1])) out.push(m[1]);
    }
  }
  return out;
}

/** `50G` → 50, `512M` → 0.5, `2T` → 2048. */
export function sizeToGb(size: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(size.trim());
  if (!m) return undefined;
  const factor = { '': 1 / 1024 ** 3, K: 1 / 1024 ** 2, M: 1 / 1024, G: 1, T: 1024 }[m[2].toUpperCase()] ?? 1;
  return Math.round(Number(m[1]) * factor * 1000) / 1000;
}

/** One `mpN` value: `[volume=]<source>,mp=<path>[,size=…][,backup=0|1]…`. */
export function parseMountPoint(key: string, raw: string): LxcMountPoint {
  const parts = raw.split(',');
  const opts: Record<string, string> = {};
  let source = '';
  parts.forEach((part, i) => {
    const eq = part.indexOf('=');
    if (i === 0 && (eq < 0 || part.startsWith('/'))) source = part;
    else if (eq > 0) opts[part.slice(0, eq)] = part.slice(eq + 1);
  });
  if (opts.volume) source = opts.volume;
  const size = opts.size !== undefined ? sizeToGb(opts.size) : undefined;
  const kind = source.startsWith('/') ? 'bind' : 'volume';
  return {
    key,
    kind,
    source,
    path: opts.mp ?? '',
    ...(size !== undefined ? { sizeGb: size } : {}),
    backup: /^(1|yes|on|true)$/i.test(opts.backup ?? '0'),
    raw,
  };
}

export function lxcMountPoints(config: Record<string, unknown>): LxcMountPoint[] {
  return Object.entries(config)
    .filter(([key]) => /^mp[0-9]+$/.test(key))
    .map(([key, value]) => parseMountPoint(key, String(value)))
    .sort((a, b) => Number(a.key.slice(2)) - Number(b.key.slice(2)));
}

/** The option string with `backup=1` (replacing any `backup=`), everything else kept in order. */
export function withBackupFlag(raw: string): string {
  const parts = raw.split(',').filter((p) => !/^backup=/.test(p));
  return [...parts, 'backup=1'].join(',');
}
