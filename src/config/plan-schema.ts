/**
 * The migration plan file (our own format, documented in docs/plan.md). Strict: an unknown key is a typo until
 * proven otherwise. Defaults live here, so the documentation and the code agree in one place.
 */
import { z } from 'zod';
import { parseDuration } from './durations';
import { isDnsName, parseIPv4 } from './net';

const custom = (ctx: z.RefinementCtx, message: string, hint: string, path: PropertyKey[] = []) =>
  ctx.addIssue({ code: 'custom', message, path, params: { hint } });

export const envVarName = z.string().refine((s) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s), {
  message: 'not an environment variable name',
  params: { hint: 'use letters, digits and "_", e.g. "PHOENIX_PVE_TOKEN_SECRET"' },
});

const absolutePath = z.string().refine((p) => p.startsWith('/') && !p.includes('\0'), {
  message: 'must be an absolute path on the worker',
  params: { hint: 'write it like "/etc/phoenix-migrate/…"' },
});

/** `{"env": NAME}` or `{"file": "/abs/path"}`. */
export const secretRefSchema = z
  .strictObject({ env: envVarName.optional(), file: absolutePath.optional() })
  .superRefine((v, ctx) => {
    if ((v.env === undefined) === (v.file === undefined)) {
      custom(
        ctx,
        'a secret reference needs exactly one of "env" or "file"',
        'write {"env": "VAR_NAME"} or {"file": "/abs/path"}',
      );
    }
  })
  .transform((v) => (v.env !== undefined ? { env: v.env } : { file: v.file as string }));

const hostName = z.string().refine((h) => parseIPv4(h) !== undefined || (isDnsName(h) && !/^[0-9.]+$/.test(h)), {
  message: 'not an IPv4 address or DNS name',
  params: { hint: 'write it like "10.0.0.13" or "pve.lan"' },
});

const httpUrl = z.string().refine(
  (u) => {
    try {
      const url = new URL(u);
      return (
        (url.protocol === 'http:' || url.protocol === 'https:') &&
        url.username === '' &&
        url.password === '' &&
        url.search === '' &&
        url.hash === ''
      );
    } catch {
      return false;
    }
  },
  {
    message: 'not an http(s) URL without credentials, query or fragment',
    params: { hint: 'write it like "http://10.0.0.102:6333"' },
  },
);

/** `{"caFile"}` | `{"fingerprint"}` | `{"insecure": true}` → the resolved TlsTrust. */
export const tlsSchema = z
  .strictObject({
    caFile: absolutePath.optional(),
    fingerprint: z.string().optional(),
    insecure: z.literal(true).optional(),
  })
  .superRefine((v, ctx) => {
    const chosen = [v.caFile, v.fingerprint, v.insecure].filter((x) => x !== undefined).length;
    if (chosen !== 1) {
      custom(
        ctx,
        'choose exactly one way to trust the server',
        'write {"caFile": "/abs/ca.pem"}, {"fingerprint": "AB:CD:…"} or, knowingly, {"insecure": true}',
      );
    }
    if (v.fingerprint !== undefined && normaliseCertFingerprint(v.fingerprint) === undefined) {
      custom(
        ctx,
        'not a SHA-256 certificate fingerprint',
        'copy it from `pvenode cert info` (32 hex bytes separated by ":")',
        ['fingerprint'],
      );
    }
  })
  .transform((v) =>
    v.caFile !== undefined
      ? { mode: 'ca' as const, caFile: v.caFile }
      : v.fingerprint !== undefined
        ? { mode: 'fingerprint' as const, sha256: normaliseCertFingerprint(v.fingerprint) as string }
        : { mode: 'insecure' as const },
  );

/** Colon-separated upper-case hex, as `pvenode cert info` prints it. */
export function normaliseCertFingerprint(text: string): string | undefined {
  const hex = text.replace(/:/g, '');
  if (!/^[0-9A-Fa-f]{64}$/.test(hex)) return undefined;
  return hex.toUpperCase().match(/../g)!.join(':');
}

export const sshEndpointSchema = z.strictObject({
  host: hostName,
  port: z.number().int().min(1).max(65535).default(22),
  user: z
    .string()
    .refine((s) => /^[a-z_][a-z0-9_-]*$/i.test(s), { message: 'not a user name', params: { hint: 'e.g. "root"' } })
    .default('root'),
  hostKey: z
    .strictObject({
      fingerprint: z
        .string()
        .refine((s) => /^SHA256:[A-Za-z0-9+/]{43}$/.test(s), {
          message: 'not an OpenSSH SHA256 fingerprint',
          params: { hint: 'copy it from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` (SHA256:… without "=")' },
        })
        .optional(),
      knownHostsFile: absolutePath.optional(),
    })
    .refine((k) => k.fingerprint !== undefined || k.knownHostsFile !== undefined, {
      message: 'the host key must be pinned',
      params: { hint: 'set "fingerprint" ("SHA256:…") or "knownHostsFile" (an absolute path on the worker)' },
    }),
  privateKeyPathEnv: envVarName.default('PHOENIX_SSH_KEY'),
  passphraseEnv: envVarName.optional(),
  connectTimeoutMs: z.number().int().min(100).default(10_000),
  commandTimeoutMs: z.number().int().min(100).default(120_000),
});

