/**
 * The CLI command that continues a run waiting for a person — shown by the CLI (`status`, `watch`), the lab and the
 * Web UI checklist. Kept out of the status model: the model says what the run waits for, this says how to answer.
 */
import { endsByItself, type WaitingFor } from './status';

const commands: Record<WaitingFor, string> = {
  readiness: '(fix the listed items; the run re-checks by itself)',
  'portainer-deploy': 'phoenix-migrate confirm-portainer',
  'operator-choice-after-failed-verification': 'phoenix-migrate retry-verification   or   phoenix-migrate abort',
  reindex: 'phoenix-migrate reindex-done',
  'decommission-approval': 'phoenix-migrate approve-decommission',
};

export function continueCommandFor(what: WaitingFor, workflowId: string): string {
  return endsByItself(what) ? commands[what] : `${commands[what]} --id ${workflowId}`;
}
