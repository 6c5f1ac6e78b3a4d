/**
 * The gateway cutover of one nginx upstream: the only owner of what the run did to the gateway. It moves the upstream
 * to the new servers, verifies through the gateway, and puts it back when the change must not stay
 * (docs/end-states.md: changed and not yet verified → back on its previous servers). A second gateway would be a
 * second instance of this object.
 */
import { CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import type { ReloadCheck } from '../activities/gateway';
import type { IdentitySeen } from '../activities/gateway-identity';
import type { ResolvedPlan } from '../config/resolved-plan';
import { FailureType } from '../failure-types';
import { gatewayStartToCloseMs, verifyStartToCloseMs, VERIFY_REQUEST_TIMEOUT_MS } from '../timeouts';
import { long, quick } from './activity-proxies';
import type { MigrationReport } from './report';
import type { StepRunner } from './steps';
import { failureTypeOf, messageOf } from './text';

export interface GatewayState {
  /** Where this gateway is: a continued run resumes the cutover/verification loop here. */
  stage: 'not-cut' | 'cut-over' | 'checked' | 'verified';
  /** True from the moment a cutover may have touched the gateway until a rollback put it back. */
  changed: boolean;
  /** What the upstream pointed at before the cutover; empty when nobody knows (a rerun that found it moved). */
  previousServers: string[];
  currentServers: string[];
  rolledBack: boolean;
  backupPath?: string;
  /** The upstream block byte for byte before the cutover and as the cutover wrote it: what the rollback swaps back. */
  upstreamBefore?: string;
  upstreamAfter?: string;
  /** The upstream was read ahead of this cutover (beside the snapshot copy): the cutover sends its change at once. */
  previousRead?: boolean;
  /** Whether nginx took the cutover's reload (its master replaced the workers), as the cutover saw it. */
  reload?: ReloadCheck;
  /** Who answered through the gateway in the last verification, by Qdrant's per-process telemetry id. */
  identity?: { identitySeen: IdentitySeen; newId: string | null; legacyId: string | null };
}

export function newGatewayState(): GatewayState {
  return { stage: 'not-cut', changed: false, previousServers: [], currentServers: [], rolledBack: false };
}

export class GatewayCutover {
  constructor(
    readonly state: GatewayState,
    private readonly plan: ResolvedPlan,
    private readonly dryRun: boolean,
    private readonly step: StepRunner,
    /** The run's change log, in order. */
    private readonly changes: string[],
  ) {}

  get verified(): boolean {
    return this.state.stage === 'verified';
  }

  private get target(): string {
    return this.plan.gateway.newServers.join(', ');
  }

  /**
   * The identity proof (issue 16) changed the command sequence: verification became verifyGatewayIdentity. Runs whose
   * history predates it replay the old path (docs/operations.md: patched, not a new bundle version).
   */
  private identityProof(): boolean {
    return patched('gateway-identity-proof');
  }

  /** Start-to-close of the gateway activities: every remote step at its timeout, lock wait included. */
  private get gatewayTimeout(): number {
    const { gateway, proxmoxHost } = this.plan;
    return gatewayStartToCloseMs(gateway.access.via === 'ssh' ? gateway.access.ssh : proxmoxHost);
  }

  /**
   * Phase 4c: reads the upstream first (what a rollback restores), then the locked rewrite and reload, which records
   * the upstream verbatim and whether nginx took the reload. The proof comes after, in `verify`. Returns why the
   * cutover failed after it may have changed the gateway (older runs verified inside it).
   */
  async cutover(): Promise<string | undefined> {
    const { gateway, proxmoxHost } = this.plan;
    try {
      const cut = await this.step(
        'gateway cutover',
        async () => {
          if (!this.dryRun) await this.rememberPreviousServers();
          return quick.cutoverGateway.executeWithOptions(
            {
              summary: `nginx upstream ${gateway.upstream} → ${this.target}`,
              startToCloseTimeout: this.gatewayTimeout,
            },
            [
              this.identityProof()
                ? { proxmoxHost, gateway, dryRun: this.dryRun }
                : // runs recorded before the identity proof: the cutover checked /readyz through the gateway itself
                  {
                    proxmoxHost,
                    gateway,
                    verifyUrl: `${this.plan.qdrant.gatewayUrl}/readyz`,
                    verifyBudgetMs: this.plan.timings.verifyBudgetMs,
                    dryRun: this.dryRun,
                  },
            ],
          );
        },
        (r) =>
          (r.changed
            ? `${r.previousServers.join(', ')} → ${this.target}${this.dryRun ? ' (would change)' : ''}`
            : `already on ${this.target}`) + (r.reload ? `; ${describeReload(r.reload)}` : ''),
      );
      if (this.dryRun) {
        if (cut.changed)
          this.changes.push(
            `nginx upstream ${gateway.upstream}: ${cut.previousServers.join(', ')} → ${this.target} (would change)${cut.diff ? `\n${cut.diff}` : ''}`,
          );
        return undefined;
      }
      // A retry after a lost response learns the previous servers from the activity's record on the gateway.
      if (cut.previousKnown && cut.previousServers.length && !sameServers(cut.previousServers, gateway.newServers))
        this.state.previousServers = cut.previousServers;
      this.moved(cut.backupPath ?? undefined);
      if (cut.upstreamBefore !== undefined && cut.upstreamAfter !== undefined)
        Object.assign(this.state, { upstreamBefore: cut.upstreamBefore, upstreamAfter: cut.upstreamAfter });
      if (cut.reload) this.state.reload = cut.reload;
      if (cut.changed)
        this.changes.push(
          `nginx upstream ${gateway.upstream}: ${this.state.previousServers.join(', ')} → ${this.target}`,
        );
      return undefined;
    } catch (err) {
      if (isCancellation(err) || failureTypeOf(err) !== FailureType.GatewayVerifyFailed) throw err;
      // nginx was changed and reloaded, but the new backend does not answer through it: a failed verification.
      this.moved(undefined);
      this.changes.push(
        `nginx upstream ${gateway.upstream}: ${this.state.previousServers.join(', ')} → ${this.target} (did not answer through the gateway)`,
      );
      return `the gateway did not answer through the new servers after the cutover: ${messageOf(err)}`;
    }
  }

  /**
   * Phase 5: the proof. Answers through the gateway must carry the NEW Qdrant's telemetry id (read directly on the
   * new VM and the legacy CT) N times in a row, with the planned collections — its own activity, with a start-to-close
   * sized from the budget. Returns why not, if not.
   */
  async verify(): Promise<{
    failure?: string;
    detail: string;
    ok: boolean;
    identitySeen: IdentitySeen;
    newId: string | null;
    legacyId: string | null;
  }> {
    const { qdrant, timings } = this.plan;
    const name = 'verification through the gateway';
    if (!this.identityProof()) {
      // runs recorded before the identity proof keep their command sequence (readiness and collections only)
      const old = await this.step(
        name,
        () =>
          long.verifyQdrant.executeWithOptions({ summary: `verify ${qdrant.gatewayUrl}/readyz and collections` }, [
            {
              url: qdrant.gatewayUrl,
              apiKey: qdrant.apiKey,
              expectedCollections: qdrant.data.mode === 'reindex' ? [] : qdrant.expectedCollections,
              budgetMs: timings.verifyBudgetMs,
            },
          ]),
        (r) => r.detail,
      );
      const legacy = { ok: old.ok, detail: old.detail, identitySeen: 'none' as const, newId: null, legacyId: null };
      if (!old.ok) return { ...legacy, failure: old.detail };
      this.state.stage = 'checked';
      return legacy;
    }
    const v = await this.step(
      name,
      () =>
        quick.verifyGatewayIdentity.executeWithOptions(
          {
            summary: `prove ${qdrant.gatewayUrl} answers from the new Qdrant (telemetry id) with its collections`,
            startToCloseTimeout: verifyStartToCloseMs(timings.verifyBudgetMs),
            retry: { maximumAttempts: 3 },
          },
          [
            {
              gatewayUrl: qdrant.gatewayUrl,
              newUrl: qdrant.newUrl,
              legacyUrl: qdrant.legacyUrl,
              apiKey: qdrant.apiKey,
              expectedCollections: qdrant.data.mode === 'reindex' ? [] : qdrant.expectedCollections,
              budgetMs: timings.verifyBudgetMs,
              timeoutMs: VERIFY_REQUEST_TIMEOUT_MS,
              reloadTaken: this.state.reload?.taken ?? null,
            },
          ],
        ),
      (r) => r.detail,
    );
    this.state.identity = { identitySeen: v.identitySeen, newId: v.newId, legacyId: v.legacyId };
    const reload = this.state.reload;
    const detail =
      v.ok || !reload || reload.taken === true
        ? v.detail
        : `${v.detail}; the cutover's reload: ${describeReload(reload)}`;
    const result = { ok: v.ok, detail, identitySeen: v.identitySeen, newId: v.newId, legacyId: v.legacyId };
    if (!v.ok) return { ...result, failure: detail };
    this.state.stage = 'checked';
    return result;
  }

  /** Verification (and soak) passed: from here on the change stays, whatever happens. */
  markVerified(): void {
    this.state.stage = 'verified';
  }

  /** Puts the upstream back when the change must not stay; in a non-cancellable scope (compensation). */
  async restore(why: string): Promise<void> {
    const { gateway, proxmoxHost, qdrant, timings } = this.plan;
    const previous = this.state.previousServers;
    if (!this.state.changed || this.verified || this.dryRun) return;
    if (!previous.length || sameServers(previous, gateway.newServers)) {
      this.changes.push(
        `gateway NOT rolled back (${why}): what upstream ${gateway.upstream} pointed at before the cutover is unknown (it was already on ${this.target}) — check ${gateway.siteFile} in CT ${gateway.ctid} by hand`,
      );
      this.state.changed = false;
      this.state.stage = 'not-cut';
      return;
    }
    await CancellationScope.nonCancellable(async () => {
      const res = await quick.rollbackGateway.executeWithOptions(
        {
          summary: `nginx upstream ${gateway.upstream} → ${previous.join(', ')} (rollback)`,
          startToCloseTimeout: this.gatewayTimeout + verifyStartToCloseMs(timings.verifyBudgetMs),
        },
        [
          {
            proxmoxHost,
            gateway,
            previousServers: previous,
            upstreamBefore: this.state.upstreamBefore,
            upstreamAfter: this.state.upstreamAfter,
            verifyUrl: `${qdrant.gatewayUrl}/readyz`,
            verifyBudgetMs: timings.verifyBudgetMs,
          },
        ],
      );
      if (res.outcome === 'left-alone') {
        // Someone changed the upstream after the cutover: it is theirs now; say so instead of claiming a rollback.
        Object.assign(this.state, { changed: false, stage: 'not-cut', rolledBack: false });
        this.changes.push(`gateway NOT rolled back (${why}): ${res.reason}`);
        return;
      }
      Object.assign(this.state, { changed: false, stage: 'not-cut', rolledBack: true, currentServers: previous });
      this.changes.push(
        `gateway rolled back to ${previous.join(', ')} (${why})${res.changed ? (res.reload && res.reload.taken !== true ? ` — ${describeReload(res.reload)}` : '') : ` — ${res.reason}`}`,
      );
    });
  }

  /** The same, for the ways out that must not fail because of it: a failed rollback is reported, not thrown. */
  async restoreOrReport(why: string): Promise<void> {
    try {
      await this.restore(why);
    } catch (e) {
      this.changes.push(
        `gateway rollback FAILED (${why}): ${messageOf(e)} — put upstream ${this.plan.gateway.upstream} back on ${this.state.previousServers.join(', ')} by hand`,
      );
    }
  }

  report(): MigrationReport['gateway'] {
    const { changed, rolledBack, previousServers, currentServers, backupPath } = this.state;
    const touched = changed || rolledBack;
    return {
      upstream: this.plan.gateway.upstream,
      newServers: this.plan.gateway.newServers,
      previousServers,
      currentServers,
      changed: touched,
      rolledBack,
      ...(backupPath ? { backupPath } : {}),
    };
  }

  /** One phrase for the end-state summary. */
  endState(): string {
    const s = this.state;
    if (!s.changed && !s.rolledBack) return 'gateway never touched';
    if (s.rolledBack && !s.changed) return `gateway back on ${s.previousServers.join(', ')}`;
    return `gateway on ${s.currentServers.join(', ')}${this.verified ? ' (verified)' : ''}`;
  }

  /**
   * Reads the upstream the cutover will replace (what a rollback restores) while the run does something else for a
   * while — the snapshot copy — so the cutover goes out as soon as the copy is done. Read once, for the next attempt.
   */
  async readAhead(): Promise<void> {
    await this.readPreviousServers();
    this.state.previousRead = true;
  }

  private async rememberPreviousServers(): Promise<void> {
    if (this.state.previousRead) delete this.state.previousRead;
    else await this.readPreviousServers();
    this.state.changed = true;
  }

  private async readPreviousServers(): Promise<void> {
    const { gateway, proxmoxHost } = this.plan;
    const before = await quick.readGateway.executeWithOptions(
      { summary: `read upstream ${gateway.upstream} before the cutover`, startToCloseTimeout: this.gatewayTimeout },
      [{ proxmoxHost, gateway }],
    );
    const servers = before.upstreams.find((u) => u.name === gateway.upstream)?.servers.map((s) => s.address) ?? [];
    if (servers.length && !sameServers(servers, gateway.newServers)) this.state.previousServers = servers;
  }

  private moved(backupPath: string | undefined): void {
    Object.assign(this.state, {
      changed: true,
      stage: 'cut-over',
      rolledBack: false,
      currentServers: this.plan.gateway.newServers,
      ...(backupPath ? { backupPath } : {}),
    });
  }
}

/** The reload check in words: taken, or not (with what the error log said). */
export function describeReload(r: ReloadCheck): string {
  const log = r.logLines.length ? `; error.log: ${r.logLines.join(' | ')}` : '';
  return `${r.taken === true ? 'nginx reload taken' : r.taken === false ? 'nginx reload NOT taken' : 'nginx reload not checked'}: ${r.detail}${log}`;
}

export function sameServers(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
