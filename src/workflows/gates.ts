/**
 * Safety gates before anything is deleted. Pure functions over live data the workflow read through activities.
 */
import type { LegacyGuest } from '../config/resolved-plan';

export interface Refusal {
  ctid: number;
  reason: string;
}

export interface UpstreamRef {
  name: string;
  servers: { host: string; port?: number | null; address: string }[];
}

/**
 * The scan of runs recorded before issue 17 (replayed behind `patched()`): the site file's upstreams only, IPs from
 * the plan only. New runs use scanLegacyGuests.
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
    if (reasons.length) refused.push({ ctid: guest.ctid, reason: `${legacyLabel(guest)}: ${reasons.join('; ')}` });
    else deletable.push(guest);
  }
  return { deletable, refused };
}

/** `http://10.0.0.152:6333/x` → `10.0.0.152` (the workflow sandbox has no URL parser we want to rely on). */
export function hostOfUrl(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/?#]+)/i.exec(url);
  return m?.[1];
}

/** What the live world says about one legacy CT (from inspectLegacyGuests). */
export interface LegacyGuestFacts {
  ctid: number;
  exists: boolean;
  visible: boolean;
  /** The hostname in its live config. */
  name?: string;
  addresses: string[];
  mountPoints: {
    key: string;
    kind: 'volume' | 'bind';
    source: string;
    path: string;
    sizeGb?: number;
    backup: boolean;
  }[];
}

/** Who routes where, from everything nginx loads (readGatewayRoutes). */
export interface LoadedRoutes {
  upstreams: { name: string; file: string; line: number; servers: { host: string; address: string }[] }[];
  literals: { file: string; line: number; directive: string; target: string; host: string }[];
}

export interface LegacyScan {
  deletable: LegacyGuest[];
  /** Not on the node any more: nothing to delete (reported as already absent). */
  absent: LegacyGuest[];
  refused: Refusal[];
  /** The addresses that count as each CT's (learned minus those shared with a protected guest). */
  evidence: Record<number, string[]>;
}

/**
 * The dependency scan on the live world. A legacy CT is deleted only when it is provably unrouted: its addresses come
 * from its live config (every NIC) and the plan; an address a protected guest also has (the gateway took 953's old
 * .153) is never evidence — the vmid is. A CT whose address cannot be learned is refused, not skipped. Routes are
 * every server of every upstream nginx loads — the moved one included, which must point exactly at the new servers —
 * and every literal address in a `*_pass` directive. A kept guest that lists the CT in `dependencies` keeps it.
 */
export function scanLegacyGuests(input: {
  legacy: LegacyGuest[];
  live: LegacyGuestFacts[];
  protectedAddresses: { address: string; who: string }[];
  movedUpstream: string;
  newServers: string[];
  routes: LoadedRoutes;
  guestDependencies: Record<string, number[]>;
  /** Dry run: the cutover has not happened, so the moved upstream is taken as already on the new servers. */
  assumeCutover?: boolean;
}): LegacyScan {
  const legacyIds = new Set(input.legacy.map((g) => g.ctid));
  const protectedAt = new Map(input.protectedAddresses.map((p) => [p.address, p.who]));
  const moved = input.routes.upstreams.filter((u) => u.name === input.movedUpstream);
  const movedNow = moved.flatMap((u) => u.servers.map((s) => s.address));
  const cutoverInPlace =
    input.assumeCutover ||
    (moved.length > 0 &&
      movedNow.length === input.newServers.length &&
      input.newServers.every((s) => movedNow.includes(s)));
  const upstreams = input.routes.upstreams.filter((u) => !(input.assumeCutover && u.name === input.movedUpstream));
  const out: LegacyScan = { deletable: [], absent: [], refused: [], evidence: {} };
  for (const guest of input.legacy) {
    const facts = input.live.find((l) => l.ctid === guest.ctid);
    const label = legacyLabel(guest);
    if (facts && !facts.exists) {
      out.absent.push(guest);
      continue;
    }
    const reasons: string[] = [];
    if (!facts || !facts.visible) {
      reasons.push('its live config cannot be read (grant VM.Audit on it), so nothing about its routes can be shown');
    }
    const learned = [...new Set([...(facts?.addresses ?? []), ...(guest.ip ? [guest.ip] : [])])];
    const evidence = learned.filter((a) => !protectedAt.has(a));
    out.evidence[guest.ctid] = evidence;
    if (facts?.visible && !evidence.length) {
      const shared = learned.map((a) => `${a} is ${protectedAt.get(a)}'s`).join(', ');
      reasons.push(
        `no address of it could be learned (${shared || 'its live config has no static address and the plan gives none'}), so no route to it can be ruled out — add legacyGuests[].ip to the plan or keep it`,
      );
    }
    if (!cutoverInPlace) {
      reasons.push(
        `upstream ${input.movedUpstream} ${moved.length ? `points at ${movedNow.join(', ') || 'nothing'}` : 'is not in the loaded config'}, not exactly at the new servers ${input.newServers.join(', ')}`,
      );
    }
    for (const up of upstreams) {
      const hit = up.servers.find((s) => evidence.includes(s.host));
      if (hit) reasons.push(`nginx upstream ${up.name} (${up.file}:${up.line}) still routes to ${hit.address}`);
    }
    for (const lit of input.routes.literals) {
      if (evidence.includes(lit.host)) reasons.push(`${lit.directive} ${lit.target} in ${lit.file}:${lit.line}`);
    }
    for (const [dependent, deps] of Object.entries(input.guestDependencies)) {
      if (legacyIds.has(Number(dependent))) continue;
      if (deps.includes(guest.ctid)) reasons.push(`guest ${dependent} declares it as a dependency`);
    }
    if (reasons.length) out.refused.push({ ctid: guest.ctid, reason: `${label}: ${reasons.join('; ')}` });
    else out.deletable.push(guest);
  }
  return out;
}