const vmid = z.number().int();

/** A container image reference with an explicit tag (no "latest" surprises). */
const imageRef = z.string().refine((s) => /^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)(@sha256:[0-9a-f]{64})?$/.test(s), {
  message: 'not a pinned image reference',
  params: { hint: 'write it with a tag, e.g. "portainer/agent:2.21.5"' },
});

const cloudInitSchema = z.strictObject({
  ciuser: z
    .string()
    .refine((s) => /^[a-z_][a-z0-9_-]*$/.test(s), {
      message: 'not a user name',
      params: { hint: 'e.g. "phoenix_user"' },
    })
    .optional(),
  nameserver: z
    .string()
    .refine((s) => s.split(' ').every((ip) => parseIPv4(ip) !== undefined), {
      message: 'not a space-separated list of IPv4 addresses',
      params: { hint: 'e.g. "10.0.0.13 1.1.1.1"' },
    })
    .optional(),
  /** Public key file (not secret), relative to the plan file. */
  sshPublicKeyFile: z.string().min(1).optional(),
  /** Env var holding the public key file's path, read at resolve time; unset = no keys. */
  sshPublicKeyFileEnv: envVarName.optional(),
});

/** A duration with no default of its own (its default is another field's, applied by the resolver). */
const optionalDurationField = () =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const ms = parseDuration(text);
      if (ms === undefined || ms === 0) {
        custom(
          ctx,
          `"${text}" is not a non-zero duration`,
          'write it like "30s", "5m", "24h" or "1h30m" (units ms, s, m, h, d)',
        );
        return z.NEVER;
      }
      return ms;
    });

const durationField = (fallback: string, allowZero = false) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || (!allowZero && ms === 0)) {
        custom(
          ctx,
          `"${text}" is not a ${allowZero ? '' : 'non-zero '}duration`,
          'write it like "30s", "5m", "24h" or "1h30m" (units ms, s, m, h, d)',
        );
        return z.NEVER;
      }
      return ms;
    });

