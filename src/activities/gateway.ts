/**
 * Phase 4 cutover at the gateway (LXC 101): point one nginx upstream at the new servers with a reload (no
 * downtime), safely: read → compute the new text here with rewriteUpstream → one locked remote script that
 * refuses if the file changed since the read (compare-and-swap), preflights `nginx -t`, backs up, renames
 * atomically, tests again (restoring on failure) and reloads → verify through the gateway from the worker.
 *
 * One worker's changes of one site file take turns, and the cutovers that queued behind a change are written together
 * as the next one (gateway-batch.ts); the steps themselves are in gateway-steps.ts.
 *
 * Idempotent: a retry after a lost response sees the upstream already pointing at the new servers and
 * returns the previous servers recorded in `<backupDir>/<upstream>.previous` (written before the rename).
 *
 * Verbatim: the record (and the result) hold the upstream block exactly as it was and as the cutover wrote it; the
 * rollback swaps those very bytes back, only while the block still reads as the cutover left it.
 * Fenced: every write and reload carries the attempt's token (when Temporal scheduled it); `<upstream>.fence` keeps
 * the highest token that changed the gateway, and an older attempt — a zombie that outlived its timeout, after a
 * newer attempt or a rollback — is refused under the lock. Every remote step heartbeats while it runs and checks for
 * cancellation before it starts.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { request } from 'undici';
import type { GatewaySettings, SshEndpoint } from '../config/resolved-plan';
import { unifiedDiff } from '../nginx/diff';
import { replaceUpstreamBlock, type UpstreamInfo } from '../nginx/upstream';
import { containerTarget, hostTarget, withSsh, type RemoteTarget, type WorkerEnv } from '../remote';
import { FailureType } from '../failure-types';
import { withFailureTranslation } from './failures';
import { createGatewayQueue, cutOverTogether } from './gateway-batch';
import {
  activityExecution,
  alreadyCutOver,
  attemptToken,
  backupPathFor,
  blockOrFail,
  CAS_ATTEMPTS,
  cancellationSignal,
  checkSettings,
  cutoverMade,
  cutoverRecord,
  heartbeating,
  notRewritable,
  oneLine,
  parseOrFail,
  preflight,
  readSnapshot,
  rewriteOrFail,
  sameSet,
  stopIfCancelled,
  writeLocked,
  type ActivityExecution,
} from './gateway-steps';
import { heartbeat, pause } from './heartbeat';

export interface GatewayActivityDeps {
  env: WorkerEnv;
  /** How long verification through the gateway may take (default 30 s), and the pause between tries. */
  verifyBudgetMs?: number;
  verifyIntervalMs?: number;
}

export interface CutoverGatewayInput {
  proxmoxHost: SshEndpoint;
  gateway: GatewaySettings;
  /** Check `<url>` answers 200 after the change (older runs); the cutover's proof is verifyGatewayIdentity. */
  verifyUrl?: string;
  dryRun?: boolean;
  /** Overrides deps.verifyBudgetMs (the plan's timings.verifyBudgetMs). */
  verifyBudgetMs?: number;
}

export interface CutoverGatewayResult {
  /** What the upstream pointed at before the cutover: what a rollback restores. */
  previousServers: string[];
  /** False only when a retry found the upstream already new and no record of what it was before. */
  previousKnown: boolean;
  backupPath: string | null;
  changed: boolean;
  /** Dry run: the change that would be made (unified diff), empty when none. */
  diff?: string;
  /** The upstream block byte for byte before the cutover and as the cutover wrote it: what a rollback swaps back. */
  upstreamBefore?: string;
  upstreamAfter?: string;
  /** Whether nginx took this attempt's reload (absent when it made none). */
  reload?: ReloadCheck;
}

/** What the gateway showed after `nginx -s reload`: the exit code alone proves nothing (see scripts.ts). */
export interface ReloadCheck {
  /** True when the master started new workers; false when it kept its old ones; null when it could not be seen. */
  taken: boolean | null;
  detail: string;
  /** `[emerg]`/`[alert]` lines the error log got since the reload. */
  logLines: string[];
}

