/**
 * One feature, one guest-agent command: the argv that runs src/provisioning/scripts/converge.sh with a feature's
 * script, and what its output says happened. Pure (no I/O beyond reading the shipped scripts): the activity sends the
 * command and turns a verdict into its result or failure.
 */
import { guestLogFile, scriptText, type FeatureStep } from './features';

export const CONVERGE_SCRIPT = 'converge.sh';

/** converge: check, and when it fails cloud-init's wait, apply, verify; check: a dry run; verify: phoenix-cli's. */
export type ConvergePlan = 'converge' | 'check' | 'verify';

/** Each step's bound, in seconds; a cloud-init of 0 is not waited for (it was, earlier in the same activity). */
export interface StepSeconds {
  check: number;
  cloudInit: number;
  apply: number;
  verify: number;
}

export type ConvergeStep = 'lock' | 'check' | 'cloud-init' | 'apply' | 'verify';

export interface ConvergeReport {
  /** The steps that ran, in order, with their exit codes. */
  steps: { step: ConvergeStep; exitcode: number }[];
  /** The feature log's last lines, when a verify ran or a step failed. */
  tail?: string;
}

export type ConvergeVerdict =
  | { kind: 'already' | 'would-apply' | 'changed' }
  /** A step ran and failed: a check that gave no answer (≥ 124), cloud-init other than 0 or 2, an apply, a verify. */
  | { kind: 'failed'; step: ConvergeStep; exitcode: number }
  /** The command ended before `before` ran (`lock`: an earlier run of the feature held it for the whole wait). */
  | { kind: 'unfinished'; before: ConvergeStep };

/** The argv the guest agent runs for one feature: converge.sh with the feature's script text and arguments. */
export function convergeArgv(step: FeatureStep, plan: ConvergePlan, seconds: StepSeconds): string[] {
  const bounds = [seconds.check, seconds.cloudInit, seconds.apply, seconds.verify].map((s) => String(Math.ceil(s)));
  return [
    'bash',
    '-c',
    scriptText(CONVERGE_SCRIPT),
    CONVERGE_SCRIPT,
    plan,
    guestLogFile(step),
    ...bounds,
    step.script,
    scriptText(step.script),
    ...step.args,
  ];
}

/** converge.sh's stdout → what ran. Lines it does not know are skipped (there are none unless the script changes). */
export function parseConvergeReport(stdout: string): ConvergeReport {
  const lines = stdout.split('\n');
  const tailAt = lines.indexOf('phoenix-migrate-tail');
  const steps: ConvergeReport['steps'] = [];
  for (const line of tailAt >= 0 ? lines.slice(0, tailAt) : lines) {
    const m = /^phoenix-migrate-step (lock|check|cloud-init|apply|verify) (\d+)$/.exec(line);
    if (m) steps.push({ step: m[1] as ConvergeStep, exitcode: Number(m[2]) });
  }
  if (tailAt < 0) return { steps };
  return {
    steps,
    tail: lines
      .slice(tailAt + 1)
      .join('\n')
      .trimEnd(),
  };
}

/** Did the command wait for cloud-init, successfully (0, or 2: done with recoverable errors, cloud-init ≥ 23.4)? */
export function cloudInitWaited(report: ConvergeReport): boolean {
  const exitcode = exitOf(report, 'cloud-init');
  return exitcode === 0 || exitcode === 2;
}

/** What happened to the feature, from the steps that ran: the first step that failed decides. */
export function convergeVerdict(plan: ConvergePlan, report: ConvergeReport): ConvergeVerdict {
  if (exitOf(report, 'lock') !== undefined) return { kind: 'unfinished', before: 'lock' };
  if (plan !== 'verify') {
    const check = exitOf(report, 'check');
    if (check === undefined) return { kind: 'unfinished', before: 'check' };
    // 0: in place; 1–123: not in place; 124 and above: no answer (stopped at its bound, not runnable, killed).
    if (check === 0) return { kind: 'already' };
    if (check >= 124) return { kind: 'failed', step: 'check', exitcode: check };
    if (plan === 'check') return { kind: 'would-apply' };
  }
  const cloudInit = exitOf(report, 'cloud-init');
  if (cloudInit !== undefined && !cloudInitWaited(report))
    return { kind: 'failed', step: 'cloud-init', exitcode: cloudInit };
  for (const step of plan === 'verify' ? (['verify'] as const) : (['apply', 'verify'] as const)) {
    const exitcode = exitOf(report, step);
    if (exitcode === undefined) return { kind: 'unfinished', before: step };
    if (exitcode !== 0) return { kind: 'failed', step, exitcode };
  }
  return { kind: 'changed' };
}

function exitOf(report: ConvergeReport, step: ConvergeStep): number | undefined {
  return report.steps.find((r) => r.step === step)?.exitcode;
}