export const planFileSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().refine((s) => /^[a-z0-9-]{1,40}$/.test(s), {
    message: 'must be 1 to 40 of [a-z0-9-]',
    params: { hint: 'e.g. "qdrant-to-dr-phoenix" (the workflow id is migration-<name>)' },
  }),
  description: z.string().optional(),
  phoenix: z
    .strictObject({
      /** A copy of the Phoenix checkout (`/usr/local/phoenix_hypervisor`), relative to the plan file. */
      dir: z.string().min(1).optional(),
      /** Relative to the plan file; default (with `dir`): the checkout's `etc/` files. */
      vmConfigs: z.string().min(1).optional(),
      lxcConfigs: z.string().min(1).optional(),
    })
    .superRefine((v, ctx) => {
      if (v.dir !== undefined) return;
      for (const key of ['vmConfigs', 'lxcConfigs'] as const)
        if (v[key] === undefined)
          custom(
            ctx,
            `required field "${key}" is missing (there is no "dir" to find it in)`,
            'set phoenix.dir to your Phoenix checkout, or name the file (relative to the plan file)',
            [key],
          );
    }),
  proxmox: z.strictObject({
    node: z.string().refine(isDnsName, {
      message: 'not a node name',
      params: { hint: "use the hypervisor's hostname (see GET /nodes)" },
    }),
    apiUrl: z.string().refine(
      (u) => {
        try {
          const url = new URL(u);
          return (
            url.protocol === 'https:' &&
            (url.pathname === '/' || url.pathname === '') &&
            url.username === '' &&
            url.search === ''
          );
        } catch {
          return false;
        }
      },
      {
        message: 'not an https URL of the Proxmox API',
        params: { hint: 'write it like "https://10.0.0.13:8006" (the client appends /api2/json)' },
      },
    ),
    tls: tlsSchema,
    tokenId: z.string().refine((s) => /^[^@!=\s]+@[^@!=\s]+![A-Za-z][A-Za-z0-9._-]*$/.test(s), {
      message: 'not a Proxmox API token id',
      params: { hint: 'write it as USER@REALM!TOKENID, e.g. "root@pam!phoenix-migrate"' },
    }),
    tokenSecret: secretRefSchema,
    /** Storage for the full clones; defaults to the VM config's storage_pool. */
    storage: z
      .string()
      .refine((s) => /^[A-Za-z][A-Za-z0-9._-]*$/.test(s), {
        message: 'not a Proxmox storage id',
        params: { hint: 'e.g. "local-lvm"' },
      })
      .optional(),
    ownerTag: z
      .string()
      .refine((s) => /^[a-z0-9_][a-z0-9_.+-]*$/.test(s), {
        message: 'not a Proxmox tag',
        params: { hint: 'lower-case letters, digits and _.+- e.g. "phoenix-migrate"' },
      })
      .default('phoenix-migrate'),
    requestTimeoutMs: z.number().int().min(1000).default(30_000),
  }),
  proxmoxHost: sshEndpointSchema,
  cloudInit: cloudInitSchema.prefault({}),
  /**
   * Entries are a vmid or {vmid, existing?, …cloudInit overrides}. `existing: "adopt"` converges a VM that exists and
   * was not made by phoenix-migrate in place (never recloned); without it such a VM is refused.
   */
  vms: z
    .array(
      z.preprocess(
        (v) => (typeof v === 'number' ? { vmid: v } : v),
        cloudInitSchema.extend({ vmid, existing: z.literal('adopt').optional() }),
      ),
    )
    .min(1),
  /** How Phase 3 makes the VMs usable after the clone: our scripts, Phoenix's own CLI, or not at all. */
  provisioner: z.enum(['native', 'phoenix-cli', 'none']).default('native'),
  provisioning: z
    .strictObject({
      /** argv run on the Proxmox host by the phoenix-cli provisioner; the vmid is appended. */
      phoenixCommand: z
        .array(
          z
            .string()
            .min(1)
            .refine((s) => /^[A-Za-z0-9._/@:+=-]+$/.test(s), {
              message: 'not a plain command word',
              params: { hint: 'e.g. ["phoenix", "create"] or ["sudo", "-n", "/usr/local/bin/phoenix", "create"]' },
            }),
        )
        .min(1)
        .default(['phoenix', 'create']),
      /** Phoenix's VM config on the Proxmox host (what `phoenix create` reads); compared with the plan. */
      phoenixVmConfig: absolutePath.default('/usr/local/phoenix_hypervisor/etc/phoenix_vm_configs.json'),
      images: z
        .strictObject({
          portainerServer: imageRef.default('portainer/portainer-ce:2.21.5'),
          portainerAgent: imageRef.default('portainer/agent:2.21.5'),
        })
        .prefault({}),
      /** The Portainer admin the primary role creates on a fresh server; without it the run tells the person. */
      portainerAdmin: z
        .strictObject({
          username: z
            .string()
            .regex(/^[A-Za-z0-9._@-]{1,64}$/, { message: 'not a Portainer user name' })
            .default('admin'),
          password: secretRefSchema,
        })
        .optional(),
    })
    .prefault({}),
  gateway: z.strictObject({
    ctid: vmid,
    access: z.discriminatedUnion('via', [
      z.strictObject({ via: z.literal('pct') }),
      z.strictObject({ via: z.literal('ssh'), ssh: sshEndpointSchema }),
    ]),
    siteFile: z.string(),
    upstream: z.string().refine((s) => /^[A-Za-z0-9_.-]+$/.test(s), {
      message: 'not an nginx upstream name',
      params: { hint: 'use [A-Za-z0-9_.-], e.g. "qdrant_service"' },
    }),
    /** HOST:PORT list; defaults to the host:port of qdrant.newUrl. */
    newServers: z.array(z.string()).min(1).optional(),
    nginxCommand: z
      .array(
        z
          .string()
          .min(1)
          .refine((s) => !/[\0\n\r]/.test(s), { message: 'contains a NUL or line break' }),
      )
      .min(1)
      .default(['nginx']),
    backupDir: z.string().default('/var/backups/phoenix-migrate'),
    lockFile: z.string().default('/run/lock/phoenix-migrate-gateway.lock'),
    /** nginx's pid file and error log in the container: how the cutover sees whether a reload took. */
    pidFile: z.string().default('/run/nginx.pid'),
    errorLog: z.string().default('/var/log/nginx/error.log'),
  }),
  qdrant: z.strictObject({
    gatewayUrl: httpUrl,
    newUrl: httpUrl,
    legacyUrl: httpUrl,
    apiKey: secretRefSchema.optional(),
    expectedCollections: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[A-Za-z0-9_.-]+$/, { message: 'not a collection name' }),
          minCount: z.number().int().nonnegative().optional(),
        }),
      )
      .default([]),
    data: z.strictObject({ mode: z.enum(['none', 'reindex', 'snapshot']) }).prefault({ mode: 'none' }),
  }),
  /**
   * Entries are a ctid or {ctid, name?, node?, ip?, volumes?}. A name given is checked against the node (a mismatch
   * refuses); without one — a guest the LXC config no longer holds — the name the node shows at preflight is pinned
   * for the run and shown in the decommission approval.
   */
  legacyGuests: z
    .array(
      z.preprocess(
        (v) => (typeof v === 'number' ? { ctid: v } : v),
        z.strictObject({
          ctid: vmid,
          name: z
            .string()
            .refine(isDnsName, {
              message: 'not a guest name Proxmox accepts',
              params: { hint: 'use the name the guest has on Proxmox (letters, digits, "-")' },
            })
            .optional(),
          node: z
            .string()
            .refine(isDnsName, { message: 'not a node name', params: { hint: "use the hypervisor's hostname" } })
            .optional(),
          /** An address the guest is known by besides its live config (e.g. one it had in Phoenix's LXC config). */
          ip: z
            .string()
            .refine((s) => parseIPv4(s) !== undefined, {
              message: 'not an IPv4 address',
              params: { hint: 'write it like "10.0.0.150" (no prefix length)' },
            })
            .optional(),
          /**
           * What happens to each volume mount point a backup would skip, decided before anything changes: per mount
           * point (`{"mp0": "backup"}`), or one decision for every volume mount point the node shows at preflight
           * (`"backup"`), for a CT whose mount points no config of Phoenix lists any more.
           */
          volumes: z
            .union(
              [
                z.enum(['backup', 'discard']),
                z.record(
                  z.string().regex(/^mp[0-9]{1,3}$/, { message: 'not a mount point key (mp0, mp1, …)' }),
                  z.enum(['backup', 'discard'], {
                    message: 'must be "backup" (included in the vzdump) or "discard" (destroyed with the CT)',
                  }),
                ),
              ],
              {
                message:
                  'must be "backup" or "discard" (every volume mount point), or {"mp0": "backup"|"discard", …} per mount point',
              },
            )
            .default({}),
        }),
      ),
    )
    .default([]),
  portainer: z
    .strictObject({
      mode: z.enum(['manual', 'api']).default('manual'),
      /** Defaults to https://<portainer_role primary VM ip>:9443. */
      url: httpUrl.optional(),
      tls: tlsSchema.optional(),
      environmentName: z.string().min(1).default('Dr-Phoenix'),
      /** Defaults to tcp://<portainer_role agent VM ip>:9001. */
      agentUrl: z
        .string()
        .refine((s) => /^tcp:\/\/[^\s/:]+:[0-9]{1,5}$/.test(s), {
          message: 'not an agent URL',
          params: { hint: 'write it like "tcp://10.0.0.102:9001"' },
        })
        .optional(),
      stackName: z
        .string()
        .refine((s) => /^[a-z0-9][a-z0-9_-]*$/.test(s), {
          message: 'not a stack name Portainer keeps as is',
          params: { hint: 'use lower-case [a-z0-9_-], e.g. "qdrant"' },
        })
        .default('qdrant'),
      /** The `destination` of the compose file the stack deploys; optional when there is only one. */
      composeFile: z.string().optional(),
      credentials: z
        .strictObject({
          apiKey: secretRefSchema.optional(),
          username: secretRefSchema.optional(),
          password: secretRefSchema.optional(),
        })
        .optional(),
      allowStackUpdate: z.boolean().default(false),
    })
    .prefault({}),
  backups: z
    .strictObject({
      enabled: z.boolean().default(true),
      storage: z.string().min(1).default('local'),
      mode: z.enum(['snapshot', 'suspend', 'stop']).default('snapshot'),
      compress: z.enum(['0', '1', 'gzip', 'lzo', 'zstd']).default('zstd'),
    })
    .prefault({}),
  approvals: z.strictObject({ decommission: z.boolean().default(true) }).prefault({}),
  durations: z
    .strictObject({
      remindEvery: durationField('1h'),
      deployTimeout: durationField('72h'),
      readinessRecheck: durationField('1m'),
      /** How long the run waits for readiness before it ends, nothing changed downstream (default: deployTimeout). */
      readinessTimeout: optionalDurationField(),
      verifyBudget: durationField('2m'),
      soak: durationField('0s', true),
      soakProbeEvery: durationField('30s'),
      shutdownTimeout: durationField('60s'),
    })
    .prefault({}),
  notify: z.strictObject({ webhookUrlEnv: envVarName }).optional(),
  /**
   * Phoenix's own gateway sources (plan `phoenix.dir`): with `write`, the run rewrites the moved upstream in them once
   * the cutover is verified, byte-preserving with a backup beside each file — as `phoenix-migrate sources --write`.
   */
  sources: z.strictObject({ write: z.boolean().default(false) }).optional(),
});

export type PlanFile = z.output<typeof planFileSchema>;
