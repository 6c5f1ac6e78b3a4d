/**
 * Phase 5 — Decommissioning, behind its gates: re-indexed data checked (in `reindex` mode); the dependency scan of the
 * live world (each legacy CT's live config, everything nginx loads in the gateway, declared dependencies); the data
 * gate for the CT hosting the legacy Qdrant; the operator's approval (who may keep any CT); then, for each CT, the scan
 * again right before its deletion — a route added while the approval waited refuses it — and the backup and delete.
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LegacyGuest } from '../../config/resolved-plan';
import { FailureType } from '../../failure-types';
import { verifyStartToCloseMs } from '../../timeouts';
import { long, quick } from '../activity-proxies';
import {
  dataGateRefusal,
  hostOfUrl,
  scanLegacyGuests,
  type LegacyGuestFacts,
  type LegacyScan,
  type LoadedRoutes,
  type Refusal,
} from '../gates';
import type { MigrationRun } from '../run';
import { decommissionStep } from './decommission-step';
import { allOrFirstFailure } from '../text';
import { decommissionLegacyV1 } from './decommissioning-v1';

/** The patch id of issue 17's gates (live scan, volumes at preflight, data gate): older histories take the old path. */
export const LIVE_DECOMMISSION_GATES = 'live-decommission-gates';

export async function decommissionLegacy(run: MigrationRun): Promise<void> {
  if (!patched(LIVE_DECOMMISSION_GATES)) return decommissionLegacyV1(run);
  if (run.plan.qdrant.data.mode === 'reindex' && !run.dryRun) await run.once('reindex', () => waitForReindex(run));
  const [scan, collections] = await scanWithDataGate(run, 'dependency scan', run.legacyGuests, { routesBeside: true });
  for (const guest of scan.absent) recordAbsent(run, guest);
  const refused = [...scan.refused];
  const deletable: LegacyGuest[] = [];
  for (const guest of scan.deletable) {
    const data = await dataGate(run, guest, scan, collections);
    if (data) refused.push(data);
    else deletable.push(guest);
  }
  run.report.decommission.refused.push(...refused);
  if (run.dryRun) for (const r of refused) run.report.changes.push(`kept (refused by a gate): ${r.reason}`);
  const approved = await approveDeletion(run, deletable, refused);
  // Each deletion is recorded as soon as it is done, so a failure of another still reports what is gone.
  await allOrFirstFailure(approved.map((guest) => deleteGuest(run, guest)));
}

/**
 * The patch id of the scan that reads the CTs' live config first, then only the gateway routes that touch their
 * addresses (or name the moved upstream): the pure scan looks at nothing else, and a shared gateway's whole route
 * table went into the history with every scan. Older histories read both at once, every route.
 */
export const SCAN_ROUTES_OF_LEGACY_ADDRESSES = 'scan-routes-of-legacy-addresses';

/** The live facts: the legacy CTs as the node has them, and the routes nginx has loaded that could reach them. */
async function readLiveFacts(
  run: MigrationRun,
  guests: LegacyGuest[],
  routesBeside: boolean,
): Promise<[LegacyGuestFacts[], LoadedRoutes]> {
  const { plan } = run;
  const inspect = () =>
    quick.inspectLegacyGuests.executeWithOptions(
      { summary: `live config of CT ${guests.map((g) => g.ctid).join(', ')}` },
      [{ proxmox: plan.proxmox, guests }],
    );
  const routes = (only?: { addresses: string[]; keepUpstream: string }) =>
    quick.readGatewayRoutes.executeWithOptions({ summary: `nginx -T in CT ${plan.gateway.ctid}` }, [
      { proxmoxHost: plan.proxmoxHost, gateway: plan.gateway, ...(only ? { only } : {}) },
    ]);
  if (!patched(SCAN_ROUTES_OF_LEGACY_ADDRESSES)) return Promise.all([inspect(), routes()]);
  const keepUpstream = plan.gateway.upstream;
  const planned = [...new Set(guests.flatMap((g) => (g.ip ? [g.ip] : [])))];
  // Every address the scan can take as evidence: what the node shows for each CT, and the plan's.
  const evidence = (live: LegacyGuestFacts[]) => [...new Set([...live.flatMap((l) => l.addresses), ...planned])];
  if (!routesBeside || !patched(DEPENDENCY_SCAN_ROUTES_BESIDE_GUESTS)) {
    const live = await inspect();
    return [live, await routes({ addresses: evidence(live), keepUpstream })];
  }
  // The routes of the plan's addresses, read while the node shows the CTs; read again only when a CT has an address
  // the plan does not name (the first read was then filtered too narrowly to rule its routes out).
  const [live, ofPlanned] = await allOrFirstFailure([inspect(), routes({ addresses: planned, keepUpstream })]);
  const addresses = evidence(live);
  if (addresses.every((a) => planned.includes(a))) return [live, ofPlanned];
  return [live, await routes({ addresses, keepUpstream })];
}

