/**
 * The run's failure vocabulary: every ApplicationFailure `type` that crosses the activity ↔ workflow boundary, as
 * constants. Activities raise them (client errors are mapped in src/activities/failures.ts, the only place that maps
 * errors to types); the workflow, the CLI and the tests compare against them — never against string literals.
 *
 * The string values are stable: committed histories, docs/troubleshooting.md and people's alerting name them.
 * A neutral module with no imports, so workflow code may import its values (it is deterministic data).
 */
export const FailureType = {
  // ---- raised by the workflow itself ----
  PreflightFailed: 'PreflightFailed',
  DeployTimeout: 'DeployTimeout',
  ReadinessTimeout: 'ReadinessTimeout',
  ReindexMismatch: 'ReindexMismatch',
  MigrationFailed: 'MigrationFailed',
  ConfirmationRejected: 'ConfirmationRejected',

  // ---- shared by every activity ----
  /** A secret the plan names (env var, file, webhook URL) is missing or empty on the worker, whatever the secret. */
  SecretUnavailable: 'SecretUnavailable',
  /** The TLS certificate is not the one the plan pins. */
  TlsPinMismatch: 'TlsPinMismatch',
  /** The plan's TLS CA file cannot be read on the worker. */
  TlsCaUnreadable: 'TlsCaUnreadable',

  // ---- Proxmox API (by ProxmoxError kind) ----
  ProxmoxNotFound: 'ProxmoxNotFound',
  ProxmoxAlreadyExists: 'ProxmoxAlreadyExists',
  ProxmoxLocked: 'ProxmoxLocked',
  ProxmoxTransient: 'ProxmoxTransient',
  ProxmoxAuth: 'ProxmoxAuth',
  ProxmoxPermission: 'ProxmoxPermission',
  ProxmoxInvalid: 'ProxmoxInvalid',
  ProxmoxTls: 'ProxmoxTls',
  /** A ProxmoxError of a kind this table does not know yet. */
  ProxmoxError: 'ProxmoxError',

  // ---- SSH to the Proxmox host / gateway (by RemoteError kind) ----
  RemoteHostKey: 'Remote:host-key',
  RemoteAuth: 'Remote:auth',
  RemoteConnect: 'Remote:connect',
  RemoteTimeout: 'Remote:timeout',
  RemoteCommand: 'Remote:command',
  RemoteTransient: 'Remote:transient',

  // ---- Qdrant (by QdrantError kind), and the snapshot copy ----
  QdrantUnreachable: 'QdrantUnreachable',
  QdrantNotReady: 'QdrantNotReady',
  QdrantNotFound: 'QdrantNotFound',
  QdrantAuth: 'QdrantAuth',
  QdrantHttp: 'QdrantHttp',
  QdrantCountMismatch: 'QdrantCountMismatch',

  // ---- Portainer (by PortainerError kind), and the api-mode deploy ----
  PortainerUnreachable: 'PortainerUnreachable',
  PortainerTls: 'PortainerTls',
  PortainerAuth: 'PortainerAuth',
  PortainerNotFound: 'PortainerNotFound',
  PortainerConflict: 'PortainerConflict',
  PortainerInvalid: 'PortainerInvalid',
  PortainerAgentUnreachable: 'PortainerAgentUnreachable',
  PortainerHttp: 'PortainerHttp',
  PortainerCredentialsMissing: 'PortainerCredentialsMissing',
  PortainerEnvironmentConflict: 'PortainerEnvironmentConflict',
  PortainerStackDiffers: 'PortainerStackDiffers',
  PortainerStackConflict: 'PortainerStackConflict',
  PortainerContainerNotRunning: 'PortainerContainerNotRunning',

  // ---- compose files on the NFS export ----
  ComposeFileDigestMismatch: 'ComposeFileDigestMismatch',
  ComposeFileBadPath: 'ComposeFileBadPath',
  ComposeFileWriteFailed: 'ComposeFileWriteFailed',

  // ---- VMs ----
  /** A provisioning script (or `phoenix create`) failed in a VM or on the host: names the script, exit code, output. */
  FeatureScriptFailed: 'FeatureScriptFailed',
  /** A feature applied, but its verify step (or the worker-side probe) did not prove the result. */
  FeatureVerifyFailed: 'FeatureVerifyFailed',
  VmStillLocked: 'VmStillLocked',
  VmidTakenByForeignGuest: 'VmidTakenByForeignGuest',
  VmOnUnexpectedNode: 'VmOnUnexpectedNode',
  VmHasNoBootDisk: 'VmHasNoBootDisk',
  DiskShrinkRefused: 'DiskShrinkRefused',

  // ---- decommissioning legacy CTs ----
  ProtectedGuest: 'ProtectedGuest',
  NotALegacyGuest: 'NotALegacyGuest',
  NotAContainer: 'NotAContainer',
  GuestNotOnNode: 'GuestNotOnNode',
  GuestNotVisible: 'GuestNotVisible',
  GuestOnUnexpectedNode: 'GuestOnUnexpectedNode',
  GuestNameMismatch: 'GuestNameMismatch',
  GuestProtected: 'GuestProtected',
  /** A volume mount point of a legacy CT that the plan does not decide (backup or discard). */
  VolumeUndecided: 'VolumeUndecided',
  /** The vzdump log does not name a volume the plan keeps: the CT is not deleted. */
  BackupMissesVolume: 'BackupMissesVolume',
  /** The archive is not in the storage listing (or has size 0): the CT is not deleted. */
  BackupNotVerified: 'BackupNotVerified',

  // ---- the gateway (nginx in CT 101) ----
  GatewaySettingsInvalid: 'GatewaySettingsInvalid',
  GatewaySiteFileMissing: 'GatewaySiteFileMissing',
  GatewayReadFailed: 'GatewayReadFailed',
  GatewayConfigUnreadable: 'GatewayConfigUnreadable',
  GatewayUpstreamNotRewritable: 'GatewayUpstreamNotRewritable',
  GatewayPreflightFailed: 'GatewayPreflightFailed',
  GatewayLockBusy: 'GatewayLockBusy',
  GatewayConfigRejected: 'GatewayConfigRejected',
  GatewayReloadFailed: 'GatewayReloadFailed',
  GatewayAttemptSuperseded: 'GatewayAttemptSuperseded',
  GatewayRestoreFailed: 'GatewayRestoreFailed',
  GatewayWriteFailed: 'GatewayWriteFailed',
  GatewayChangedConcurrently: 'GatewayChangedConcurrently',
  GatewayVerifyFailed: 'GatewayVerifyFailed',

  // ---- notifications ----
  NotifyWebhookRejected: 'WebhookRejected',
} as const;

export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];
