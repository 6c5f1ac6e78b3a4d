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
} as const;

export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];