/**
 * Marks runs whose dependency scan reads the gateway's routes (of the plan's addresses) while it reads the CTs' live
 * config: one workflow task less before the approval, when the node shows no address the plan does not name. Older
 * runs read the routes after the CTs, and replay so. The scans before the deletions keep that order: they run side by
 * side, one per CT, and a workflow task hands at most three of the activities it schedules straight to this worker
 * (the SDK's eager dispatch) — the fourth and fifth waited for the task queue, 2 s at the fleet's median.
 */
export const DEPENDENCY_SCAN_ROUTES_BESIDE_GUESTS = 'dependency-scan-routes-beside-the-guests';

/** The live facts, then the pure scan. */
async function scanLive(
  run: MigrationRun,
  name: string,
  guests: LegacyGuest[],
  routesBeside: boolean,
): Promise<LegacyScan> {
  const { plan, board } = run;
  const scan = await run.step(name, async () => {
    const [live, routes] = await readLiveFacts(run, guests, routesBeside);
    return scanLegacyGuests({
      legacy: guests,
      live,
      protectedAddresses: [
        { address: plan.gateway.ip, who: `gateway CT ${plan.gateway.ctid}` },
        ...plan.vms.map((v) => ({ address: v.ip, who: `VM ${v.vmid}` })),
      ],
      movedUpstream: plan.gateway.upstream,
      newServers: plan.gateway.newServers,
      routes,
      guestDependencies: plan.guestDependencies,
      assumeCutover: run.dryRun,
    });
  });
  const reasons = scan.refused.length ? `: ${scan.refused.map((r) => r.reason).join('; ')}` : '';
  const absent = scan.absent.length ? `, ${scan.absent.length} already absent` : '';
  board.endStep(name, 'done', `${scan.deletable.length} deletable${absent}, ${scan.refused.length} refused${reasons}`);
  return scan;
}

/**
 * Marks runs that compare the Qdrant collections (the data gate's reads) while the scan reads the live facts, when the
 * plan puts the legacy Qdrant on a scanned CT: one workflow task less between the scan and the approval, and between
 * each rescan and its deletion. The scan still decides whether the gate applies; older runs compared after it.
 */
export const DATA_GATE_BESIDE_SCAN = 'data-gate-beside-scan';

type ComparedCollections = ReturnType<typeof compareCollections>;

/** The scan, and the data gate's comparison read at the same time when the plan says a scanned CT hosts Qdrant. */
async function scanWithDataGate(
  run: MigrationRun,
  name: string,
  guests: LegacyGuest[],
  opts: { routesBeside: boolean } = { routesBeside: false },
): Promise<[LegacyScan, ComparedCollections | undefined]> {
  const qdrantHost = hostOfUrl(run.plan.qdrant.legacyUrl);
  const early =
    !run.dryRun && guests.some((g) => g.ip === qdrantHost) && patched(DATA_GATE_BESIDE_SCAN)
      ? compareCollections(run)
      : undefined;
  // Both settle before either's failure is raised, as when they ran one after the other.
  const [scan] = await allOrFirstFailure([scanLive(run, name, guests, opts.routesBeside), early]);
  return [scan, early];
}

