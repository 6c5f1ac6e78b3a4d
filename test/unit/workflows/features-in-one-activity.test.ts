/**
 * A VM's features go to one activity (stubbed activities, time-skipping server): no workflow turn between two
 * features (FEATURES_IN_ONE_ACTIVITY). What each feature did is recorded, also when a later one fails. Histories from
 * before replay one activity per feature (test/replay).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { featuresFor } from '../../../src/provisioning/plan';
import { statusQuery } from '../../../src/workflows/messages';
import {
  failureOf,
  planInput,
  runConfirmedAndApproved,
  startTimeSkippingServer,
  StubActivities,
  withWorker,
  type ResultOf,
} from './support';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkippingServer();
});
afterAll(async () => {
  await env?.teardown();
});

const plan = planInput().plan;
const featureNames = (vmid: number) => {
  const vm = plan.vms.find((v) => v.vmid === vmid);
  if (!vm) throw new Error(`the shipped plan has no VM ${vmid}`);
  return featuresFor(vm, plan.provisioning).map((s) => s.name);
};

it('each VM gets one provisionFeatures with its features in order; the report keeps each feature and its outcome', async () => {
  const stubs = new StubActivities();
  const report = await runConfirmedAndApproved(env, stubs);
  expect(report.outcome).toBe('completed');
  expect(stubs.callsOf('provisionFeature')).toEqual([]);
  const calls = stubs.callsOf('provisionFeatures');
  expect(calls.map((c) => [c.vm.vmid, c.features.map((f) => f.step.name)]).sort()).toEqual([
    [1001, featureNames(1001)],
    [1002, featureNames(1002)],
  ]);
  // The worker-side proofs travel with their feature, as they did with one activity each.
  const agent = calls.find((c) => c.vm.vmid === 1002)?.features.find((f) => f.step.feature === 'portainer_agent');
  expect(agent?.probe).toEqual({ tcp: plan.portainer.agentUrl });
  const vm1002 = report.provisioned.find((v) => v.vmid === 1002);
  expect(vm1002?.features).toEqual(featureNames(1002).map((name) => ({ name, outcome: 'applied' })));
  const step = report.steps.find((s) => s.name === `VM 1002 ${featureNames(1002).join(', ')}`);
  expect(step).toMatchObject({ status: 'done', phase: 'Infrastructure Provisioning' });
  expect(step?.detail).toBe(
    featureNames(1002)
      .map((n) => `${n} applied`)
      .join('; '),
  );
  expect(report.changes).toEqual(expect.arrayContaining(featureNames(1002).map((n) => `VM 1002: ${n} applied`)));
});

it('a feature that fails: the features done before it are recorded, the step names the failure, nothing later runs', async () => {
  const names = featureNames(1002);
  const failing = names.indexOf('docker');
  expect(failing).toBeGreaterThan(0);
  const stubs = new StubActivities();
  const defaults = new StubActivities().activities();
  stubs.answer('provisionFeatures', async (i) => {
    if (i.vm.vmid !== 1002) return (await defaults.provisionFeatures(i)) as ResultOf<'provisionFeatures'>;
    throw ApplicationFailure.create({
      type: 'FeatureScriptFailed',
      nonRetryable: true,
      message: 'docker.sh apply failed in VM 1002 (Dr-Phoenix) with exit code 100',
      details: [
        {
          vmid: 1002,
          feature: 'docker',
          exitcode: 100,
          featuresDone: names.slice(0, failing).map((name) => ({ vmid: 1002, name, outcome: 'applied' })),
        },
      ],
    });
  });
  await withWorker(env, stubs, async (start) => {
    const handle = await start(planInput());
    const failure = await failureOf(handle);
    expect(failure.cause?.message).toMatch(/docker\.sh apply failed in VM 1002/);
    const status = await handle.query(statusQuery);
    const step = status.steps.find((s) => s.name === `VM 1002 ${names.join(', ')}`);
    expect(step).toMatchObject({ status: 'failed' });
    expect(step?.error).toMatch(/docker\.sh apply failed/);
    expect(status.changes).toEqual(expect.arrayContaining(names.slice(0, failing).map((n) => `VM 1002: ${n} applied`)));
    expect((status.changes ?? []).join('\n')).not.toMatch(/VM 1002: (docker|portainer_agent) applied/);
  });
  expect(stubs.callsOf('provisionFeatures')).toHaveLength(2);
  expect(stubs.callsOf('checkReadiness')).toEqual([]);
});
