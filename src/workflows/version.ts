/**
 * The version of the workflow's command sequence — what a run's event history must match to replay.
 *
 * Bump it at every deliberate INCOMPATIBLE change of the workflow (one that is not guarded by `patched()`), then
 * re-record the replay fixtures (`node scripts/record-histories.js`): they live in test/fixtures/histories/v<N>/ and
 * CI replays them against the built bundle. docs/operations.md says how such a change ships while runs wait.
 * Compatible changes (behind `patched('id')`) keep the number: the fixtures recorded before them must still replay.
 *
 * 1: the runbook as of issue 14 (phases as functions, one run state, bounded waits with continue-as-new).
 */
export const WORKFLOW_BUNDLE_VERSION = 1;