/**
 * The legacy guests as this run will treat them, from the node's view at preflight. A name the plan gives is kept (the
 * delete refuses a CT that no longer has it); a missing one becomes the name the node shows — none for a CT absent
 * now, so a guest that takes its id later is refused. A plan-wide volume decision becomes one decision per volume
 * mount point seen now (explicit per-mount-point decisions win), so a mount point added later is undecided.
 */
export function pinLegacyGuests(legacy: LegacyGuest[], live: LegacyGuestFacts[]): LegacyGuest[] {
  return legacy.map(({ allVolumes, ...guest }) => {
    const facts = live.find((l) => l.ctid === guest.ctid);
    const seen = facts?.exists && facts.visible ? facts : undefined;
    const name = guest.name ?? (seen?.name || undefined);
    const volumes =
      allVolumes && seen
        ? {
            ...Object.fromEntries(
              seen.mountPoints.filter((m) => m.kind === 'volume').map((m) => [m.key, allVolumes] as const),
            ),
            ...guest.volumes,
          }
        : guest.volumes;
    return {
      ...guest,
      ...(name !== undefined ? { name } : {}),
      ...(volumes && Object.keys(volumes).length ? { volumes } : {}),
    };
  });
}

/** How a legacy guest is named in messages: its pinned name, or why it has none. */
export function legacyLabel(guest: Pick<LegacyGuest, 'ctid' | 'name'>): string {
  return `CT ${guest.ctid} (${guest.name ?? 'no name: absent at preflight'})`;
}

/** A problem preflight reports: what, and how to fix it. */
export interface VolumeProblem {
  item: string;
  fix: string;
}

/**
 * Every volume mount point of every legacy CT that a backup would skip (no `backup=1`) must be decided by the plan
 * before anything changes — the delete destroys it. Decisions for mount points the CT does not have are mistakes too.
 */
export function volumeProblems(legacy: LegacyGuest[], live: LegacyGuestFacts[]): VolumeProblem[] {
  const problems: VolumeProblem[] = [];
  legacy.forEach((guest, i) => {
    const facts = live.find((l) => l.ctid === guest.ctid);
    if (!facts?.exists || !facts.visible) return;
    const decided = guest.volumes ?? {};
    for (const mp of facts.mountPoints) {
      if (mp.kind !== 'volume' || mp.backup || decided[mp.key]) continue;
      problems.push({
        item: `${legacyLabel(guest)}: volume mount point ${mp.key} at ${mp.path} (${mp.sizeGb ?? '?'} GB, ${mp.source}) is in no backup (no backup=1) and the delete destroys it`,
        fix: `decide it in the plan: legacyGuests[${i}].volumes.${mp.key} = "backup" (set backup=1 and kept in the vzdump) or "discard" (destroyed with the CT)`,
      });
    }
    for (const key of Object.keys(decided)) {
      if (facts.mountPoints.some((m) => m.key === key && m.kind === 'volume')) continue;
      const bind = facts.mountPoints.find((m) => m.key === key);
      problems.push({
        item: `${legacyLabel(guest)} has no volume mount point ${key}${bind ? ` (${key} is a bind mount of ${bind.source}: never backed up, never destroyed)` : ''}, but the plan decides it`,
        fix: `remove legacyGuests[${i}].volumes.${key}, or check the ctid (\`pct config ${guest.ctid}\`)`,
      });
    }
  });
  return problems;
}

/** Counts of one collection on both instances (newCount -1 = missing on the new one). */
export interface CollectionCount {
  name: string;
  legacyCount: number;
  newCount: number;
}

/**
 * The data gate, always on: the CT hosting the legacy Qdrant is deleted only when every legacy collection exists on
 * the new instance with at least as many points. Returns why not, or undefined when the data is safe.
 */
export function dataGateRefusal(
  mode: 'none' | 'reindex' | 'snapshot',
  collections: CollectionCount[],
): string | undefined {
  const short = collections.filter((c) => c.newCount < c.legacyCount);
  if (!short.length) return undefined;
  const list = short
    .map(
      (c) =>
        `${c.name} (${c.legacyCount} points; ${c.newCount < 0 ? 'missing on the new instance' : `${c.newCount} on the new instance`})`,
    )
    .join(', ');
  const fix =
    mode === 'none'
      ? 'qdrant.data.mode is "none": set it to "snapshot" (copy before the cutover) or "reindex" (wait for the producers), or keep this CT'
      : 'copy or re-index them, then run again';
  return `the legacy Qdrant holds data the new one does not: ${list} — deleting it would lose that data; ${fix}`;
}