function compareCollections(run: MigrationRun) {
  const { qdrant } = run.plan;
  return quick.compareQdrantCollections.executeWithOptions(
    { summary: `data gate: collections of ${qdrant.legacyUrl} vs ${qdrant.newUrl}` },
    [{ legacyUrl: qdrant.legacyUrl, newUrl: qdrant.newUrl, apiKey: qdrant.apiKey }],
  );
}

/**
 * The data gate, always on: the CT whose address is the legacy Qdrant's is deleted only when every legacy collection
 * is on the new instance with at least as many points. A dry run (nothing copied yet) only says it will check.
 */
async function dataGate(
  run: MigrationRun,
  guest: LegacyGuest,
  scan: LegacyScan,
  comparedBeside?: ComparedCollections,
): Promise<Refusal | undefined> {
  const { plan, report } = run;
  const qdrantHost = hostOfUrl(plan.qdrant.legacyUrl);
  if (!qdrantHost || !(scan.evidence[guest.ctid] ?? []).includes(qdrantHost)) return undefined;
  if (run.dryRun) {
    report.changes.push(
      `CT ${guest.ctid} hosts the legacy Qdrant: deleted only if every collection is on the new instance with at least as many points (checked before its deletion)`,
    );
    return undefined;
  }
  const collections = await (comparedBeside ?? compareCollections(run));
  report.data = { mode: plan.qdrant.data.mode, collections };
  const why = dataGateRefusal(plan.qdrant.data.mode, collections);
  return why
    ? { ctid: guest.ctid, reason: `CT ${guest.ctid} (${guest.name}) hosts the legacy Qdrant: ${why}` }
    : undefined;
}

async function approveDeletion(run: MigrationRun, toDelete: LegacyGuest[], refused: Refusal[]): Promise<LegacyGuest[]> {
  const { plan, board, report, person } = run;
  const name = 'decommission approval';
  if (!plan.approvals.decommission || !toDelete.length) return toDelete;
  const ctids = toDelete.map((g) => g.ctid).join(', ');
  if (run.dryRun) {
    board.endStep(name, 'skipped', 'needs a person here: approve the deletion');
    const kept = refused.length ? `; kept: ${refused.map((r) => r.ctid).join(', ')}` : '';
    report.needsPerson.push(`Phase 5: approve deleting CT ${ctids} (\`phoenix-migrate approve-decommission\`)${kept}`);
    return toDelete;
  }
  const backup = plan.backups.enabled ? ` (after a vzdump backup to ${plan.backups.storage})` : '';
  const volumes = (g: LegacyGuest) => {
    const kept = Object.entries(g.volumes ?? {}).filter(([, d]) => d === 'backup');
    const gone = Object.entries(g.volumes ?? {}).filter(([, d]) => d === 'discard');
    return `${kept.length ? `; volumes in the backup: ${kept.map(([k]) => k).join(', ')}` : ''}${gone.length ? `; volumes DISCARDED: ${gone.map(([k]) => k).join(', ')}` : ''}`;
  };
  const items = [
    ...toDelete.map((g) => `delete CT ${g.ctid} ${g.name}${backup}${volumes(g)}`),
    ...refused.map((r) => `kept: ${r.reason}`),
    ...report.legacyTraffic.map((t) => `⚠ ${t}`),
  ];
  board.setStepWaiting(name, 'waiting for approval');
  run.notify('waiting', `Approve deleting ${ctids}`, 'decommission-approval');
  person.state.approvalCandidates = toDelete.map((g) => g.ctid);
  await person.waitForApproval(() =>
    board.wait(
      'decommission-approval',
      'Approve deleting these legacy containers (keep any with --keep <ctid>).',
      items,
    ),
  );
  board.stopWaiting();
  const kept = toDelete.filter((g) => person.state.deniedCtids.includes(g.ctid)).map((g) => g.ctid);
  report.decommission.keptByOperator.push(...kept);
  board.endStep(
    name,
    'done',
    `approved by ${person.lastActor}${kept.length ? `; kept by the operator: CT ${kept.join(', ')}` : ''}`,
  );
  run.recordOperator(person.lastRecord('approveDecommission'));
  for (const ctid of kept) report.changes.push(`CT ${ctid}: kept by ${person.lastActor} at the approval`);
  return toDelete.filter((g) => !kept.includes(g.ctid));
}

