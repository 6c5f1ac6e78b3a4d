/**
 * Reads and changes that need nothing of each other go out together (stubbed activities, time-skipping server): the
 * VMs are asked for while Phase 2 pushes the compose files (FILES_BESIDE_VMS), the data gate compares the Qdrant
 * collections while the scan reads the live facts (DATA_GATE_BESIDE_SCAN), the dependency scan reads the gateway's
 * routes while it reads the CTs (DEPENDENCY_SCAN_ROUTES_BESIDE_GUESTS), and the gateway's upstream is read while the
 * collections are copied (GATEWAY_READ_BESIDE_COPY). Histories from before replay the old order (test/replay).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import {
  LEGACY_QDRANT,
  runConfirmedAndApproved,
  startTimeSkippingServer,
  StubActivities,
  type ResultOf,
  waitUntil,
} from './support';

/** A stub that waits inside its activity gives up after 5 s, well before the activity's own timeouts would. */
const FAST = { timeoutMs: 5_000, everyMs: 10 };

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkippingServer();
});
afterAll(async () => {
  await env?.teardown();
});

it('the VMs are asked for while the compose files are pushed; each phase keeps its own steps and ends when they do', async () => {
  const stubs = new StubActivities();
  const defaults = new StubActivities().activities();
  // The push answers only once a VM has been asked for: a run that pushed first would wait here until it gave up.
  let vmAsked = () => {};
  const asked = new Promise<void>((r) => (vmAsked = r));
  stubs.answer('ensureVm', async (i) => {
    vmAsked();
    return (await defaults.ensureVm(i)) as ResultOf<'ensureVm'>;
  });
  stubs.answer('provisionComposeFiles', async (i) => {
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000)));
    const inTime = await Promise.race([asked.then(() => true), giveUp]);
    clearTimeout(timer);
    if (!inTime) throw new Error('the push came before any VM was asked for');
    return (await defaults.provisionComposeFiles(i)) as ResultOf<'provisionComposeFiles'>;
  });
  const report = await runConfirmedAndApproved(env, stubs);
  expect(report.outcome).toBe('completed');
  const phaseOf = (step: string) => report.steps.find((s) => s.name === step)?.phase;
  expect(phaseOf('compose files onto the NFS export')).toBe('Orchestrator and File Preparation');
  expect(phaseOf('VM 1002 Dr-Phoenix')).toBe('Infrastructure Provisioning');
  const [files, vms] = ['Orchestrator and File Preparation', 'Infrastructure Provisioning'].map((name) =>
    report.phases.find((p) => p.name === name),
  );
  expect([files?.status, vms?.status]).toEqual(['done', 'done']);
  // Phase 2 ended with its push, not when Phase 3 began or ended.
  expect(Date.parse(files?.endedAt ?? '')).toBeLessThanOrEqual(Date.parse(vms?.endedAt ?? ''));
  expect(Date.parse(vms?.startedAt ?? '')).toBeLessThanOrEqual(Date.parse(files?.endedAt ?? ''));
});

it('the data gate compares the collections while each scan reads the live facts, and only for the CT hosting Qdrant', async () => {
  const stubs = dependencyScanWaitsFor('compareQdrantCollections');
  const report = await runConfirmedAndApproved(env, stubs);
  expect(report.outcome).toBe('completed');
  // Once in the dependency scan, once in CT 952's scan before its deletion: no other CT's scan compares.
  expect(stubs.callsOf('compareQdrantCollections')).toHaveLength(2);
  expect(report.data?.mode).toBe('snapshot');
});

it("the dependency scan reads the routes of the plan's addresses while the node shows the CTs, once when it shows no other", async () => {
  const stubs = dependencyScanWaitsFor('readGatewayRoutes');
  const report = await runConfirmedAndApproved(env, stubs);
  expect(report.outcome).toBe('completed');
  // The dependency scan, then one scan before each deletion: one routes read each; the first of the plan's addresses.
  const scans = stubs.callsOf('inspectLegacyGuests').slice(1);
  const reads = stubs.callsOf('readGatewayRoutes');
  expect(reads).toHaveLength(scans.length);
  expect(reads[0].only?.addresses).toEqual(['10.0.0.150', '10.0.0.151', '10.0.0.152']);
});

