/**
 * The resolved migration plan: the one object the workflow receives as input.
 *
 * It is made by the resolver (plan file + Phoenix's own config files → this), is secret-free (secrets are named
 * by reference: an env var name or a file path on the worker), and holds everything the run needs so that the
 * worker never re-reads plan files later. Types only: workflow code imports it with `import type`.
 *
 * Addresses are the real world's (10.0.0.N) in the shipped plan; the lab and tests write their own configs with
 * loopback addresses instead, so nothing here knows about the mapping.
 */
import type { RunState } from '../workflows/run-state';

/** A secret is never inline: it lives in the worker's environment or in a file on the worker. */
export type SecretRef = { env: string } | { file: string };

/** How we trust a TLS server: a CA bundle file, a pinned leaf fingerprint, or (explicitly, loudly) not at all. */
export type TlsTrust =
  | { mode: 'ca'; caFile: string }
  /** SHA-256 of the leaf certificate, colon-separated upper-case hex as `pvenode cert info` prints it. */
  | { mode: 'fingerprint'; sha256: string }
  | { mode: 'insecure' };

export interface SshHostKeyTrust {
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
  fingerprint?: string;
  /** A known_hosts file on the worker. */
  knownHostsFile?: string;
}

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  hostKey: SshHostKeyTrust;
  /** Name of the worker env var holding the private key's *path*. */
  privateKeyPathEnv: string;
  /** Name of the worker env var holding the key's passphrase, if it has one. */
  passphraseEnv?: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export interface ProxmoxSettings {
  /** The node name (the hypervisor's hostname); discoverable with `GET /nodes`. */
  node: string;
  /** e.g. `https://10.0.0.13:8006` (the client appends `/api2/json`). */
  apiUrl: string;
  tls: TlsTrust;
  /** `USER@REALM!TOKENID`, e.g. `root@pam!phoenix`. Not a secret. */
  tokenId: string;
  tokenSecret: SecretRef;
  /** Tag that marks guests created by phoenix-migrate (so "exists" can be told apart from "exists and is ours"). */
  ownerTag: string;
  requestTimeoutMs: number;
}

export interface VmVolume {
  type: 'nfs';
  name?: string;
  /** Export path on the Proxmox host, e.g. `/quickOS/vm-persistent-data/1001`. */
  path: string;
  /** Where the VM mounts it, e.g. `/persistent-storage`. */
  mountPoint: string;
  server?: string;
}

export interface VmSpec {
  vmid: number;
  name: string;
  node: string;
  /** Template vmid to full-clone. */
  cloneFrom: number;
  /** Target storage for the full clone. */
  storage: string;
  cores: number;
  memoryMb: number;
  diskSizeGb: number;
  onboot: boolean;
  startup: { order: number; up?: number };
  /** Address without prefix, e.g. `10.0.0.102` (identity is the vmid; this is for probes and display). */
  ip: string;
  /** Proxmox `ipconfig0` value, e.g. `ip=10.0.0.102/24,gw=10.0.0.1`. */
  ipconfig0: string;
  nameserver?: string;
  ciuser?: string;
  /** Public keys (not secret) for cloud-init, as OpenSSH lines joined by `\n`. */
  sshPublicKeys?: string;
  /** Tags to set; always includes the owner tag. */
  tags: string[];
  features: string[];
  portainerRole?: 'primary' | 'agent';
  volumes: VmVolume[];
  /** The plan says `existing: "adopt"`: a VM that exists and is not ours is converged in place (never recloned). */
  adopt?: boolean;
}

/** How Phase 3 makes the VMs usable after the clone (docs/provisioning.md). */
export interface ProvisioningSettings {
  /** native: our scripts through the guest agent; phoenix-cli: `phoenix create` on the host; none: readiness only. */
  provisioner: 'native' | 'phoenix-cli' | 'none';
  /** argv run on the Proxmox host by the phoenix-cli provisioner; the vmid is appended. */
  phoenixCommand: string[];
  /** Phoenix's VM config on the Proxmox host, compared with the plan before `phoenix create` runs. */
  phoenixVmConfig: string;
  images: { portainerServer: string; portainerAgent: string };
  portainerAdmin?: { username: string; password: SecretRef };
}

export interface ComposeFile {
  /** The VM whose persistent storage receives the file. */
  vmid: number;
  /** As written in the VM config (for messages). */
  source: string;
  /** Relative destination under the VM's persistent storage, e.g. `qdrant/docker-compose.yml`. */
  destination: string;
  /** Absolute path on the Proxmox host (inside the NFS export), where provisioning writes it. */
  hostPath: string;
  /** Where the VM sees it once it mounts the export. */
  guestPath: string;
  /** The file's content, read at resolve time so the worker never re-reads plan files. */
  content: string;
  sha256: string;
}

export type GatewayAccess =
  /** `pct exec <ctid> -- argv` on the Proxmox host (how the Phoenix tooling reaches LXC 101). */
  | { via: 'pct' }
  /** Direct SSH into the container. */
  | { via: 'ssh'; ssh: SshEndpoint };

export interface GatewaySettings {
  ctid: number;
  name: string;
  ip: string;
  access: GatewayAccess;
  /** The site file as nginx includes it (often a symlink in sites-enabled). */
  siteFile: string;
  upstream: string;
  /** `HOST:PORT` entries the upstream should point at after the cutover. */
  newServers: string[];
  /** argv prefix for nginx (`["nginx"]`, or with `-p`/`-c` for an unprivileged test instance). */
  nginxCommand: string[];
  /** Directory for backups of the site file; must not be included by nginx. */
  backupDir: string;
  /** Lock file used with flock so two cutovers never interleave. */
  lockFile: string;
  /** nginx's master pid file: a reload took when the master's worker processes were replaced. */
  pidFile: string;
  /** nginx's error log: `[emerg]`/`[alert]` lines written after the reload are reported with the step. */
  errorLog: string;
}

