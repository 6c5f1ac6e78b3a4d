/**
 * The gateway cutover of one nginx upstream: the only owner of what the run did to the gateway. It moves the upstream
 * to the new servers, verifies through the gateway, and puts it back when the change must not stay
 * (docs/end-states.md: changed and not yet verified → back on its previous servers). A second gateway would be a
 * second instance of this object.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { ResolvedPlan } from '../config/resolved-plan';
import { FailureType } from '../failure-types';
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
   * Phase 4c: reads the upstream first (what a rollback restores), then the locked rewrite, which checks the gateway
   * itself. Returns why the check failed (the gateway is then changed and must be rolled back).
   */
  async cutover(): Promise<string | undefined> {
    const { gateway, proxmoxHost, qdrant, timings } = this.plan;
    try {
      const cut = await this.step(
        'gateway cutover',
        async () => {
          if (!this.dryRun) await this.rememberPreviousServers();
          return quick.cutoverGateway.executeWithOptions(
            { summary: `nginx upstream ${gateway.upstream} → ${this.target}` },
            [
              {
                proxmoxHost,
                gateway,
                verifyUrl: `${qdrant.gatewayUrl}/readyz`,
                verifyBudgetMs: timings.verifyBudgetMs,
                dryRun: this.dryRun,
              },
            ],
          );
        },
        (r) =>
          r.changed
            ? `${r.previousServers.join(', ')} → ${this.target}${this.dryRun ? ' (would change)' : ''}`
            : `already on ${this.target}`,
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

  /** Phase 5: Qdrant answers through the gateway with the planned collections. Returns why not, if it does not. */
  async verify(): Promise<{ failure?: string; detail: string; ok: boolean }> {
    const { qdrant, timings } = this.plan;
    const name = 'verification through the gateway';
    const verification = await this.step(
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
    if (!verification.ok) return { ...verification, failure: verification.detail };
    this.state.stage = 'checked';
    return verification;
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
        { summary: `nginx upstream ${gateway.upstream} → ${previous.join(', ')} (rollback)` },
        [
          {
            proxmoxHost,
            gateway,
            previousServers: previous,
            verifyUrl: `${qdrant.gatewayUrl}/readyz`,
            verifyBudgetMs: timings.verifyBudgetMs,
          },
        ],
      );
      Object.assign(this.state, { changed: false, stage: 'not-cut', rolledBack: true, currentServers: previous });
      this.changes.push(
        `gateway rolled back to ${previous.join(', ')} (${why})${res.changed ? '' : ` — ${res.reason}`}`,
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

  private async rememberPreviousServers(): Promise<void> {
    const { gateway, proxmoxHost } = this.plan;
    const before = await quick.readGateway.executeWithOptions(
      { summary: `read upstream ${gateway.upstream} before the cutover` },
      [{ proxmoxHost, gateway }],
    );
    const servers = before.upstreams.find((u) => u.name === gateway.upstream)?.servers.map((s) => s.address) ?? [];
    if (servers.length && !sameServers(servers, gateway.newServers)) this.state.previousServers = servers;
    this.state.changed = true;
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

export function sameServers(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
