/**
 * The result of a run: what was done, in the operator's words and as data. Returned on success and abort, and attached
 * to the failure's details when the run fails, so every end state says what changed.
 */
import type { ResolvedPlan } from '../config/resolved-plan';
import type { Refusal } from './gates';
import type { Outcome, PhaseStatus, StepStatus } from './status';

export interface OperatorRecord {
  what: string;
  by: string;
  note?: string;
  at: string;
}

/** One VM after Phase 3: made or adopted, and what each feature needed. */
export interface ProvisionedVm {
  vmid: number;
  name: string;
  adopted: boolean;
  cloned: boolean;
  diskGb?: number;
  features: { name: string; outcome: 'applied' | 'already' | 'verified' | 'would-apply' | 'would-check' }[];
}

export interface MigrationReport {
  outcome: Outcome;
  endReason?: string;
  planName: string;
  planDigest: string;
  dryRun: boolean;
  phases: PhaseStatus[];
  steps: StepStatus[];
  /** Every change made (or, in a dry run, that would be made), in order. */
  changes: string[];
  /** Dry run: where a real run would wait for a person. */
  needsPerson: string[];
  composeFiles: { hostPath: string; outcome: string }[];
  vms: { vmid: number; created: boolean; changes: string[]; rebootRequired: boolean; ready: boolean }[];
  /** Phase 3 per VM: adopted or cloned, and each feature's outcome. */
  provisioned: ProvisionedVm[];
  gateway: {
    upstream: string;
    newServers: string[];
    previousServers: string[];
    currentServers: string[];
    changed: boolean;
    rolledBack: boolean;
    backupPath?: string;
  };
  /** The last verification through the gateway, and who answered there (Qdrant's per-process telemetry id). */
  verification?: {
    ok: boolean;
    detail: string;
    identitySeen?: 'new' | 'legacy' | 'none';
    newId?: string | null;
    legacyId?: string | null;
  };
  decommission: {
    /** Deleted now, or already absent from the node. */
    deleted: number[];
    /** Kept by a gate (dependency scan, data gate), with the reason. */
    refused: Refusal[];
    /** Kept because the operator said so at the approval (`--keep`). */
    keptByOperator: number[];
    results: {
      ctid: number;
      outcome: string;
      backupVolid?: string;
      discardedVolumes?: string[];
      bindMounts?: { key: string; hostPath: string; path: string }[];
      steps: string[];
    }[];
  };
  /** The vzdump archives made before deleting, with the volume mount points each holds. */
  backups: { ctid: number; volid: string; size?: number; mountPointsIncluded?: string[] }[];
  /** The data gate's view of the Qdrant collections (legacy vs new), when it ran. */
  data?: {
    mode: 'none' | 'reindex' | 'snapshot';
    collections: { name: string; legacyCount: number; newCount: number }[];
  };
  /** Legacy instances that still received traffic directly (not through the gateway) during the soak. */
  legacyTraffic: string[];
  operator: OperatorRecord[];
  /**
   * With `phoenix.dir` in the plan: Phoenix's own copies of the gateway site (committed file, LXC script heredoc) that
   * still route the upstream to the old servers — after the cutover, the next converge of the gateway CT rewrites the
   * live site from them — and the command that brings them in step.
   */
  phoenixSources?: {
    stillToUpdate: string[];
    command: string;
    /** Written by the run itself (plan `sources.write`), each with its backup. */
    updated?: string[];
    /** Why the run could not write them (then `command` finishes the job). */
    notWritten?: string[];
  };
}

/**
 * The part of the report the run itself owns while it goes. The rest is assembled when it ends: phases and steps
 * from the status board, `gateway` from the gateway cutover, `outcome`/`endReason` from the way out.
 */
export type RunReport = Omit<MigrationReport, 'outcome' | 'endReason' | 'phases' | 'steps' | 'gateway'>;

/** The empty report a run fills in as it goes. */
export function newReport(plan: ResolvedPlan, digest: string, dryRun: boolean): RunReport {
  return {
    planName: plan.name,
    planDigest: digest,
    dryRun,
    changes: [],
    needsPerson: [],
    composeFiles: [],
    vms: [],
    provisioned: [],
    decommission: { deleted: [], refused: [] as Refusal[], keptByOperator: [], results: [] },
    backups: [],
    legacyTraffic: [],
    operator: [],
    ...(plan.phoenixSources ? { phoenixSources: sourcesStillToUpdate(plan) } : {}),
  };
}

/** The plan's stale Phoenix sources in the operator's words. */
export function sourcesStillToUpdate(plan: ResolvedPlan): { stillToUpdate: string[]; command: string } {
  const sources = plan.phoenixSources;
  return {
    stillToUpdate: (sources?.stale ?? []).map(
      (s) => `${s.file} (${s.kind}, line ${s.line}): ${plan.gateway.upstream} → ${s.servers.join(', ')}`,
    ),
    command: `phoenix-migrate sources --plan <this plan> --phoenix-dir ${sources?.dir ?? 'DIR'} --write`,
  };
}