export interface RollbackGatewayResult {
  changed: boolean;
  /** restored: the block is back; already: it was; left-alone: someone else changed it since — NOT rolled back. */
  outcome: 'restored' | 'already' | 'left-alone';
  reason: string;
  reload?: ReloadCheck;
}

export interface RollbackGatewayInput {
  proxmoxHost: SshEndpoint;
  gateway: GatewaySettings;
  previousServers: string[];
  /** The cutover's verbatim record (CutoverGatewayResult); without it the gateway's own record is used. */
  upstreamBefore?: string;
  upstreamAfter?: string;
  verifyUrl?: string;
  verifyBudgetMs?: number;
}

/**
 * Without the file's text: no workflow reads it, and a shared gateway's site file (40 KB for a fleet's 200 tenants)
 * went into every run's history and through the worker's memory with each read.
 */
export interface ReadGatewayResult {
  realPath: string;
  upstreams: UpstreamInfo[];
}

/** How long nginx's master needs after `-s reload` to replace its workers (it is milliseconds; this is generous). */
const RELOAD_SETTLE_MS = 500;

export function createGatewayActivities(deps: GatewayActivityDeps) {
  const queue = createGatewayQueue();

  function onGateway<T>(
    proxmoxHost: SshEndpoint,
    gateway: GatewaySettings,
    fn: (target: RemoteTarget, timeoutMs: number) => Promise<T>,
  ): Promise<T> {
    checkSettings(gateway);
    const endpoint = gateway.access.via === 'ssh' ? gateway.access.ssh : proxmoxHost;
    stopIfCancelled();
    return withSsh(endpoint, deps.env, (session) => {
      const target = gateway.access.via === 'ssh' ? hostTarget(session) : containerTarget(session, gateway.ctid);
      return fn(heartbeating(target), endpoint.commandTimeoutMs);
    });
  }

  /** onGateway for a change of the site file: queued behind this worker's other changes of the same file. */
  function changeGateway<T>(
    proxmoxHost: SshEndpoint,
    gateway: GatewaySettings,
    fn: (target: RemoteTarget, timeoutMs: number) => Promise<T>,
  ): Promise<T> {
    return queue.oneChangeAtATime(changeKey(proxmoxHost, gateway), () => onGateway(proxmoxHost, gateway, fn));
  }

  async function readGateway(input: {
    proxmoxHost: SshEndpoint;
    gateway: GatewaySettings;
  }): Promise<ReadGatewayResult> {
    return onGateway(input.proxmoxHost, input.gateway, async (target) => {
      const snap = await readSnapshot(target, input.gateway);
      return { realPath: snap.realPath, upstreams: parseOrFail(snap) };
    });
  }

  async function cutoverGateway(input: CutoverGatewayInput): Promise<CutoverGatewayResult> {
    const { proxmoxHost, gateway, dryRun } = input;
    // Before it can join others: a joint change checks only the settings of the cutover that opened it.
    checkSettings(gateway);
    const by = activityExecution();
    const alone = (mayHaveWritten: boolean) =>
      onGateway(proxmoxHost, gateway, (target, timeoutMs) =>
        // After a joint change that failed, the record may name this very activity: its change, made then.
        cutOverAlone(target, gateway, dryRun, by && mayHaveWritten ? { ...by, retry: true } : by, timeoutMs),
      );
    const result = dryRun
      ? await changeGateway(proxmoxHost, gateway, (target, timeoutMs) =>
          cutOverAlone(target, gateway, dryRun, by, timeoutMs),
        )
      : await queue.cutover(
          changeKey(proxmoxHost, gateway),
          { gateway, by, token: attemptToken(), cancelled: cancellationSignal() },
          (members) =>
            onGateway(proxmoxHost, gateway, (target, timeoutMs) => cutOverTogether(target, members, timeoutMs)),
          alone,
        );
    if (!dryRun && input.verifyUrl)
      await verifyOrFail(input.verifyUrl, input.verifyBudgetMs ?? deps.verifyBudgetMs ?? 30_000, {
        previousServers: result.previousServers,
        backupPath: result.backupPath,
      });
    return result;
  }

  /**
   * Puts the upstream back as it was before the cutover: the recorded block, byte for byte, only while the block
   * still reads exactly as the cutover wrote it (anything else is someone's later edit: left alone, and said so).
   */
  async function rollbackGateway(input: RollbackGatewayInput): Promise<RollbackGatewayResult> {
    const { gateway, previousServers } = input;
    const outcome = await changeGateway(
      input.proxmoxHost,
      gateway,
      async (target, timeoutMs): Promise<RollbackGatewayResult> => {
        for (let attempt = 1; ; attempt++) {
          const snap = await readSnapshot(target, gateway);
          const current = blockOrFail(snap, snap.text, gateway.upstream);
          const record = snap.record?.upstream === gateway.upstream ? snap.record : undefined;
          const before = input.upstreamBefore ?? record?.before;
          const after = input.upstreamAfter ?? record?.after;
          let restored: string;
          if (before !== undefined && after !== undefined) {
            if (current === before)
              return {
                changed: false,
                outcome: 'already',
                reason: `upstream ${gateway.upstream} is already as it was before the cutover`,
              };
            if (current !== after)
              return {
                changed: false,
                outcome: 'left-alone',
                reason: `upstream ${gateway.upstream} no longer reads as the cutover wrote it (now: ${oneLine(current)}): someone changed it since; NOT rolled back — check ${snap.realPath}`,
              };
            const swapped = replaceUpstreamBlock(snap.text, gateway.upstream, before);
            if (!swapped.ok) throw notRewritable(snap, swapped.error);
            restored = swapped.text;
          } else {
            // A cutover recorded by an older version: only the addresses are known.
            const servers =
              parseOrFail(snap)
                .find((u) => u.name === gateway.upstream)
                ?.servers.map((s) => s.address) ?? [];
            if (sameSet(servers, previousServers))
              return {
                changed: false,
                outcome: 'already',
                reason: `upstream ${gateway.upstream} already points at ${previousServers.join(', ')}`,
              };
            if (!sameSet(servers, gateway.newServers))
              return {
                changed: false,
                outcome: 'left-alone',
                reason: `upstream ${gateway.upstream} points at ${servers.join(', ') || 'nothing'}, which is neither the cutover's new servers (${gateway.newServers.join(', ')}) nor the previous ones: someone changed it since; NOT rolled back`,
              };
            restored = rewriteOrFail(snap, gateway.upstream, previousServers).text;
          }
          const written = await writeLocked(
            target,
            gateway,
            snap,
            restored,
            backupPathFor(gateway, snap.realPath),
            [{ gateway, token: attemptToken() }],
            timeoutMs,
          );
          if (written !== 'retry')
            return {
              changed: true,
              outcome: 'restored',
              reason: `upstream ${gateway.upstream} put back as it was before the cutover (${oneLine(before ?? previousServers.join(', '))}); nginx reload ${written.reload.taken === false ? 'NOT taken' : written.reload.taken ? 'taken' : 'sent'}`,
              reload: written.reload,
            };
          if (attempt >= CAS_ATTEMPTS) {
            throw ApplicationFailure.create({
              type: FailureType.GatewayChangedConcurrently,
              nonRetryable: false,
              message: `${snap.realPath} on ${target.describe} kept changing during the rollback of upstream ${gateway.upstream}; will retry.`,
            });
          }
        }
      },
    );
    if (input.verifyUrl && outcome.outcome !== 'left-alone')
      await verifyOrFail(input.verifyUrl, input.verifyBudgetMs ?? deps.verifyBudgetMs ?? 30_000, { previousServers });
    return outcome;
  }

  /**
   * After `nginx -s reload` returns, the master still has to start new workers and tell the old ones to stop: for a
   * moment the old configuration keeps answering (with the old backend, which also says 200). So wait for that switch
   * to settle, then require several consecutive answers before calling the new route good.
   */
  async function verifyOrFail(url: string, budgetMs: number, details: Record<string, unknown>): Promise<void> {
    const deadline = Date.now() + budgetMs;
    const interval = deps.verifyIntervalMs ?? 500;
    const needed = 3;
    heartbeat({ verifying: url, settling: true });
    await pause(Math.min(RELOAD_SETTLE_MS, budgetMs / 4));
    let last = 'no attempt';
    let streak = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await request(url, {
          method: 'GET',
          headersTimeout: Math.min(10_000, budgetMs),
          bodyTimeout: Math.min(10_000, budgetMs),
        });
        await res.body.dump();
        if (res.statusCode === 200) {
          if (++streak >= needed) return;
        } else {
          streak = 0;
          last = `HTTP ${res.statusCode}`;
        }
      } catch (err) {
        streak = 0;
        last = (err as { code?: string }).code ?? (err as Error).message;
      }
      // Heartbeat and a cancellation-aware pause: a cancelled run stops verifying at once.
      heartbeat({ verifying: url, attempt, last });
      const wait = streak > 0 ? Math.min(interval, 200) : interval;
      if (Date.now() + wait > deadline) break;
      await pause(wait);
    }
    throw ApplicationFailure.create({
      type: FailureType.GatewayVerifyFailed,
      nonRetryable: true,
      message: `after the nginx change, ${url} did not answer 200 ${needed} times in a row within ${budgetMs} ms (last: ${last}); check the gateway's error.log and the new backend. Roll back with the previous servers in the details.`,
      details: [details],
    });
  }

  return withFailureTranslation({ readGateway, cutoverGateway, rollbackGateway });
}

