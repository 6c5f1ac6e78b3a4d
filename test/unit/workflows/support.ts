/**
 * The migration workflow on Temporal's time-skipping test server, with stubbed activities.
 *
 * - The server is the `temporal-test-server` binary found (or installed) like the Temporal CLI
 *   (scripts/ensure-temporal-test-server.js), handed to the SDK as an existing path: no download, no dev server.
 * - Time is virtual: awaiting a run's result, or `env.sleep()`, skips ahead to the next timer. Tests assert on counts
 *   and on what the workflow did, never on how long something took.
 * - The activities are `StubActivities`: every name the workflow proxies, with programmable answers (by default: the
 *   world is fine and already as planned), and a record of every call.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { MigrationActivities } from '../../../src/activities';
import { workflowBundleInputs } from '../../../src/build/workflow-bundle-inputs';
import { loadAndResolvePlan } from '../../../src/config';
import type { MigrationInput, ResolvedPlan } from '../../../src/config/resolved-plan';
import { approveDecommissionUpdate, confirmPortainerDeployUpdate, statusQuery } from '../../../src/workflows/messages';
import type { MigrationReport } from '../../../src/workflows/report';
import type { migration } from '../../../src/workflows/migration';
import { waitUntil } from '../../harness/wait';
import { requiredSearchAttributes } from '../../../src/workflows/search-attributes';
import type { MigrationStatus } from '../../../src/workflows/status';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureTemporalTestServer } = require('../../../scripts/ensure-temporal-test-server.js') as {
  ensureTemporalTestServer: () => string;
};

const REPO = path.resolve(__dirname, '../../..');
export const SHIPPED_PLAN = path.join(REPO, 'plans/qdrant-to-dr-phoenix.json');

/**
 * A time-skipping server for one test file, with the run's search attributes registered: like the dev server, it
 * refuses `upsertSearchAttributes` for an attribute it does not know (the workflow task would fail forever).
 */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: testServerExecutable() } });
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of requiredSearchAttributes)
    searchAttributes[key.name] =
      temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}` as 'INDEXED_VALUE_TYPE_KEYWORD'];
  await env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes });
  return env;
}

/** The binary found or installed like the CLI; without pip, the SDK's own download (needs internet) as the fall-back. */
function testServerExecutable(): { type: 'existing-path'; path: string } | { type: 'cached-download' } {
  try {
    return { type: 'existing-path', path: ensureTemporalTestServer() };
  } catch (err) {
    console.warn(`${(err as Error).message}\nfalling back to the SDK's download of the test server (needs internet)`);
    return { type: 'cached-download' };
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

let bundle: Promise<WorkflowBundleOption> | undefined;
/** The built bundle (lib/workflow-bundle.js) when it is newer than src/; otherwise the workflows bundled once here. */
export function workflowBundle(): Promise<WorkflowBundleOption> {
  bundle ??= (async () => {
    const built = path.join(REPO, 'lib', 'workflow-bundle.js');
    if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newestMtime(path.join(REPO, 'src'))) {
      return { codePath: built };
    }
    const { code } = await bundleWorkflowCode({
      ...workflowBundleInputs(path.join(REPO, 'src', 'workflows')),
      logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never,
    });
    return { code };
  })();
  return bundle;
}

/** The shipped plan, resolved as the CLI resolves it, with the timings (and anything else) a test needs. */
export function planInput(change: (plan: ResolvedPlan) => void = () => {}, extra: Partial<MigrationInput> = {}) {
  const resolved = loadAndResolvePlan(SHIPPED_PLAN, { env: {} });
  if (!resolved.ok) throw new Error(`the shipped plan does not resolve: ${JSON.stringify(resolved.problems)}`);
  const plan = structuredClone(resolved.plan);
  change(plan);
  const input: MigrationInput = { plan, digest: resolved.digest, ...extra };
  return input;
}

type Acts = MigrationActivities;
export type ActivityName = keyof Acts;
export type ArgOf<N extends ActivityName> = Parameters<Acts[N]>[0];
export type ResultOf<N extends ActivityName> = Awaited<ReturnType<Acts[N]>>;
/** An answer gets the activity's input and how many times it was called before (0 for the first call). */
export type Answer<N extends ActivityName> = (
  input: ArgOf<N>,
  callsBefore: number,
) => ResultOf<N> | Promise<ResultOf<N>>;
type Answers = { [N in ActivityName]: Answer<N> };

/** The legacy Qdrant the shipped plan moves away from (what `qdrant_service` points at before the cutover). */
export const LEGACY_QDRANT = '10.0.0.152:6333';

