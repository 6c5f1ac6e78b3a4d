/**
 * The steps of a gateway change (src/activities/gateway.ts): the remote reads and the locked write (scripts in
 * src/nginx/scripts.ts), their failures as typed ApplicationFailures, and what an attempt needs from its activity
 * context (its execution key, its fence token, heartbeats, cancellation).
 */
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { GatewaySettings } from '../config/resolved-plan';
import { readUpstreams, rewriteUpstream, upstreamBlockText, type UpstreamInfo } from '../nginx/upstream';
import { EXIT, READ_SCRIPT, RELOAD_SCRIPT, TEST_SCRIPT, WRITE_SCRIPT } from '../nginx/scripts';
import type { RemoteTarget } from '../remote';
import { FailureType } from '../failure-types';
import type { CutoverGatewayResult, ReloadCheck } from './gateway';
import { heartbeat } from './heartbeat';

/** What we store beside the backups before renaming, so a retry can still answer "what was it before?". */
export interface CutoverRecord {
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

export interface Snapshot {
  realPath: string;
  sha256: string;
  text: string;
  record?: CutoverRecord;
  reloadedMarker?: string;
  newestBackup?: string;
}

export const CAS_ATTEMPTS = 3;

export function checkSettings(gateway: GatewaySettings): void {
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

export function statePath(gateway: GatewaySettings): string {
  return posix.join(gateway.backupDir, `${gateway.upstream}.previous`);
}

export function backupPathFor(gateway: GatewaySettings, realPath: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '-');
  return posix.join(gateway.backupDir, `${posix.basename(realPath)}.${stamp}-${randomBytes(2).toString('hex')}.bak`);
}

export async function readSnapshot(target: RemoteTarget, gateway: GatewaySettings): Promise<Snapshot> {
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

export function parseRecord(text: string): CutoverRecord | undefined {
  try {
    const r = JSON.parse(text) as CutoverRecord;
    return Array.isArray(r.previousServers) && Array.isArray(r.newServers) ? r : undefined;
  } catch {
    return undefined;
  }
}

export function parseOrFail(snap: Snapshot): UpstreamInfo[] {
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

export function rewriteOrFail(
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

export async function preflight(target: RemoteTarget, gateway: GatewaySettings): Promise<void> {
  const res = await target.run(['bash', '-c', TEST_SCRIPT, 'phoenix-gateway-test', ...gateway.nginxCommand]);
  if (res.code !== 0) throw preflightFailure(target, gateway, res.stderr);
}

export function preflightFailure(target: RemoteTarget, gateway: GatewaySettings, output: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.GatewayPreflightFailed,
    nonRetryable: true,
    message: `\`${gateway.nginxCommand.join(' ')} -t\` already fails on ${target.describe} BEFORE any change, so nothing was changed (changing it now would hide the real problem). Fix the nginx config first. nginx said: ${output.trim()}`,
  });
}

/** The record a cutover keeps beside the backups: what it changed, verbatim, and which activity did. */
export function cutoverRecord(
  gateway: GatewaySettings,
  change: { realPath: string; previousServers: string[]; backupPath: string; before: string; after: string },
  by: ActivityExecution | undefined,
): CutoverRecord {
  const { realPath, previousServers, backupPath, before, after } = change;
  const at = new Date().toISOString();
  return {
    upstream: gateway.upstream,
    realPath,
    previousServers,
    newServers: gateway.newServers,
    backupPath,
    at,
    by: by?.key,
    before,
    after,
  };
}

/** A cutover's answer once its write (alone or with others) went through. */
export function cutoverMade(record: CutoverRecord, reload: ReloadCheck): CutoverGatewayResult {
  return {
    previousServers: record.previousServers,
    previousKnown: true,
    backupPath: record.backupPath,
    changed: true,
    upstreamBefore: record.before,
    upstreamAfter: record.after,
    reload,
  };
}

/** What the write script keeps for one upstream it changes: its record (none for a rollback) and its fence. */
export interface UpstreamWrite {
  gateway: GatewaySettings;
  record?: CutoverRecord;
  /** The attempt's fence token (attemptToken() in its own activity). */
  token: number;
}

export async function writeLocked(
  target: RemoteTarget,
  gateway: GatewaySettings,
  snap: Snapshot,
  newText: string,
  backupPath: string,
  upstreams: UpstreamWrite[],
  timeoutMs: number,
): Promise<{ reload: ReloadCheck } | 'retry'> {
  const content = Buffer.from(newText, 'utf8');
  // Four lines per upstream (the script reads them so): paths have no newline (checkSettings), JSON escapes its own.
  const records = upstreams
    .flatMap((u) => [
      u.record ? statePath(u.gateway) : '',
      u.record ? JSON.stringify(u.record) : '',
      fencePath(u.gateway),
      String(u.token),
    ])
    .join('\n');
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
      gateway.lockFile,
      String(lockWaitSeconds(timeoutMs)),
      gateway.pidFile,
      gateway.errorLog,
      records,
      ...gateway.nginxCommand,
    ],
    { stdin: content },
  );
  if (res.code === 0) return { reload: parseReloadCheck(res.stdout) };
  if (res.code === EXIT.changedSinceRead) return 'retry';
  throw writeFailure(target, gateway, snap, res.code, res.stderr);
}

