/**
 * Phase 4 cutover at the gateway (LXC 101): point one nginx upstream at the new servers with a reload (no
 * downtime), safely: read → compute the new text here with rewriteUpstream → one locked remote script that
 * refuses if the file changed since the read (compare-and-swap), preflights `nginx -t`, backs up, renames
 * atomically, tests again (restoring on failure) and reloads → verify through the gateway from the worker.
 *
 * Idempotent: a retry after a lost response sees the upstream already pointing at the new servers and
 * returns the previous servers recorded in `<backupDir>/<upstream>.previous` (written before the rename).
 */
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { request } from 'undici';
import type { GatewaySettings, SshEndpoint } from '../config/resolved-plan';
import { unifiedDiff } from '../nginx/diff';
import { readUpstreams, rewriteUpstream, type UpstreamInfo } from '../nginx/upstream';
import { EXIT, READ_SCRIPT, RELOAD_SCRIPT, TEST_SCRIPT, WRITE_SCRIPT } from '../nginx/scripts';
import { containerTarget, hostTarget, withSsh, type RemoteTarget, type WorkerEnv } from '../remote';
import { toActivityFailure } from './failures';

export interface GatewayActivityDeps {
  env: WorkerEnv;
  /** How long verification through the gateway may take (default 30 s), and the pause between tries. */
  verifyBudgetMs?: number;
  verifyIntervalMs?: number;
}

export interface CutoverGatewayInput {
  proxmoxHost: SshEndpoint;
  gateway: GatewaySettings;
  verifyUrl: string;
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
}

export interface RollbackGatewayInput {
  proxmoxHost: SshEndpoint;
  gateway: GatewaySettings;
  previousServers: string[];
  verifyUrl?: string;
  verifyBudgetMs?: number;
}

export interface ReadGatewayResult {
  realPath: string;
  text: string;
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
  function onGateway<T>(
    proxmoxHost: SshEndpoint,
    gateway: GatewaySettings,
    fn: (target: RemoteTarget, timeoutMs: number) => Promise<T>,
  ): Promise<T> {
    checkSettings(gateway);
    const endpoint = gateway.access.via === 'ssh' ? gateway.access.ssh : proxmoxHost;
    return withSsh(endpoint, deps.env, (session) =>
      fn(
        gateway.access.via === 'ssh' ? hostTarget(session) : containerTarget(session, gateway.ctid),
        endpoint.commandTimeoutMs,
      ),
    );
  }

  async function readGateway(input: {
    proxmoxHost: SshEndpoint;
    gateway: GatewaySettings;
  }): Promise<ReadGatewayResult> {
    try {
      return await onGateway(input.proxmoxHost, input.gateway, async (target) => {
        const snap = await readSnapshot(target, input.gateway);
        return { realPath: snap.realPath, text: snap.text, upstreams: parseOrFail(snap) };
      });
    } catch (err) {
      throw toActivityFailure(err);
    }
  }