/** A world where everything is fine and as planned: every check passes, every change succeeds. */
function defaultAnswers(): Answers {
  let upstream: string[] = [LEGACY_QDRANT];
  const upstreamsNow = (name: string) => [
    {
      name,
      line: 1,
      servers: upstream.map((address) => {
        const [host, port] = address.split(':');
        return { host, port: Number(port), address, params: [] as string[] };
      }),
    },
  ];
  return {
    preflight: () => ({ problems: [], checks: ['template 9000', 'vmids free', 'gateway', 'NFS export'], notes: [] }),
    provisionComposeFiles: (i) => ({
      files: i.files.map((f) => ({ hostPath: f.hostPath, outcome: i.dryRun ? 'would-create' : 'created' })),
    }),
    ensureVm: (i) => ({
      vmid: i.vm.vmid,
      created: !i.dryRun,
      adopted: false,
      changes: [`clone ${i.vm.cloneFrom} → ${i.vm.vmid}`],
      rebootRequired: false,
      ready: !i.dryRun,
    }),
    checkReadiness: () => ({ missing: [], checked: ['docker', 'portainer', 'agent', 'nfs'] }),
    probeQdrant: () => ({ ready: true, detail: 'ready' }),
    checkPortainerStack: () => ({ checked: true, stackExists: true, containerRunning: true, detail: 'running' }),
    ensurePortainerDeployment: (i) => ({
      environmentId: i.dryRun ? null : 2,
      environment: i.dryRun ? 'would-create' : 'created',
      stackId: i.dryRun ? null : 7,
      stack: i.dryRun ? 'would-create' : 'created',
      containerRunning: !i.dryRun,
      changes: [i.dryRun ? 'would create stack' : 'created stack'],
      detail: 'stack deployed',
    }),
    copyQdrantCollections: () => [],
    readLegacyTraffic: () => ({ requestsTotal: 0, dataRequestsTotal: 0 }),
    readGateway: (i) => ({ realPath: i.gateway.siteFile, upstreams: upstreamsNow(i.gateway.upstream) }),
    cutoverGateway: (i) => {
      const previousServers = upstream;
      if (!i.dryRun) upstream = i.gateway.newServers;
      return { previousServers, previousKnown: true, backupPath: '/var/backups/site.bak', changed: true, diff: '' };
    },
    rollbackGateway: (i) => {
      upstream = i.previousServers;
      return { changed: true, outcome: 'restored', reason: 'restored' };
    },
    verifyQdrant: () => ({ ok: true, attempts: 1, detail: 'ready, collections as expected', collections: [] }),
    verifyGatewayIdentity: () => ({
      ok: true,
      identitySeen: 'new',
      newId: 'qdrant-new',
      legacyId: 'qdrant-legacy',
      attempts: 1,
      detail: 'the new Qdrant answers through the gateway',
      collections: [],
    }),
    decommissionGuest: (i) => ({
      ctid: i.guest.ctid,
      outcome: i.dryRun ? 'would-delete' : 'deleted',
      backupVolid: i.dryRun ? undefined : `local:backup/vzdump-lxc-${i.guest.ctid}.tar.zst`,
      steps: [],
    }),
    inspectLegacyGuests: (i) =>
      i.guests.map((g) => ({
        ctid: g.ctid,
        // As on the real node: the old gateway CT 953 is already gone.
        exists: g.ctid !== 953,
        visible: true,
        type: 'lxc' as const,
        node: g.node,
        name: g.name,
        status: 'running',
        addresses: g.ip ? [g.ip] : [],
        // The volumes the plan decides, as the node has them (no backup=1 yet).
        mountPoints: Object.keys(g.volumes ?? {}).map((key) => ({
          key,
          kind: 'volume' as const,
          source: `pool:subvol-${g.ctid}-disk-1`,
          path: '/data',
          sizeGb: 20,
          backup: false,
          raw: `pool:subvol-${g.ctid}-disk-1,mp=/data,size=20G`,
        })),
      })),
    readGatewayRoutes: (i) => ({
      files: [i.gateway.siteFile],
      upstreams: upstreamsNow(i.gateway.upstream).map((u) => ({ ...u, file: i.gateway.siteFile })),
      literals: [],
    }),
    compareQdrantCollections: () => [],
    notify: () => ({ delivered: true, status: 200 }),
    prepareVolumeDirectory: (i) => ({
      vmid: i.vm.vmid,
      directories: i.vm.volumes.map((v) => ({ path: v.path, outcome: i.dryRun ? 'would-apply' : 'applied' })),
    }),
    provisionFeature: (i) => featureAnswer(i),
    provisionFeatures: (i) => ({
      features: i.features.map((f) => ({
        ...featureAnswer({ ...i, ...f }),
        startedAt: '2026-12-07T00:00:00.000Z',
        endedAt: '2026-12-07T00:00:01.000Z',
      })),
    }),
    runPhoenixCreate: (i) => ({ vmid: i.vmid, exitcode: 0, tail: 'done' }),
    updatePhoenixSources: () => ({ updated: [], current: [], notWritten: [] }),
  } satisfies Answers;
}

/** What one feature's check → apply → verify answers by default: applied (verified, would-apply as asked). */
function featureAnswer(i: ArgOf<'provisionFeature'>): ResultOf<'provisionFeature'> {
  return {
    vmid: i.vm.vmid,
    name: i.step.name,
    outcome: i.verifyOnly ? 'verified' : i.dryRun ? 'would-apply' : 'applied',
    sha256: '0'.repeat(64),
    detail: 'done',
  };
}

