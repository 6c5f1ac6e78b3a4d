/**
 * The run's failure vocabulary: every ApplicationFailure `type` that crosses the activity ↔ workflow boundary, as
 * constants. Activities raise them (through src/activities/failures.ts, the only place that maps errors to types);
 * the workflow and the CLI compare against them — never against string literals.
 *
 * A neutral module with no imports, so workflow code may import its values (it is deterministic data).
 */
export const FailureType = {
  // Raised by the workflow itself.
  PreflightFailed: 'PreflightFailed',
  DeployTimeout: 'DeployTimeout',
  ReadinessTimeout: 'ReadinessTimeout',
  ReindexMismatch: 'ReindexMismatch',
  MigrationFailed: 'MigrationFailed',
  ConfirmationRejected: 'ConfirmationRejected',
  // Raised by activities.
  GatewayVerifyFailed: 'GatewayVerifyFailed',
  SecretUnavailable: 'SecretUnavailable',
  /** A provisioning script (or `phoenix create`) failed in a VM or on the host: names the script, exit code, output. */
  FeatureScriptFailed: 'FeatureScriptFailed',
  /** A feature applied, but its verify step (or the worker-side probe) did not prove the result. */
  FeatureVerifyFailed: 'FeatureVerifyFailed',
} as const;

export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];
