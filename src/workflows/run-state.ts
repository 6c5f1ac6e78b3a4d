/**
 * Everything a run knows, as one serializable object: what it carries across a continue-as-new. Each part has one
 * owner while the run lives — the status board owns `status`, the person channel `person`, the gateway cutover
 * `gateway`, the run itself `report`, `done`, `marks` and `legacy` — and `MigrationRun.snapshot()` collects them.
 */
import type { LegacyGuest } from '../config/resolved-plan';
import type { GatewayState } from './gateway-cutover';
import type { PersonState } from './operator';
import type { RunReport } from './report';
import type { MigrationStatus } from './status';

export interface RunState {
  status: MigrationStatus;
  report: RunReport;
  person: PersonState;
  gateway: GatewayState;
  /** Phases and steps that have finished: a continued run skips them. */
  done: string[];
  /** Numbers that waits keep across runs: deadlines (workflow time, ms since the epoch) and counts. */
  marks: Record<string, number>;
  /** How many runs this migration has had (1 for the first). */
  runNumber: number;
  /** The legacy guests as preflight pinned them (names and volume decisions from the node); absent before that. */
  legacy?: LegacyGuest[];
}