function recordAbsent(run: MigrationRun, guest: LegacyGuest): void {
  run.report.decommission.results.push({ ctid: guest.ctid, outcome: 'already-absent', steps: ['already absent'] });
  // `deleted` says what is gone at the end of a real run; a dry run only reports that it found the CT absent.
  if (!run.dryRun) run.report.decommission.deleted.push(guest.ctid);
}

async function deleteGuest(run: MigrationRun, guest: LegacyGuest): Promise<void> {
  const { report } = run;
  // Again, right before this deletion: the approval may have waited for days, and the world may have changed.
  const [again, collections] = await scanWithDataGate(run, `scan again before deleting CT ${guest.ctid}`, [guest]);
  if (again.absent.length) return recordAbsent(run, guest);
  const refusal = again.refused[0] ?? (await dataGate(run, guest, again, collections));
  if (refusal) {
    report.decommission.refused.push(refusal);
    report.changes.push(`CT ${guest.ctid}: NOT deleted — ${refusal.reason}`);
    return;
  }
  const r = await decommissionStep(run, guest);
  const { backup, ...result } = r;
  report.decommission.results.push(result);
  if (r.outcome === 'deleted' || r.outcome === 'already-absent') report.decommission.deleted.push(r.ctid);
  if (backup)
    report.backups.push({
      ctid: r.ctid,
      volid: backup.volid,
      size: backup.size,
      mountPointsIncluded: backup.mountPointsIncluded,
    });
  else if (r.backupVolid) report.backups.push({ ctid: r.ctid, volid: r.backupVolid });
  if (r.outcome !== 'already-absent')
    report.changes.push(`CT ${r.ctid}: ${r.outcome}${r.backupVolid ? ` (backup ${r.backupVolid})` : ''}`);
  for (const b of r.bindMounts ?? [])
    report.changes.push(`CT ${r.ctid}: bind mount ${b.key} (${b.hostPath} → ${b.path}) stays on the host`);
  if (r.discardedVolumes?.length && r.outcome === 'deleted')
    report.changes.push(
      `CT ${r.ctid}: volume(s) ${r.discardedVolumes.join(', ')} discarded with it, as the plan decides`,
    );
}

/** `reindex` data mode: the producers re-index into the new Qdrant; the run checks before anything is deleted. */
export async function waitForReindex(run: MigrationRun): Promise<void> {
  const { plan, board, person } = run;
  const { qdrant, timings } = plan;
  const name = 'wait for re-indexing';
  board.setStepWaiting(name, 'waiting for the producers to re-index');
  if (!person.state.expectReindex)
    run.notify(
      'waiting',
      'Re-index Qdrant data into the new instance, then run `phoenix-migrate reindex-done`.',
      'reindex',
    );
  person.state.expectReindex = true;
  const expected = qdrant.expectedCollections.map((c) => `${c.name}${c.minCount ? ` ≥ ${c.minCount} points` : ''}`);
  await person.waitForReindex(() =>
    board.wait('reindex', 'Let the producers re-index into the new Qdrant, then report it.', expected),
  );
  person.state.expectReindex = false;
  board.stopWaiting();
  board.endStep(name, 'done', `reported by ${person.lastActor}`);
  const check = await run.step(
    'check re-indexed collections',
    () =>
      long.verifyQdrant.executeWithOptions(
        {
          summary: 'check collections and minimum counts',
          startToCloseTimeout: verifyStartToCloseMs(timings.verifyBudgetMs),
        },
        [
          {
            url: qdrant.gatewayUrl,
            apiKey: qdrant.apiKey,
            expectedCollections: qdrant.expectedCollections,
            budgetMs: timings.verifyBudgetMs,
          },
        ],
      ),
    (r) => r.detail,
  );
  if (check.ok) return;
  const bad = check.collections.filter((c) => !c.ok).map((c) => `${c.name}: ${c.reason ?? 'mismatch'}`);
  throw ApplicationFailure.nonRetryable(
    `Re-indexed data does not match the plan (${bad.join('; ') || check.detail}); decommissioning is blocked. The gateway stays on the new Qdrant.`,
    FailureType.ReindexMismatch,
  );
}