export interface Call {
  name: ActivityName;
  input: unknown;
}

/** Every activity the workflow proxies, answering from a programmable table and recording each call. */
export class StubActivities {
  readonly calls: Call[] = [];
  private readonly answers: Answers = defaultAnswers();

  /** Replaces how one activity answers (throw inside to make it fail). */
  answer<N extends ActivityName>(name: N, fn: Answer<N>): this {
    (this.answers as Record<ActivityName, unknown>)[name] = fn;
    return this;
  }

  callsOf<N extends ActivityName>(name: N): ArgOf<N>[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input as ArgOf<N>);
  }

  names(): ActivityName[] {
    return this.calls.map((c) => c.name);
  }

  /** The object handed to `Worker.create({ activities })`. */
  activities(): Record<string, (input: unknown) => Promise<unknown>> {
    const out: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const name of Object.keys(this.answers) as ActivityName[]) {
      out[name] = async (input: unknown) => {
        const before = this.calls.filter((c) => c.name === name).length;
        this.calls.push({ name, input });
        const answer = this.answers[name] as (i: unknown, n: number) => unknown;
        return await answer(input, before);
      };
    }
    return out;
  }
}

export type MigrationHandle = WorkflowHandle<typeof migration>;
export type StartedMigration = WorkflowHandleWithFirstExecutionRunId<typeof migration>;

/**
 * Runs `body` with a worker for the real `migration` workflow (or the given bundle) and these stubs on a task queue of
 * its own.
 * `body` gets a `start(input)` that starts a run (id `migration-<plan name>-<random>`).
 */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  stubs: StubActivities,
  body: (start: (input: MigrationInput) => Promise<StartedMigration>) => Promise<T>,
  bundle?: WorkflowBundleOption,
): Promise<T> {
  const taskQueue = `wf-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle ?? (await workflowBundle()),
    activities: stubs.activities(),
  });
  const start = (input: MigrationInput) =>
    env.client.workflow.start<typeof migration>('migration', {
      taskQueue,
      workflowId: `migration-${input.plan.name}-${randomUUID().slice(0, 8)}`,
      args: [input],
    });
  return await worker.runUntil(body(start));
}

/**
 * Polls the run's status until `until` holds (a real-time poll for something the workflow does on its own, never a
 * timing assertion: the bound only turns a hang into a readable failure).
 */
export async function waitForStatus(
  handle: MigrationHandle,
  until: (s: MigrationStatus) => boolean,
  what: string,
): Promise<MigrationStatus> {
  const giveUp = Date.now() + 30_000;
  let last: MigrationStatus | undefined;
  for (;;) {
    last = await handle.query(statusQuery);
    if (until(last)) return last;
    if (Date.now() > giveUp)
      throw new Error(`the run never got to: ${what}; last status: ${JSON.stringify(last, null, 1)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A run of `input` (the shipped plan) on these stubs, the deploy confirmed and the deletion approved as soon as asked. */
export function runConfirmedAndApproved(
  env: TestWorkflowEnvironment,
  stubs: StubActivities,
  input: MigrationInput = planInput(),
): Promise<MigrationReport> {
  const alice = { by: 'alice' };
  return withWorker(env, stubs, async (start) => {
    const handle = await start(input);
    await waitForStatus(handle, (s) => s.waitingFor?.what === 'portainer-deploy', 'the deploy wait');
    await handle.executeUpdate(confirmPortainerDeployUpdate, { args: [alice] });
    await waitForStatus(handle, (s) => s.waitingFor?.what === 'decommission-approval', 'the approval');
    await handle.executeUpdate(approveDecommissionUpdate, { args: [alice] });
    return (await handle.result()) as MigrationReport;
  });
}

export { waitUntil } from '../../harness/wait';

/**
 * Cancels the run once none of its activities is scheduled or running. The time-skipping test server refuses the
 * workflow task that cancels an activity whose completion it is taking in at that same instant (the SDK's core logs
 * "ACTIVITY_UNKNOWN for scheduledEventId=…" and evicts the run), and the run then hangs with that task started for
 * good. A test that cancels at a wait whose notice (a `notify` activity) may still be on its way needs this.
 */
export async function cancelWhenNoActivityPending(handle: MigrationHandle): Promise<void> {
  await waitUntil(
    async () => ((await handle.describe()).raw.pendingActivities ?? []).length === 0,
    `${handle.workflowId} with no activity pending`,
  );
  await handle.cancel();
}

/** The failure a run ended with (its result must reject). */
export async function failureOf(
  handle: MigrationHandle,
): Promise<Error & { cause?: Error & { type?: string; details?: unknown[] } }> {
  try {
    await handle.result();
  } catch (err) {
    return err as Error & { cause?: Error & { type?: string; details?: unknown[] } };
  }
  throw new Error(`${handle.workflowId} completed, but it was expected to fail`);
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
