/**
 * The runbook: the seed's five phases as one durable run that waits for a person where the seed says so.
 * Deterministic workflow code only: every read and change of the world happens in an activity. Each phase is a
 * function in ./phases; the run's state and its ways out (aborted, cancelled, failed) live in ./run.
 */
import { patched } from '@temporalio/workflow';
import type { MigrationInput } from '../config/resolved-plan';
import { cutOverAndVerify } from './phases/cutover';
import { declareConfiguration } from './phases/configuration';
import { decommissionLegacy } from './phases/decommissioning';
import { deployApplication } from './phases/deployment';
import { prepareFiles } from './phases/file-preparation';
import { keepPhoenixSourcesInStep } from './phases/phoenix-sources';
import { provisionInfrastructure } from './phases/provisioning';
import type { MigrationReport } from './report';
import { MigrationRun } from './run';

export async function migration(input: MigrationInput): Promise<MigrationReport> {
  const run = new MigrationRun(input);
  try {
    await run.phase('Declarative Configuration', () => declareConfiguration(run));
    if (patched(FILES_BESIDE_VMS))
      await run.phasesBeside(
        ['Orchestrator and File Preparation', () => prepareFiles(run)],
        ['Infrastructure Provisioning', () => provisionInfrastructure(run)],
      );
    else {
      await run.phase('Orchestrator and File Preparation', () => prepareFiles(run));
      await run.phase('Infrastructure Provisioning', () => provisionInfrastructure(run));
    }
    await run.phase('Application Deployment and Cutover', () => deployApplication(run));
    await run.once('cutover and verification', () => cutOverAndVerify(run));
    await run.once("Phoenix's sources", () => keepPhoenixSourcesInStep(run));
    await run.phase('Verification and Decommissioning', () => decommissionLegacy(run));
    return await run.finish(run.dryRun ? 'dry-run' : 'completed');
  } catch (err) {
    return await run.endAfter(err);
  }
}

/**
 * Marks runs that push the compose files (Phase 2) while Phase 3 asks for the VMs: neither needs the other, and the
 * clone is the run's critical path. Older runs pushed first and replay that way.
 */
export const FILES_BESIDE_VMS = 'files-beside-vms';
