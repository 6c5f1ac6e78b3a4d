/**
 * Reads a lab event log and counts what chaos runs promise about side effects: at most one effective clone per vmid,
 * one delete per ctid, one effective gateway change, one backup per CT, and no delete before verification passed.
 * Pure: it takes the events, so it is tested without a world.
 */
import type { LabEvent } from '../lab/event-log';

export interface EffectCounts {
  clones: Record<string, number>;
  deletes: Record<string, number>;
  backups: Record<string, number>;
  /** Reloads that changed the site file's content (a reload of unchanged content changes nothing). */
  gatewayChanges: number;
  /** Effects beyond the first per target (clones, deletes, gateway changes). */
  duplicateEffects: number;
  /** Backups beyond the first per CT (kept apart: a second backup wastes space but loses nothing). */
  duplicateBackups: number;
  deletedBeforeVerification: number;
  problems: string[];
}

const CLONE = /\/qemu\/\d+\/clone$/;
const DELETE_CT = /\/lxc\/(\d+)$/;
const VZDUMP = /\/vzdump$/;

function bump(map: Record<string, number>, key: string): number {
  map[key] = (map[key] ?? 0) + 1;
  return map[key];
}

/** `initialSiteSha`: the gateway site file's sha256 (first 16 hex, as the nginx wrapper logs it) before the run. */
export function countEffects(events: LabEvent[], initialSiteSha: string): EffectCounts {
  const out: EffectCounts = {
    clones: {},
    deletes: {},
    backups: {},
    gatewayChanges: 0,
    duplicateEffects: 0,
    duplicateBackups: 0,
    deletedBeforeVerification: 0,
    problems: [],
  };
  const ordered = [...events].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  const verifiedAt = ordered.find((e) => e.kind === 'verification-passed')?.time;
  let siteSha = initialSiteSha;
  for (const e of ordered) {
    if (e.kind === 'proxmox' && e.effect === true) {
      const p = String(e.path);
      if (e.method === 'POST' && CLONE.test(p)) {
        const n = bump(out.clones, String(e.newid ?? '?'));
        if (n > 1) {
          out.duplicateEffects++;
          out.problems.push(`clone #${n} of VM ${String(e.newid)} at ${e.time}`);
        }
      } else if (e.method === 'DELETE' && DELETE_CT.test(p)) {
        const ctid = DELETE_CT.exec(p)?.[1] ?? '?';
        const n = bump(out.deletes, ctid);
        if (n > 1) {
          out.duplicateEffects++;
          out.problems.push(`delete #${n} of CT ${ctid} at ${e.time}`);
        }
        if (!verifiedAt || Date.parse(verifiedAt) > Date.parse(e.time)) {
          out.deletedBeforeVerification++;
          out.problems.push(`CT ${ctid} deleted at ${e.time}, before verification passed (${verifiedAt ?? 'never'})`);
        }
      } else if (e.method === 'POST' && VZDUMP.test(p)) {
        const n = bump(out.backups, String(e.vmid ?? '?'));
        if (n > 1) {
          out.duplicateBackups++;
          out.problems.push(`backup #${n} of CT ${String(e.vmid)} at ${e.time}`);
        }
      }
    } else if (e.kind === 'gateway-reload' && e.exit === 0 && typeof e.siteSha === 'string') {
      if (e.siteSha !== siteSha) {
        out.gatewayChanges++;
        if (out.gatewayChanges > 1) {
          out.duplicateEffects++;
          out.problems.push(`gateway change #${out.gatewayChanges} at ${e.time}`);
        }
        siteSha = e.siteSha;
      }
    }
  }
  return out;
}
