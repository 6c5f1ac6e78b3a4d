/**
 * Phase 4 cutover at the gateway (LXC 101): point one nginx upstream at the new servers with a reload (no
 * downtime), safely: read → compute the new text here with rewriteUpstream → one locked remote script that
 * refuses if the file changed since the read (compare-and-swap), preflights `nginx -t`, backs up, renames
 * atomically, tests again (restoring on failure) and reloads → verify through the gateway from the worker.
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
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { request } from 'undici';
import type { GatewaySettings, SshEndpoint } from '../config/resolved-plan';
import { unifiedDiff } from '../nginx/diff';
import {
  readUpstreams,
  replaceUpstreamBlock,
  rewriteUpstream,
  upstreamBlockText,
  type UpstreamInfo,
} from '../nginx/upstream';
import { EXIT, READ_SCRIPT, RELOAD_SCRIPT, TEST_SCRIPT, WRITE_SCRIPT } from '../nginx/scripts';
import { containerTarget, hostTarget, withSsh, type RemoteTarget, type WorkerEnv } from '../remote';
import { FailureType } from '../failure-types';
import { withFailureTranslation } from './failures';
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

/** What we store beside the backups before renaming, so a retry can still answer "what was it before?". */
interface CutoverRecord {
  upstream: string;
  realPath: string;
  previousServers: string[];
  newServers: string[];
  backupPath: string;
  at: string;
  /** The activity execution that made the change (workflow/run/activity id): its own retry reports it as its change. */
  by?: string;
  /** The upstream block verbatim before and after (records written by older versions lack them). */
  before?: string;
  after?: string;
}

interface Snapshot {
  realPath: string;
  sha256: string;
  text: string;
  record?: CutoverRecord;
  reloadedMarker?: string;
  newestBackup?: string;
}

const CAS_ATTEMPTS = 3;

/** How long nginx's master needs after `-s reload` to replace its workers (it is milliseconds; this is generous). */
const RELOAD_SETTLE_MS = 500;

