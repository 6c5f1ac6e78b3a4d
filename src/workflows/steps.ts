/** Runs one step of the runbook so the status (and so the Web UI checklist) stays in line with what happens. */
import { ContinueAsNew, isCancellation } from '@temporalio/workflow';
import type { StatusBoard } from './status';
import { messageOf } from './text';

export type StepRunner = <T>(name: string, run: () => Promise<T>, describe?: (result: T) => string) => Promise<T>;

export function stepRunner(board: StatusBoard): StepRunner {
  return async (name, run, describe) => {
    board.startStep(name);
    try {
      const result = await run();
      board.endStep(name, 'done', describe?.(result));
      return result;
    } catch (err) {
      // A run that continues as new is not a failed step: the next run carries on with it.
      if (!isCancellation(err) && !(err instanceof ContinueAsNew))
        board.endStep(name, 'failed', undefined, messageOf(err));
      throw err;
    }
  };
}