  async function cutoverGateway(input: CutoverGatewayInput): Promise<CutoverGatewayResult> {
    const { gateway } = input;
    const by = activityExecution();
    let result: CutoverGatewayResult;
    try {
      result = await onGateway(input.proxmoxHost, gateway, async (target, timeoutMs) => {
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
          const backupPath = backupPathFor(gateway, snap.realPath);
          const record: CutoverRecord = {
            upstream: gateway.upstream,
            realPath: snap.realPath,
            previousServers: rewrite.previousServers,
            newServers: gateway.newServers,
            backupPath,
            at: new Date().toISOString(),
            by: by?.key,
          };
          const written = await writeLocked(target, gateway, snap, rewrite.text, backupPath, record, timeoutMs);
          if (written === 'changed')
            return { previousServers: rewrite.previousServers, previousKnown: true, backupPath, changed: true };
          if (attempt >= CAS_ATTEMPTS) {
            throw ApplicationFailure.create({
              type: 'GatewayChangedConcurrently',
              nonRetryable: false,
              message: `${snap.realPath} on ${target.describe} kept changing while we tried to rewrite upstream ${gateway.upstream} (${CAS_ATTEMPTS} tries); someone else is editing it. Will retry.`,
            });
          }
        }
      });
    } catch (err) {
      throw toActivityFailure(err);
    }
    if (!input.dryRun)
      await verifyOrFail(input.verifyUrl, input.verifyBudgetMs ?? deps.verifyBudgetMs ?? 30_000, {
        previousServers: result.previousServers,
        backupPath: result.backupPath,
      });
    return result;
  }

  async function rollbackGateway(input: RollbackGatewayInput): Promise<{ changed: boolean; reason: string }> {
    const { gateway, previousServers } = input;
    let outcome: { changed: boolean; reason: string };
    try {
      outcome = await onGateway(input.proxmoxHost, gateway, async (target, timeoutMs) => {
        for (let attempt = 1; ; attempt++) {
          const snap = await readSnapshot(target, gateway);
          const current =
            parseOrFail(snap)
              .find((u) => u.name === gateway.upstream)
              ?.servers.map((s) => s.address) ?? [];
          if (sameSet(current, previousServers))
            return {
              changed: false,
              reason: `upstream ${gateway.upstream} already points at ${previousServers.join(', ')}`,
            };
          if (!sameSet(current, gateway.newServers)) {
            return {
              changed: false,
              reason: `upstream ${gateway.upstream} points at ${current.join(', ') || 'nothing'}, which is neither the cutover's new servers (${gateway.newServers.join(', ')}) nor the previous ones: someone changed it since; left alone`,
            };
          }
          const rewrite = rewriteOrFail(snap, gateway.upstream, previousServers);
          const written = await writeLocked(
            target,
            gateway,
            snap,
            rewrite.text,
            backupPathFor(gateway, snap.realPath),
            undefined,
            timeoutMs,
          );
          if (written === 'changed')
            return {
              changed: true,
              reason: `upstream ${gateway.upstream} rewritten from ${current.join(', ')} back to ${previousServers.join(', ')} and nginx reloaded`,
            };
          if (attempt >= CAS_ATTEMPTS) {
            throw ApplicationFailure.create({
              type: 'GatewayChangedConcurrently',
              nonRetryable: false,
              message: `${snap.realPath} on ${target.describe} kept changing during the rollback of upstream ${gateway.upstream}; will retry.`,
            });
          }
        }
      });
    } catch (err) {
      throw toActivityFailure(err);
    }
    if (input.verifyUrl)
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
    await new Promise((r) => setTimeout(r, Math.min(RELOAD_SETTLE_MS, budgetMs / 4)));
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
      Context.current().heartbeat({ verifying: url, attempt, last });
      const pause = streak > 0 ? Math.min(interval, 200) : interval;
      if (Date.now() + pause > deadline) break;
      await new Promise((r) => setTimeout(r, pause));
    }
    throw ApplicationFailure.create({
      type: 'GatewayVerifyFailed',
      nonRetryable: true,
      message: `after the nginx change, ${url} did not answer 200 ${needed} times in a row within ${budgetMs} ms (last: ${last}); check the gateway's error.log and the new backend. Roll back with the previous servers in the details.`,
      details: [details],
    });
  }

  return { readGateway, cutoverGateway, rollbackGateway };
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
      type: 'GatewaySettingsInvalid',
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
        type: res.code === EXIT.notFound ? 'GatewaySiteFileMissing' : 'GatewayReadFailed',
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
        type: 'GatewayReadFailed',
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
      type: 'GatewayConfigUnreadable',
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
      type: 'GatewayUpstreamNotRewritable',
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
    type: 'GatewayPreflightFailed',
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
): Promise<'changed' | 'retry'> {
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
      ...gateway.nginxCommand,
    ],
    { stdin: content },
  );
  if (res.code === 0) return 'changed';
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
        type: 'GatewayLockBusy',
        nonRetryable: false,
        message: `${gateway.lockFile} on ${target.describe} is held by another change: ${said}. Will retry.`,
      });
    case EXIT.testFailedRestored:
      return ApplicationFailure.create({
        type: 'GatewayConfigRejected',
        nonRetryable: true,
        message: `the rewritten ${snap.realPath} failed \`nginx -t\` on ${target.describe}; the old content was put back and nginx never loaded it. nginx said: ${said}`,
      });
    case EXIT.reloadFailedRestored:
      return ApplicationFailure.create({
        type: 'GatewayReloadFailed',
        nonRetryable: true,
        message: `\`${gateway.nginxCommand.join(' ')} -s reload\` failed on ${target.describe} (is nginx running?); the old content was put back. nginx said: ${said}`,
      });
    default:
      return ApplicationFailure.create({
        type: 'GatewayWriteFailed',
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
        ...gateway.nginxCommand,
      ]);
      if (res.code !== 0) throw writeFailure(target, gateway, snap, res.code, res.stderr);
    }
    return {
      previousServers: record.previousServers,
      previousKnown: true,
      backupPath: record.backupPath,
      changed: by?.retry === true && record.by === by.key,
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
