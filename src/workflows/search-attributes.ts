import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes the migration sets, so runs can be found and filtered in the Temporal Web UI
 * (`MigrationPhase = "Application Deployment and Cutover"`). Every server we ship registers them; the worker checks at start.
 */
export const MigrationPhaseKey = defineSearchAttributeKey('MigrationPhase', SearchAttributeType.KEYWORD);
export const PlanNameKey = defineSearchAttributeKey('PlanName', SearchAttributeType.KEYWORD);

export const requiredSearchAttributes = [MigrationPhaseKey, PlanNameKey];
