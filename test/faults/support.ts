/**
 * Tools of the fault matrix: a loopback TCP proxy in front of the world's sshd that can drop every connection at a
 * chosen moment, pause hooks in the Proxmox host's shell (so a drop lands inside a chosen remote step), a switchable
 * nginx wrapper on the gateway, plan variants, and readers of what really happened (history, audit log, traffic).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { request } from 'undici';
import { loadAndResolvePlan, type ResolvedPlan } from '../../src/config';
import { driveRun, type DriveResult } from '../../src/lab/driver';
import type { AuditEntry } from '../../src/lab/proxmox-sim';
import type { World } from '../../src/lab/world';
import type { MigrationWorld } from '../harness/migration-world';

export const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ── a TCP proxy that can cut connections ─────────────────────────────────────────────────────────────────────────

export interface CuttingProxy {
  host: string;
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Destroys every open connection (both sides, no FIN: like a dropped link); returns how many were cut. */
  cutAll(): number;
  close(): Promise<void>;
}

export async function startCuttingProxy(
  listenHost: string,
  target: { host: string; port: number },
): Promise<CuttingProxy> {
  const open = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, listenHost, () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: listenHost,
    port,
    accepted: () => accepted,
    cutAll() {
      const n = [...open].length / 2;
      // resetAndDestroy sends RST: the peer sees the link die, not a polite close.
      for (const s of [...open]) s.resetAndDestroy();
      open.clear();
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ── plan variants ────────────────────────────────────────────────────────────────────────────────────────────────

type RawPlan = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let variants = 0;

/** A copy of the world's plan file, edited, next to it (relative Phoenix paths still resolve), resolved. */
export function planVariant(
  world: World,
  edit: (raw: RawPlan) => void,
): { plan: ResolvedPlan; digest: string; planPath: string } {
  const raw = JSON.parse(fs.readFileSync(world.planPath, 'utf8')) as RawPlan;
  edit(raw);
  const planPath = path.join(path.dirname(world.planPath), `plan-variant-${variants++}.json`);
  fs.writeFileSync(planPath, JSON.stringify(raw, null, 2));
  const resolved = loadAndResolvePlan(planPath);
  if (!resolved.ok)
    throw new Error(
      `plan variant does not validate:\n${resolved.problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
    );
  return { plan: resolved.plan, digest: resolved.digest, planPath };
}

// ── pause hooks on the Proxmox host ──────────────────────────────────────────────────────────────────────────────

export interface PauseHook {
  /** The next call whose arguments contain `match` sleeps `ms` first (once), after announcing itself. */
  arm(match: string, ms: number): void;
  reached(): boolean;
  waitReached(timeoutMs?: number): Promise<void>;
}

/**
 * Puts `name` (e.g. `mkdir`) first on the SSH sessions' PATH (the world's bin dir, where the pct stand-in lives): a
 * wrapper that, when armed, pauses once before running the real command. The pause is where a test drops the link.
 */
export function pauseHookOnHost(world: World, name: string, realCommand: string): PauseHook {
  const binDir = path.join(world.dir, 'bin');
  const base = path.join(world.dir, 'hooks', name);
  fs.mkdirSync(path.dirname(base), { recursive: true });
  const script = `#!/bin/sh
armed='${base}.armed'
if [ -f "$armed" ]; then
  match=$(cat "$armed" 2>/dev/null || true)
  case " $* " in
    *"$match"*)
      if rm "$armed" 2>/dev/null; then ms=$(cat '${base}.ms'); touch '${base}.reached'; sleep "$(awk "BEGIN{print $ms/1000}")"; fi ;;
  esac
fi
exec ${realCommand} "$@"
`;
  fs.writeFileSync(path.join(binDir, name), script, { mode: 0o755 });
  return pauseControls(base);
}

function pauseControls(base: string): PauseHook {
  return {
    arm(match, ms) {
      fs.rmSync(`${base}.reached`, { force: true });
      fs.writeFileSync(`${base}.ms`, String(ms));
      fs.writeFileSync(`${base}.armed`, match);
    },
    reached: () => fs.existsSync(`${base}.reached`),
    async waitReached(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!fs.existsSync(`${base}.reached`)) {
        if (Date.now() > deadline)
          throw new Error(`the pause hook ${path.basename(base)} was not reached within ${timeoutMs} ms`);
        await sleepMs(20);
      }
    },
  };
}

// ── the gateway's nginx command, switchable ──────────────────────────────────────────────────────────────────────

export interface NginxSwitch {
  /** `-s reload` fails (exit 1, like a master process that is gone) until switched off. */
  failReloads(on: boolean): void;
  /** The next `-s reload` pauses `ms` before it runs (a drop can land between the rewrite and the reload). */
  pauseNextReload: PauseHook;
  reloadsAttempted(): number;
}

/** Wraps the plan's nginx command (the lab's wrapper script) in place; the original keeps doing the real work. */
export function switchableNginx(world: World): NginxSwitch {
  const wrapper = world.plan.gateway.nginxCommand[0];
  const real = `${wrapper}.real`;
  if (!fs.existsSync(real)) fs.renameSync(wrapper, real);
  const base = `${wrapper}.hook`;
  const failFlag = `${wrapper}.fail-reload`;
  const counter = `${wrapper}.reloads`;
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh
case " $* " in
  *" -s reload "*)
    echo x >> '${counter}'
    if [ -f '${failFlag}' ]; then echo "nginx: [error] invalid PID number \\"\\" in \\"${path.dirname(path.dirname(wrapper))}/run/nginx.pid\\"" >&2; exit 1; fi
    if rm '${base}.armed' 2>/dev/null; then ms=$(cat '${base}.ms'); touch '${base}.reached'; sleep "$(awk "BEGIN{print $ms/1000}")"; fi ;;
esac
exec '${real}' "$@"
`,
    { mode: 0o755 },
  );
  return {
    failReloads(on) {
      if (on) fs.writeFileSync(failFlag, '');
      else fs.rmSync(failFlag, { force: true });
    },
    pauseNextReload: pauseControls(base),
    reloadsAttempted: () =>
      fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0,
  };
}

// ── driving a run and reading what happened ──────────────────────────────────────────────────────────────────────

/** Drives the run like an unattended operator (deploys, confirms, approves; aborts after a failed verification). */
export async function driveToEnd(mw: MigrationWorld, handle: WorkflowHandle, log: string[] = []): Promise<DriveResult> {
  return driveRun({
    client: mw.t.client,
    workflowId: handle.workflowId,
    world: mw.world,
    autoConfirm: true,
    say: (l) => log.push(l),
    pollMs: 150,
  });
}

export interface ActivityOutcome {
  activity: string;
  /** The attempt that ended it (1 = never retried). */
  attempt: number;
  failed: boolean;
  failureType?: string;
  nonRetryable?: boolean;
  message?: string;
}

/** Every activity of the run as the history records it (its last attempt; retries before it are not events). */
export async function activityOutcomes(handle: WorkflowHandle): Promise<ActivityOutcome[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  const attempts = new Map<string, number>();
  const out: ActivityOutcome[] = [];
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes)
      scheduled.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) attempts.set(String(started.scheduledEventId), started.attempt ?? 1);
    const done =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (done) {
      const sid = String(done.scheduledEventId);
      const failure = 'failure' in done ? done.failure : undefined;
      out.push({
        activity: scheduled.get(sid) ?? '?',
        attempt: attempts.get(sid) ?? 1,
        failed: !e.activityTaskCompletedEventAttributes,
        failureType: failure?.applicationFailureInfo?.type ?? undefined,
        nonRetryable: failure?.applicationFailureInfo?.nonRetryable ?? undefined,
        message: failure?.message ?? undefined,
      });
    }
  }
  return out;
}

/** Proxmox calls that took effect: answered 200, or applied with the answer lost. */
export function effectiveCalls(world: World, method: string, pathRe: RegExp): AuditEntry[] {
  return world.proxmox
    .audit()
    .filter((e) => e.method === method && pathRe.test(e.path) && (e.status === 200 || e.fault === 'lost-response'));
}

export function param(e: AuditEntry, key: string): string | undefined {
  const v = (e.params as Record<string, unknown> | undefined)?.[key];
  return v === undefined ? undefined : String(v);
}

/** Sends one request through the gateway's Qdrant route and says which backend answered it. */
export async function gatewayBackend(world: World): Promise<'legacy' | 'new' | 'none'> {
  const legacyBefore = world.legacyQdrant.requestCount();
  const newBefore = world.newQdrant.requestCount();
  const res = await request(`${world.plan.qdrant.gatewayUrl}/collections`, {
    headersTimeout: 5000,
    bodyTimeout: 5000,
  }).catch(() => undefined);
  await res?.body.dump();
  if (world.legacyQdrant.requestCount() > legacyBefore) return 'legacy';
  if (world.newQdrant.requestCount() > newBefore) return 'new';
  return 'none';
}