export function createGatewayActivities(deps: GatewayActivityDeps) {
  /**
   * This worker's changes of one gateway site file, one at a time. The file's flock and compare-and-swap already make
   * concurrent changes safe, but not cheap: N activities that read together all find the file changed after the first
   * write, read again, and the losers of three rounds back off as activity retries — a shared gateway cut over by a
   * fleet of runs spent most of its time there. Queued here, each change reads the file the previous one wrote and
   * finds the lock free; changes from other workers or people are still caught by the lock and the compare-and-swap.
   * Reads are not queued.
   */
  const changeQueues = new Map<string, Promise<unknown>>();
  function oneChangeAtATime<T>(proxmoxHost: SshEndpoint, gateway: GatewaySettings, fn: () => Promise<T>): Promise<T> {
    const endpoint = gateway.access.via === 'ssh' ? gateway.access.ssh : proxmoxHost;
    const key = JSON.stringify([endpoint.host, endpoint.port, gateway.access.via, gateway.ctid, gateway.siteFile]);
    const turn = (changeQueues.get(key) ?? Promise.resolve()).then(fn, fn);
    const settled = turn.then(
      () => undefined,
      () => undefined,
    );
    changeQueues.set(key, settled);
    void settled.then(() => {
      if (changeQueues.get(key) === settled) changeQueues.delete(key);
    });
    return turn;
  }

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
    return oneChangeAtATime(proxmoxHost, gateway, () => onGateway(proxmoxHost, gateway, fn));
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
    const { gateway } = input;
    const by = activityExecution();
    const result = await changeGateway(input.proxmoxHost, gateway, async (target, timeoutMs) => {
      for (let attempt = 1; ; attempt++) {
        const snap = await readSnapshot(target, gateway);
        const rewrite = rewriteOrFail(snap, gateway.upstream, gateway.newServers);
        if (!rewrite.changed) return alreadyCutOver(target, gateway, snap, rewrite.previousServers, timeoutMs, by);
        if (input.dryRun) {
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
        const record: CutoverRecord = {
          upstream: gateway.upstream,
          realPath: snap.realPath,
          previousServers: rewrite.previousServers,
          newServers: gateway.newServers,
          backupPath,
          at: new Date().toISOString(),
          by: by?.key,
          before,
          after,
        };
        const written = await writeLocked(target, gateway, snap, rewrite.text, backupPath, record, timeoutMs);
        if (written !== 'retry')
          return {
            previousServers: rewrite.previousServers,
            previousKnown: true,
            backupPath,
            changed: true,
            upstreamBefore: before,
            upstreamAfter: after,
            reload: written.reload,
          };
        if (attempt >= CAS_ATTEMPTS) {
          throw ApplicationFailure.create({
            type: FailureType.GatewayChangedConcurrently,
            nonRetryable: false,
            message: `${snap.realPath} on ${target.describe} kept changing while we tried to rewrite upstream ${gateway.upstream} (${CAS_ATTEMPTS} tries); someone else is editing it. Will retry.`,
          });
        }
      }
    });
    if (!input.dryRun && input.verifyUrl)
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
            undefined,
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

// ---- steps -------------------------------------------------------------------------------------------

function checkSettings(gateway: GatewaySettings): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9_.-]+$/.test(gateway.upstream))
    problems.push(`gateway.upstream ${JSON.stringify(gateway.upstream)} must be a plain upstream name`);
  for (const [field, value] of [
    ['siteFile', gateway.siteFile],
    ['backupDir', gateway.backupDir],
    ['lockFile', gateway.lockFile],
  ] as const) {
    if (!value.startsWith('/') || /[\n\0]/.test(value))
      problems.push(`gateway.${field} must be an absolute path, got ${JSON.stringify(value)}`);
  }
  if (gateway.nginxCommand.length === 0) problems.push('gateway.nginxCommand is empty (use ["nginx"])');
  if (problems.length > 0)
    throw ApplicationFailure.create({
      type: FailureType.GatewaySettingsInvalid,
      nonRetryable: true,
      message: problems.join('; '),
    });
}

function statePath(gateway: GatewaySettings): string {
  return posix.join(gateway.backupDir, `${gateway.upstream}.previous`);
}

function backupPathFor(gateway: GatewaySettings, realPath: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '-');
  return posix.join(gateway.backupDir, `${posix.basename(realPath)}.${stamp}-${randomBytes(2).toString('hex')}.bak`);
}

