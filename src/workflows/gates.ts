/**
 * Safety gates before anything is deleted. Pure functions over live data the workflow read through activities.
 */
import type { LegacyGuest } from '../config/resolved-plan';

export interface UpstreamRef {
  name: string;
  servers: { host: string; port?: number | null; address: string }[];
}

export interface Refusal {
  ctid: number;
  reason: string;
}

/**
 * A legacy guest is not deleted while anything still points at it: an upstream other than the one just moved, or
 * another guest that declares it as a dependency. Identity is the ctid; the IP is only how upstreams refer to it.
 */
export function scanDependencies(input: {
  legacy: LegacyGuest[];
  movedUpstream: string;
  upstreams: UpstreamRef[];
  guestDependencies: Record<string, number[]>;
}): { deletable: LegacyGuest[]; refused: Refusal[] } {
  const legacyIds = new Set(input.legacy.map((g) => g.ctid));
  const deletable: LegacyGuest[] = [];
  const refused: Refusal[] = [];
  for (const guest of input.legacy) {
    const reasons: string[] = [];
    if (guest.ip) {
      for (const up of input.upstreams) {
        if (up.name === input.movedUpstream) continue;
        const hit = up.servers.find((s) => s.host === guest.ip);
        if (hit) reasons.push(`nginx upstream ${up.name} still routes to ${hit.address}`);
      }
    }
    for (const [dependent, deps] of Object.entries(input.guestDependencies)) {
      // A dependent that is itself being decommissioned does not keep this one alive.
      if (legacyIds.has(Number(dependent))) continue;
      if (deps.includes(guest.ctid)) reasons.push(`guest ${dependent} declares it as a dependency`);
    }
    if (reasons.length)
      refused.push({ ctid: guest.ctid, reason: `CT ${guest.ctid} (${guest.name}): ${reasons.join('; ')}` });
    else deletable.push(guest);
  }
  return { deletable, refused };
}

/** `http://10.0.0.152:6333/x` → `10.0.0.152` (the workflow sandbox has no URL parser we want to rely on). */
export function hostOfUrl(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/?#]+)/i.exec(url);
  return m?.[1];
}
