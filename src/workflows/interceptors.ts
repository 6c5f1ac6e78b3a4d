/**
 * Workflow interceptors, bundled with the workflow code (src/build/workflow-bundle-inputs.ts names this module).
 *
 * The worker's log lines must say which phase of the run they belong to. We chose a header over an activity input
 * field or its summary: every activity gets it without any activity signature or call site knowing (adding a step
 * stays "one activity plus one call"), it is not part of the activity's input (retries and replays see the same
 * arguments), and the phase is the one the run had when it scheduled the activity — exactly what the log should say,
 * with no RPC from the worker (it used to call DescribeWorkflowExecution at every activity start).
 *
 * The phase is read through the PUBLIC `workflowInfo().typedSearchAttributes` (the run upserts MigrationPhase when
 * its phase moves, and startMigration sets it to "Not started"). Deterministic: search attributes are workflow state.
 */
import {
  defaultPayloadConverter,
  workflowInfo,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { PHASE_HEADER, UNKNOWN_PHASE } from './phase-header';
import { MigrationPhaseKey } from './search-attributes';

function currentPhase(): string {
  return workflowInfo().typedSearchAttributes.get(MigrationPhaseKey) ?? UNKNOWN_PHASE;
}

function withPhase<T extends ActivityInput | LocalActivityInput>(input: T): T {
  return { ...input, headers: { ...input.headers, [PHASE_HEADER]: defaultPayloadConverter.toPayload(currentPhase()) } };
}

class PhaseOutbound implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    return next(withPhase(input));
  }

  scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ) {
    return next(withPhase(input));
  }

  /** The workflow's own log lines (`log.info` in workflow code) carry the phase too. */
  getLogAttributes(input: Record<string, unknown>, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>) {
    return next({ ...input, phase: currentPhase() });
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new PhaseOutbound()] });