async function readSnapshot(target: RemoteTarget, gateway: GatewaySettings): Promise<Snapshot> {
  for (let attempt = 1; ; attempt++) {
    const res = await target.run([
      'bash',
      '-c',
      READ_SCRIPT,
      'phoenix-gateway-read',
      gateway.siteFile,
      statePath(gateway),
      gateway.backupDir,
    ]);
    if (res.code !== 0) {
      throw ApplicationFailure.create({
        type: res.code === EXIT.notFound ? FailureType.GatewaySiteFileMissing : FailureType.GatewayReadFailed,
        nonRetryable: res.code === EXIT.notFound,
        message: `reading ${gateway.siteFile} on ${target.describe} failed (exit ${res.code}): ${res.stderr.trim()}`,
      });
    }
    const lines: string[] = [];
    let rest = res.stdout;
    for (let i = 0; i < 5; i++) {
      const nl = rest.indexOf('\n');
      lines.push(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
    const [realPath, sha256, recordB64, markerB64, newestBackup] = lines;
    // sha and content are read by two commands: if they disagree, the file changed in between; read again
    if (createHash('sha256').update(rest, 'utf8').digest('hex') !== sha256) {
      if (attempt < CAS_ATTEMPTS) continue;
      throw ApplicationFailure.create({
        type: FailureType.GatewayReadFailed,
        nonRetryable: true,
        message: `${realPath} on ${target.describe}: the content read does not match its sha256; is it valid UTF-8 text? Check the file.`,
      });
    }
    return {
      realPath,
      sha256,
      text: rest,
      record: recordB64 ? parseRecord(Buffer.from(recordB64, 'base64').toString('utf8')) : undefined,
      reloadedMarker: markerB64 ? Buffer.from(markerB64, 'base64').toString('utf8').trim() : undefined,
      newestBackup: newestBackup || undefined,
    };
  }
}

function parseRecord(text: string): CutoverRecord | undefined {
  try {
    const r = JSON.parse(text) as CutoverRecord;
    return Array.isArray(r.previousServers) && Array.isArray(r.newServers) ? r : undefined;
  } catch {
    return undefined;
  }
}

function parseOrFail(snap: Snapshot): UpstreamInfo[] {
  try {
    return readUpstreams(snap.text);
  } catch (err) {
    throw ApplicationFailure.create({
      type: FailureType.GatewayConfigUnreadable,
      nonRetryable: true,
      message: `${snap.realPath}: ${(err as Error).message}`,
    });
  }
}

function rewriteOrFail(
  snap: Snapshot,
  upstream: string,
  servers: string[],
): { text: string; previousServers: string[]; changed: boolean } {
  const r = rewriteUpstream(snap.text, upstream, servers);
  if (!r.ok)
    throw ApplicationFailure.create({
      type: FailureType.GatewayUpstreamNotRewritable,
      nonRetryable: true,
      message: `${snap.realPath}: ${r.error}`,
    });
  return r;
}

async function preflight(target: RemoteTarget, gateway: GatewaySettings): Promise<void> {
  const res = await target.run(['bash', '-c', TEST_SCRIPT, 'phoenix-gateway-test', ...gateway.nginxCommand]);
  if (res.code !== 0) throw preflightFailure(target, gateway, res.stderr);
}

function preflightFailure(target: RemoteTarget, gateway: GatewaySettings, output: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.GatewayPreflightFailed,
    nonRetryable: true,
    message: `\`${gateway.nginxCommand.join(' ')} -t\` already fails on ${target.describe} BEFORE any change, so nothing was changed (changing it now would hide the real problem). Fix the nginx config first. nginx said: ${output.trim()}`,
  });
}

async function writeLocked(
  target: RemoteTarget,
  gateway: GatewaySettings,
  snap: Snapshot,
  newText: string,
  backupPath: string,
  record: CutoverRecord | undefined,
  timeoutMs: number,
): Promise<{ reload: ReloadCheck } | 'retry'> {
  const content = Buffer.from(newText, 'utf8');
  const res = await target.run(
    [
      'bash',
      '-c',
      WRITE_SCRIPT,
      'phoenix-gateway-write',
      snap.realPath,
      snap.sha256,
      createHash('sha256').update(content).digest('hex'),
      backupPath,
      record ? statePath(gateway) : '',
      record ? JSON.stringify(record) : '',
      gateway.lockFile,
      String(lockWaitSeconds(timeoutMs)),
      fencePath(gateway),
      String(attemptToken()),
      gateway.pidFile,
      gateway.errorLog,
      ...gateway.nginxCommand,
    ],
    { stdin: content },
  );
  if (res.code === 0) return { reload: parseReloadCheck(res.stdout) };
  if (res.code === EXIT.changedSinceRead) return 'retry';
  throw writeFailure(target, gateway, snap, res.code, res.stderr);
}