export function writeFailure(
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
export function lockWaitSeconds(commandTimeoutMs: number): number {
  return Math.max(1, Math.floor(commandTimeoutMs / 2000));
}

/**
 * `workflowId/runId/activityId` of the running activity (the same for all its retries), and whether this is a retry:
 * only a retry can find a change of its own already made. Undefined outside an activity.
 */
export interface ActivityExecution {
  key: string;
  retry: boolean;
}

export function activityExecution(): ActivityExecution | undefined {
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
export async function alreadyCutOver(
  target: RemoteTarget,
  gateway: GatewaySettings,
  snap: Snapshot,
  current: string[],
  timeoutMs: number,
  by?: ActivityExecution,
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

export function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function fencePath(gateway: GatewaySettings): string {
  return posix.join(gateway.backupDir, `${gateway.upstream}.fence`);
}

/**
 * When Temporal scheduled this attempt (server time, ms): later attempts, and the rollback after them, carry larger
 * tokens than any attempt before them. Outside an activity (scripts, direct tests) the local clock.
 */
export function attemptToken(): number {
  try {
    return Context.current().info.currentAttemptScheduledTimestampMs || Date.now();
  } catch {
    return Date.now();
  }
}

/** Stop before the next remote step when the activity was cancelled (or timed out and the server told us so). */
export function stopIfCancelled(): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return;
  }
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('activity cancelled');
}

/** The running activity's cancellation signal (undefined outside an activity). */
export function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/**
 * The target, with a heartbeat before and every few seconds during each remote command (a flock wait can last a
 * minute: without them the attempt would time out while it still works, and a second one would start beside it),
 * and a cancellation check before each.
 */
export function heartbeating(target: RemoteTarget): RemoteTarget {
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

export function parseReloadCheck(stdout: string): ReloadCheck {
  const lines = stdout.split('\n');
  const verdict = lines.find((l) => l.startsWith('reload: '))?.slice('reload: '.length) ?? 'unknown (not reported)';
  return {
    taken: verdict.startsWith('taken') ? true : verdict.startsWith('not-taken') ? false : null,
    detail: verdict,
    logLines: lines.filter((l) => l.startsWith('log: ')).map((l) => l.slice('log: '.length)),
  };
}

export function blockOrFail(snap: Snapshot, text: string, upstream: string): string {
  const block = upstreamBlockText(text, upstream);
  if (!block.ok) throw notRewritable(snap, block.error);
  return block.text;
}

export function notRewritable(snap: Snapshot, error: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.GatewayUpstreamNotRewritable,
    nonRetryable: true,
    message: `${snap.realPath}: ${error}`,
  });
}

export function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}…` : flat;
}