/** A cutover on its own: read, rewrite, compare-and-swap write (or, in a dry run, the diff and a preflight). */
async function cutOverAlone(
  target: RemoteTarget,
  gateway: GatewaySettings,
  dryRun: boolean | undefined,
  by: ActivityExecution | undefined,
  timeoutMs: number,
): Promise<CutoverGatewayResult> {
  for (let attempt = 1; ; attempt++) {
    const snap = await readSnapshot(target, gateway);
    const rewrite = rewriteOrFail(snap, gateway.upstream, gateway.newServers);
    if (!rewrite.changed) return alreadyCutOver(target, gateway, snap, rewrite.previousServers, timeoutMs, by);
    if (dryRun) {
      await preflight(target, gateway);
      return {
        previousServers: rewrite.previousServers,
        previousKnown: true,
        backupPath: null,
        changed: true,
        diff: unifiedDiff(snap.text, rewrite.text, snap.realPath, snap.realPath),
      };
    }
    const before = blockOrFail(snap, snap.text, gateway.upstream);
    const after = blockOrFail(snap, rewrite.text, gateway.upstream);
    const backupPath = backupPathFor(gateway, snap.realPath);
    const { realPath } = snap;
    const { previousServers } = rewrite;
    const record = cutoverRecord(gateway, { realPath, previousServers, backupPath, before, after }, by);
    const upstreams = [{ gateway, record, token: attemptToken() }];
    const written = await writeLocked(target, gateway, snap, rewrite.text, backupPath, upstreams, timeoutMs);
    if (written !== 'retry') return cutoverMade(record, written.reload);
    if (attempt >= CAS_ATTEMPTS) {
      throw ApplicationFailure.create({
        type: FailureType.GatewayChangedConcurrently,
        nonRetryable: false,
        message: `${snap.realPath} on ${target.describe} kept changing while we tried to rewrite upstream ${gateway.upstream} (${CAS_ATTEMPTS} tries); someone else is editing it. Will retry.`,
      });
    }
  }
}

/**
 * Changes with the same key meet at one site file through the same settings, so they can queue and go together;
 * everything but the upstream and its servers is in it.
 */
function changeKey(proxmoxHost: SshEndpoint, gateway: GatewaySettings): string {
  const endpoint = gateway.access.via === 'ssh' ? gateway.access.ssh : proxmoxHost;
  const { upstream: _upstream, newServers: _servers, name: _name, ...site } = gateway;
  return JSON.stringify([endpoint.host, endpoint.port, endpoint.user, site]);
}
