/**
 * converge.sh's report, read by the worker: which step ran with which exit code decides the feature's outcome or the
 * step its failure names. (converge.sh itself runs in the lab's guest sandbox: test/integration/provisioning.)
 */
import {
  cloudInitWaited,
  convergeVerdict,
  parseConvergeReport,
  type ConvergePlan,
} from '../../../src/provisioning/converge';

const report = (steps: string, tail?: string) =>
  parseConvergeReport(
    [
      ...steps
        .split(',')
        .filter(Boolean)
        .map((s) => `phoenix-migrate-step ${s.replace('=', ' ')}`),
      ...(tail === undefined ? [] : ['phoenix-migrate-tail', tail]),
      '',
    ].join('\n'),
  );
const verdict = (plan: ConvergePlan, steps: string) => convergeVerdict(plan, report(steps));

describe('converge.sh report', () => {
  it('reads the steps in order and the tail after its marker, ignoring lines it does not know', () => {
    const r = parseConvergeReport(
      'phoenix-migrate-step check 1\nnoise\nphoenix-migrate-step cloud-init 2\nphoenix-migrate-step apply 0\n' +
        'phoenix-migrate-step verify 0\nphoenix-migrate-tail\nline 1\nphoenix-migrate-step check 0\n\n',
    );
    expect(r).toEqual({
      steps: [
        { step: 'check', exitcode: 1 },
        { step: 'cloud-init', exitcode: 2 },
        { step: 'apply', exitcode: 0 },
        { step: 'verify', exitcode: 0 },
      ],
      // The log's own lines are the tail's, even one that looks like a step.
      tail: 'line 1\nphoenix-migrate-step check 0',
    });
    expect(cloudInitWaited(r)).toBe(true);
    expect(parseConvergeReport('')).toEqual({ steps: [] });
  });

  it.each([
    ['converge', 'check=0', { kind: 'already' }],
    ['converge', 'check=1,cloud-init=0,apply=0,verify=0', { kind: 'changed' }],
    ['converge', 'check=1,apply=0,verify=0', { kind: 'changed' }],
    ['check', 'check=0', { kind: 'already' }],
    ['check', 'check=1', { kind: 'would-apply' }],
    ['verify', 'cloud-init=0,verify=0', { kind: 'changed' }],
    ['verify', 'verify=0', { kind: 'changed' }],
  ] as const)('%s with %s → %j', (plan, steps, expected) => {
    expect(verdict(plan, steps)).toEqual(expected);
  });

  it.each([
    ['converge', 'check=124', { kind: 'failed', step: 'check', exitcode: 124 }],
    ['converge', 'check=127', { kind: 'failed', step: 'check', exitcode: 127 }],
    ['converge', 'check=1,cloud-init=1', { kind: 'failed', step: 'cloud-init', exitcode: 1 }],
    ['converge', 'check=1,cloud-init=124', { kind: 'failed', step: 'cloud-init', exitcode: 124 }],
    ['converge', 'check=1,cloud-init=0,apply=100', { kind: 'failed', step: 'apply', exitcode: 100 }],
    ['converge', 'check=1,apply=0,verify=1', { kind: 'failed', step: 'verify', exitcode: 1 }],
    ['verify', 'cloud-init=0,verify=3', { kind: 'failed', step: 'verify', exitcode: 3 }],
    ['converge', 'lock=1', { kind: 'unfinished', before: 'lock' }],
    ['converge', '', { kind: 'unfinished', before: 'check' }],
    ['converge', 'check=1,cloud-init=0', { kind: 'unfinished', before: 'apply' }],
    ['converge', 'check=1,apply=0', { kind: 'unfinished', before: 'verify' }],
    ['verify', '', { kind: 'unfinished', before: 'verify' }],
  ] as const)(
    '%s with %s → %j: the first step that failed, or the one that never ran, is named',
    (plan, steps, expected) => {
      expect(verdict(plan, steps)).toEqual(expected);
    },
  );

  it('cloud-init counts as waited for only when it ended 0 or 2', () => {
    expect(cloudInitWaited(report('check=1,cloud-init=2'))).toBe(true);
    expect(cloudInitWaited(report('check=1,cloud-init=1'))).toBe(false);
    expect(cloudInitWaited(report('check=1,apply=0'))).toBe(false);
  });
});
