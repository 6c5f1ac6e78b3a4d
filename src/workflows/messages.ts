/**
 * Every message the migration workflow understands, defined once and shared by the workflow and the CLI, so a
 * misspelt signal can never be "accepted silently".
 *
 * Updates are for callers that need an answer (the CLI: accepted, or rejected with the reason); the signals with the
 * same meaning are for `temporal workflow signal` and Web UI users (the result shows in the run's details).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MigrationStatus, WaitingFor } from './status';

export type { WaitingFor };

export interface OperatorAction {
  /** Who acts (a name or login), recorded in the history and the report. */
  by: string;
  note?: string;
}

/** Phase 4: the person has deployed the Qdrant stack in Portainer. Answers "accepted" or rejects with the reason. */
export const confirmPortainerDeployUpdate = defineUpdate<string, [OperatorAction]>('confirmPortainerDeploy');
export const portainerDeployedSignal = defineSignal<[OperatorAction]>('portainerDeployed');

/** The approval may keep some of the listed CTs (`approve-decommission --keep 951`): they are not deleted. */
export interface ApproveDecommissionAction extends OperatorAction {
  keep?: number[];
}

/** Phase 5: the person approves deleting the listed legacy containers (except those it keeps). */
export const approveDecommissionUpdate = defineUpdate<string, [ApproveDecommissionAction]>('approveDecommission');
export const decommissionApprovedSignal = defineSignal<[ApproveDecommissionAction]>('decommissionApproved');

/** After a failed verification (gateway already rolled back): redo the cutover and the verification … */
export const retryVerificationUpdate = defineUpdate<string, [OperatorAction]>('retryVerification');
/** … or stop here, keeping what was created and deleting nothing. Works whenever the run waits for a person. */
export const abortUpdate = defineUpdate<string, [OperatorAction]>('abort');
export const abortSignal = defineSignal<[OperatorAction]>('abortMigration');

/** `reindex` data mode: the producers have re-indexed into the new Qdrant. */
export const reindexDoneUpdate = defineUpdate<string, [OperatorAction]>('reindexDone');

export const statusQuery = defineQuery<MigrationStatus>('status');
