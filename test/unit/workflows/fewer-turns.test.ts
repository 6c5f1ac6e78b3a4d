/**
 * Reads and changes that need nothing of each other go out together (stubbed activities, time-skipping server): the
 * VMs are asked for while Phase 2 pushes the compose files (FILES_BESIDE_VMS), and the data gate compares the Qdrant
 * collections while the scan reads the live facts (DATA_GATE_BESIDE_SCAN). Histories from before replay the old order
 * (test/replay).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runConfirmedAndApproved, startTimeSkippingServer, StubActivities, type ResultOf } from './support';

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
  const stubs = new StubActivities();
  const report = await runConfirmedAndApproved(env, stubs);
  expect(report.outcome).toBe('completed');
  const names = stubs.names();
  // The dependency scan: the comparison is asked for before the routes, which wait for the CTs' live addresses.
  const firstCompare = names.indexOf('compareQdrantCollections');
  expect(firstCompare).toBeGreaterThan(-1);
  expect(firstCompare).toBeLessThan(names.indexOf('readGatewayRoutes'));
  // Once in the dependency scan, once in CT 952's scan before its deletion: no other CT's scan compares.
  expect(stubs.callsOf('compareQdrantCollections')).toHaveLength(2);
  expect(report.data?.mode).toBe('snapshot');
});