function writeFailure(
  target: RemoteTarget,
  gateway: GatewaySettings,
  snap: Snapshot,
  code: number,
  stderr: string,
): ApplicationFailure {
  const said = stderr.trim();
  switch (code) {
    case EXIT.preflightFailed:
      return preflightFailure(target, gateway, said);
    case EXIT.lockBusy:
      return ApplicationFailure.create({
        type: FailureType.GatewayLockBusy,
        nonRetryable: false,
        message: `${gateway.lockFile} on ${target.describe} is held by another change: ${said}. Will retry.`,
      });
    case EXIT.testFailedRestored:
      return ApplicationFailure.create({
        type: FailureType.GatewayConfigRejected,
        nonRetryable: true,
        message: `the rewritten ${snap.realPath} failed \`nginx -t\` on ${target.describe}; the old content was put back and nginx never loaded it. nginx said: ${said}`,
      });
    case EXIT.superseded:
      return ApplicationFailure.create({
        type: FailureType.GatewayAttemptSuperseded,
        nonRetryable: true,
        message: `this attempt on ${target.describe} was superseded (a newer attempt or a rollback already handled the gateway) and changed nothing: ${said}`,
      });
    case EXIT.restoreFailed:
      return ApplicationFailure.create({
        type: FailureType.GatewayRestoreFailed,
        nonRetryable: true,
        message: `the rewritten ${snap.realPath} failed on ${target.describe} and could NOT be put back: the rewritten file is on disk (nginx has not loaded it). Restore it by hand from the backup. nginx/script said: ${said}`,
      });
    case EXIT.reloadFailedRestored:
      return ApplicationFailure.create({
        type: FailureType.GatewayReloadFailed,
        nonRetryable: true,
        message: `\`${gateway.nginxCommand.join(' ')} -s reload\` failed on ${target.describe} (is nginx running?); the old content was put back. nginx said: ${said}`,
      });
    default:
      return ApplicationFailure.create({
        type: FailureType.GatewayWriteFailed,
        nonRetryable: false,
        message: `changing ${snap.realPath} on ${target.describe} failed (exit ${code}): ${said || 'no output'}`,
      });
  }
}

/** The lock wait must end well before the SSH command timeout, or a timeout would hide a busy lock. */
function lockWaitSeconds(commandTimeoutMs: number): number {
  return Math.max(1, Math.floor(commandTimeoutMs / 2000));
}

/**
 * `workflowId/runId/activityId` of the running activity (the same for all its retries), and whether this is a retry:
 * only a retry can find a change of its own already made. Undefined outside an activity.
 */