export interface QdrantSettings {
  /** Through the gateway, e.g. `http://10.0.0.153/qdrant`. */
  gatewayUrl: string;
  /** Direct on the new VM, e.g. `http://10.0.0.102:6333`. */
  newUrl: string;
  /** The legacy instance, e.g. `http://10.0.0.152:6333`. */
  legacyUrl: string;
  apiKey?: SecretRef;
  expectedCollections: { name: string; minCount?: number }[];
  data: { mode: 'none' | 'reindex' | 'snapshot' };
}

/** What a legacy CT's volume mount point becomes: part of the backup, or destroyed with the CT. */
export type VolumeDecision = 'backup' | 'discard';

export interface LegacyGuest {
  ctid: number;
  /**
   * The name it must have on the node before it is deleted. Absent in a plan that does not know it (Phoenix's LXC
   * config no longer lists the CT): preflight pins the name the node shows (MigrationRun.legacyGuests), and a CT absent
   * then stays nameless, so any guest that later takes its id is refused.
   */
  name?: string;
  node: string;
  /**
   * Address without prefix from the plan or Phoenix's LXC config, or undefined when neither knows it. Not the whole
   * truth: the dependency scan adds every address of the CT's live config.
   */
  ip?: string;
  /** The plan's decision for each volume mount point (`mp0` …) a backup would skip; absent = none decided. */
  volumes?: Record<string, VolumeDecision>;
  /**
   * One decision for every volume mount point the node shows at preflight (plan `"volumes": "backup"`); preflight
   * turns it into `volumes` per mount point, so a mount point added later is undecided and refused.
   */
  allVolumes?: VolumeDecision;
}

export interface PortainerSettings {
  mode: 'manual' | 'api';
  /** e.g. `https://10.0.0.101:9443`. */
  url: string;
  tls: TlsTrust;
  environmentName: string;
  /** e.g. `tcp://10.0.0.102:9001`. */
  agentUrl: string;
  stackName: string;
  /** Index into `composeFiles` of the file the stack deploys. */
  composeFileIndex: number;
  credentials?: { apiKey?: SecretRef; username?: SecretRef; password?: SecretRef };
  allowStackUpdate: boolean;
}

export interface BackupSettings {
  enabled: boolean;
  storage: string;
  mode: 'snapshot' | 'suspend' | 'stop';
  compress: '0' | '1' | 'gzip' | 'lzo' | 'zstd';
}

export interface Timings {
  /** How often the run reminds that it waits for a person. */
  remindEveryMs: number;
  /** How long the run waits for the manual Portainer deploy before failing. */
  deployTimeoutMs: number;
  /** How often readiness before the manual step is re-checked. */
  readinessRecheckMs: number;
  /** How long the run waits for readiness before it ends with nothing changed downstream. */
  readinessTimeoutMs: number;
  /** Budget for verification through the gateway after the cutover. */
  verifyBudgetMs: number;
  /** Optional soak after verification (0 = none), probing every `soakProbeEveryMs`. */
  soakMs: number;
  soakProbeEveryMs: number;
  /** Shutdown timeout given to Proxmox for each legacy CT. */
  shutdownTimeoutMs: number;
}

export interface ResolvedPlan {
  /** Bumped when this shape changes incompatibly. */
  schemaVersion: 1;
  /** `[a-z0-9-]+`; the workflow id is `migration-<name>`. */
  name: string;
  description?: string;
  proxmox: ProxmoxSettings;
  /** SSH to the Proxmox host: compose files go to its NFS export, `pct` runs there. */
  proxmoxHost: SshEndpoint;
  templateVmid: number;
  /** VMs to create, in the config's boot order. */
  vms: VmSpec[];
  provisioning: ProvisioningSettings;
  composeFiles: ComposeFile[];
  gateway: GatewaySettings;
  qdrant: QdrantSettings;
  legacyGuests: LegacyGuest[];
  /** Every guest's declared dependencies from the Phoenix configs (ctid → ctids it depends on). */
  guestDependencies: Record<string, number[]>;
  portainer: PortainerSettings;
  backups: BackupSettings;
  approvals: { decommission: boolean };
  timings: Timings;
  notify?: { webhookUrlEnv: string };
  /** With `phoenix.dir`: Phoenix's own copies of the gateway site, and which still route the upstream elsewhere. */
  phoenixSources?: PhoenixSources;
}

export interface PhoenixSources {
  /** The checkout on the machine that resolved the plan. */
  dir: string;
  /** Sources (relative to `dir`) whose upstream does not route to `gateway.newServers`: a converge would revert it. */
  stale: { file: string; kind: 'committed site' | 'heredoc'; line: number; servers: string[] }[];
  /** Sources already routing to the new servers. */
  current: string[];
  /** Why a source cannot be rewritten (e.g. the upstream defined twice), named. */
  problems: string[];
  /** Plan `sources.write`: the run brings them in step itself once the cutover is verified (on the worker's disk). */
  write?: boolean;
}

/** What the CLI sends to start a run. */
export interface MigrationInput {
  plan: ResolvedPlan;
  /** sha256 (hex) of the canonical JSON of `plan`. */
  digest: string;
  /** Run every read and check, make zero changes, skip human waits and report what would change. */
  dryRun?: boolean;
  /**
   * Continue-as-new once the history has this many events, at the next wait (tests use small numbers; unset, the run
   * continues when the server suggests it).
   */
  continueAsNewAfterEvents?: number;
  /** Set by the run itself when it continues as new: where it was. Never set by a caller. */
  resume?: RunState;
}