it('a CT the node shows with an address the plan does not name gets its routes read with that address too', async () => {
  const stubs = new StubActivities();
  const defaults = new StubActivities().activities();
  stubs.answer('inspectLegacyGuests', async (i) =>
    ((await defaults.inspectLegacyGuests(i)) as ResultOf<'inspectLegacyGuests'>).map((g) =>
      g.ctid === 951 ? { ...g, addresses: [...g.addresses, '10.0.0.199'] } : g,
    ),
  );
  const report = await runConfirmedAndApproved(env, stubs);
  expect(report.outcome).toBe('completed');
  const reads = stubs.callsOf('readGatewayRoutes').map((r) => r.only?.addresses ?? []);
  // The dependency scan reads again, with .199 (its first read had the plan's addresses only); the scan before CT
  // 951's deletion reads once, after the CT, with .199.
  expect(reads[0]).not.toContain('10.0.0.199');
  expect(reads[1]).toEqual(expect.arrayContaining(['10.0.0.151', '10.0.0.199']));
  expect(reads.filter((a) => a.includes('10.0.0.199'))).toHaveLength(2);
  expect(reads).toHaveLength(stubs.callsOf('inspectLegacyGuests').length - 1 + 1);
});

it('the gateway is read while the collections are copied, and the cutover goes out without a read of its own', async () => {
  const stubs = new StubActivities();
  const defaults = new StubActivities().activities();
  // The copy answers only once the gateway was read: a run that read it at the cutover would wait here and give up.
  stubs.answer('copyQdrantCollections', async (i) => {
    await waitUntil(() => stubs.callsOf('readGateway').length > 0, 'the gateway read beside the copy', FAST);
    return (await defaults.copyQdrantCollections(i)) as ResultOf<'copyQdrantCollections'>;
  });
  const report = await runConfirmedAndApproved(env, stubs);
  expect(report.outcome).toBe('completed');
  const names = stubs.names();
  expect(stubs.callsOf('readGateway')).toHaveLength(1);
  expect(names.indexOf('readGateway')).toBeLessThan(names.indexOf('cutoverGateway'));
  expect(report.gateway?.previousServers).toEqual([LEGACY_QDRANT]);
  expect(report.steps.find((s) => s.name === 'gateway cutover')?.status).toBe('done');
});

it('a gateway read that failed beside the copy is made again by the cutover, in its own step', async () => {
  const stubs = new StubActivities();
  const defaults = new StubActivities().activities();
  stubs.answer('readGateway', async (i, callsBefore) => {
    if (callsBefore === 0) throw ApplicationFailure.nonRetryable('ssh: connection reset');
    return (await defaults.readGateway(i)) as ResultOf<'readGateway'>;
  });
  const report = await runConfirmedAndApproved(env, stubs);
  expect(report.outcome).toBe('completed');
  expect(stubs.callsOf('readGateway')).toHaveLength(2);
  expect(report.gateway?.previousServers).toEqual([LEGACY_QDRANT]);
});

/**
 * Stubs whose dependency scan's CT read (the second; Phase 1's is the first) answers only once `beside` was asked for:
 * a run that asked for it after the CTs' read would wait there until the read gave up.
 */
function dependencyScanWaitsFor(beside: 'compareQdrantCollections' | 'readGatewayRoutes'): StubActivities {
  const stubs = new StubActivities();
  const defaults = new StubActivities().activities();
  stubs.answer('inspectLegacyGuests', async (i, callsBefore) => {
    if (callsBefore === 1)
      await waitUntil(() => stubs.callsOf(beside).length > 0, `${beside} asked beside the CTs' read`, FAST);
    return (await defaults.inspectLegacyGuests(i)) as ResultOf<'inspectLegacyGuests'>;
  });
  return stubs;
}