function activityExecution(): { key: string; retry: boolean } | undefined {
  try {
    const { workflowExecution: run, activityId, attempt } = Context.current().info;
    return run ? { key: `${run.workflowId}/${run.runId}/${activityId}`, retry: attempt > 1 } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The upstream already shows the new servers: a retry after a lost response, or a rerun. Take the previous
 * servers from our record; make sure the reload of that change happened (the record's marker says so).
 * When the record says this very activity made the change (an earlier attempt whose answer was lost), it is
 * reported as changed: otherwise the run's report would leave out a change it made.
 */
async function alreadyCutOver(
  target: RemoteTarget,
  gateway: GatewaySettings,
  snap: Snapshot,
  current: string[],
  timeoutMs: number,
  by?: { key: string; retry: boolean },
): Promise<CutoverGatewayResult> {
  const record = snap.record;
  let reload: ReloadCheck | undefined;
  if (record && record.upstream === gateway.upstream && sameSet(record.newServers, current)) {
    if (snap.reloadedMarker !== record.backupPath) {
      const res = await target.run([
        'bash',
        '-c',
        RELOAD_SCRIPT,
        'phoenix-gateway-reload',
        gateway.lockFile,
        String(lockWaitSeconds(timeoutMs)),
        `${statePath(gateway)}.reloaded`,
        record.backupPath,
        fencePath(gateway),
        String(attemptToken()),
        gateway.pidFile,
        gateway.errorLog,
        ...gateway.nginxCommand,
      ]);
      if (res.code === EXIT.preflightFailed)
        // Not "nothing was changed": the file already holds the cutover (an earlier attempt wrote it and was cut off).
        throw ApplicationFailure.create({
          type: FailureType.GatewayConfigRejected,
          nonRetryable: true,
          message: `${snap.realPath} on ${target.describe} already holds the cutover of upstream ${gateway.upstream} (written ${record.at}${record.by ? ` by ${record.by}` : ''}, backup ${record.backupPath}) but \`${gateway.nginxCommand.join(' ')} -t\` fails, so it was NOT reloaded: the gateway file was changed and nginx still runs the old configuration. nginx said: ${res.stderr.trim()}`,
        });
      if (res.code !== 0) throw writeFailure(target, gateway, snap, res.code, res.stderr);
      reload = parseReloadCheck(res.stdout);
    }
    return {
      previousServers: record.previousServers,
      previousKnown: true,
      backupPath: record.backupPath,
      changed: by?.retry === true && record.by === by.key,
      ...(record.before !== undefined && record.after !== undefined
        ? { upstreamBefore: record.before, upstreamAfter: record.after }
        : {}),
      ...(reload ? { reload } : {}),
    };
  }
  if (snap.newestBackup) {
    const res = await target.run(['cat', '--', snap.newestBackup]);
    if (res.code === 0) {
      try {
        const before = readUpstreams(res.stdout)
          .find((u) => u.name === gateway.upstream)
          ?.servers.map((s) => s.address);
        if (before && before.length > 0 && !sameSet(before, current))
          return { previousServers: before, previousKnown: true, backupPath: snap.newestBackup, changed: false };
      } catch {
        // an unreadable backup tells us nothing; fall through
      }
    }
  }
  return { previousServers: current, previousKnown: false, backupPath: null, changed: false };
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function fencePath(gateway: GatewaySettings): string {
  return posix.join(gateway.backupDir, `${gateway.upstream}.fence`);
}

/**
 * When Temporal scheduled this attempt (server time, ms): later attempts, and the rollback after them, carry larger
 * tokens than any attempt before them. Outside an activity (scripts, direct tests) the local clock.
 */
function attemptToken(): number {
  try {
    return Context.current().info.currentAttemptScheduledTimestampMs || Date.now();
  } catch {
    return Date.now();
  }
}

/** Stop before the next remote step when the activity was cancelled (or timed out and the server told us so). */
function stopIfCancelled(): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return;
  }
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('activity cancelled');
}

/**
 * The target, with a heartbeat before and every few seconds during each remote command (a flock wait can last a
 * minute: without them the attempt would time out while it still works, and a second one would start beside it),
 * and a cancellation check before each.
 */
function heartbeating(target: RemoteTarget): RemoteTarget {
  return {
    describe: target.describe,
    run: async (argv, opts) => {
      stopIfCancelled();
      const step = argv[0] === 'bash' ? argv[3] : argv[0];
      heartbeat({ step });
      const ticker = setInterval(() => {
        try {
          Context.current().heartbeat({ step });
        } catch {
          // not in an activity
        }
      }, HEARTBEAT_EVERY_MS);
      try {
        return await target.run(argv, opts);
      } finally {
        clearInterval(ticker);
      }
    },
  };
}

const HEARTBEAT_EVERY_MS = 3000;

function parseReloadCheck(stdout: string): ReloadCheck {
  const lines = stdout.split('\n');
  const verdict = lines.find((l) => l.startsWith('reload: '))?.slice('reload: '.length) ?? 'unknown (not reported)';
  return {
    taken: verdict.startsWith('taken') ? true : verdict.startsWith('not-taken') ? false : null,
    detail: verdict,
    logLines: lines.filter((l) => l.startsWith('log: ')).map((l) => l.slice('log: '.length)),
  };
}

function blockOrFail(snap: Snapshot, text: string, upstream: string): string {
  const block = upstreamBlockText(text, upstream);
  if (!block.ok) throw notRewritable(snap, block.error);
  return block.text;
}

function notRewritable(snap: Snapshot, error: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.GatewayUpstreamNotRewritable,
    nonRetryable: true,
    message: `${snap.realPath}: ${error}`,
  });
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}…` : flat;
}
