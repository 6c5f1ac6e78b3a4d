/**
 * Infrastructure Provisioning: make each target VM exist, configured, sized, running and answering — converging
 * from live state every time, so a retry (or a second run) only does what is still missing.
 */
import type { ProxmoxSettings, VmSpec } from '../config/resolved-plan';
import {
  activeTasksFor,
  agentInfo,
  createProxmoxApi,
  decodeSshKeys,
  encodeSshKeys,
  isProxmoxError,
  isRetryable,
  isTaskStillRunning,
  waitForTask,
  type GuestConfig,
  type ProxmoxApi,
  type TaskProgress,
} from '../proxmox';
import { FailureType } from '../failure-types';
import { refuse, withFailureTranslation } from './failures';
import { heartbeat } from './heartbeat';
import { resolveSecret } from '../secrets';

export interface ActivityLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface ProxmoxActivityDeps {
  proxmoxFor(settings: ProxmoxSettings): ProxmoxApi;
  log?: ActivityLog;
  /** How long to wait for the guest agent after start (default 3 min). */
  readyTimeoutMs?: number;
  /** How long to wait for a clone/backup lock to clear (default 15 min). */
  lockWaitMs?: number;
  /** Retries of transient failures inside one attempt, each after re-reading live state (default 8). */
  attempts?: number;
  /** Intervals of a task wait that polls on its own (the node's task list refused; default 100 ms → 500 ms). */
  taskPollMs?: { min: number; max: number };
  /**
   * How long one wait for a Proxmox task lasts before the attempt ends with a transient failure (default 10 min): the
   * task goes on on the node, and the next attempt waits for it again.
   */
  taskTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface EnsureVmInput {
  proxmox: ProxmoxSettings;
  vm: VmSpec;
  dryRun?: boolean;
}

export interface EnsureVmResult {
  vmid: number;
  created: boolean;
  /** The VM existed, was not made by us, and the plan said `existing: "adopt"`: converged in place, never recloned. */
  adopted: boolean;
  /** The boot disk's size after this step (GiB). */
  diskGb?: number;
  /** What was (or, with dryRun, would be) changed, e.g. "clone 9000 → 1002", "set cores 4". */
  changes: string[];
  rebootRequired: boolean;
  ready: boolean;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Run one convergence pass; on a transient/locked failure, back off and run it again (it re-reads live state first,
 * so a change whose answer was lost is seen instead of being sent twice).
 */
export async function converging<T>(deps: ProxmoxActivityDeps, what: string, pass: () => Promise<T>): Promise<T> {
  const attempts = deps.attempts ?? 8;
  const sleep = deps.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await pass();
    } catch (err) {
      if (!isRetryable(err) || attempt >= attempts) throw err;
      deps.log?.warn(`${what}: retrying after a transient Proxmox failure`, { attempt, error: (err as Error).message });
      heartbeat({ what, retry: attempt });
      await sleep(Math.min(3_000, 200 * 2 ** (attempt - 1)));
    }
  }
}

export function taskOptions(deps: ProxmoxActivityDeps, what: string) {
  return {
    heartbeat: (p: TaskProgress) => heartbeat({ what, task: p.type, status: p.status, elapsedMs: p.elapsedMs }),
    minIntervalMs: deps.taskPollMs?.min,
    maxIntervalMs: deps.taskPollMs?.max,
    timeoutMs: deps.taskTimeoutMs,
    sleep: deps.sleep,
  };
}

/** Wait for tasks already running on this guest (e.g. ours, whose answer was lost) instead of racing them. */
export async function settleActiveTasks(
  api: ProxmoxApi,
  deps: ProxmoxActivityDeps,
  node: string,
  vmid: number,
): Promise<void> {
  for (const task of await activeTasksFor(api, node, vmid)) {
    deps.log?.info(`waiting for running task ${task.type} on ${vmid}`, { upid: task.upid });
    // Its outcome is judged by re-reading state afterwards, not by its exit status — once it has ended. While it
    // still runs (a vzdump waiting for the node's backup lock can wait for hours) acting would race it or repeat
    // it: the attempt fails instead, and the next one waits again.
    await waitForTask(api, task.upid, taskOptions(deps, `wait ${task.type} ${vmid}`)).catch((err: unknown) => {
      if (!isProxmoxError(err) || !err.task || isTaskStillRunning(err)) throw err;
    });
  }
}

export function parseTagList(value: unknown): string[] {
  return String(value ?? '')
    .split(/[;, ]+/)
    .filter((t) => t !== '');
}

/** The marker written into the description at clone time: ownership survives a crash before tags are set. */
export function ownerMarker(ownerTag: string): string {
  return `(owner tag: ${ownerTag})`;
}

function isOurs(config: GuestConfig, ownerTag: string): boolean {
  return (
    parseTagList(config.tags).includes(ownerTag) || String(config.description ?? '').includes(ownerMarker(ownerTag))
  );
}

function normStartup(v: unknown): string {
  return String(v ?? '')
    .split(',')
    .filter(Boolean)
    .sort()
    .join(',');
}

function agentEnabled(v: unknown): boolean {
  return /^(1|enabled=1)(,|$)/.test(String(v ?? ''));
}

function memoryOf(v: unknown): string {
  return String(v ?? '').replace(/^current=/, '');
}

interface ConfigChange {
  key: string;
  value: string;
  describe: string;
}

/** Only what differs from the live config (GET config shows pending values, so pending changes are not re-sent). */
export function configChanges(vm: VmSpec, ownerTag: string, current: GuestConfig): ConfigChange[] {
  const out: ConfigChange[] = [];
  const set = (key: string, value: string, differs: boolean, describe = `set ${key} ${value}`) => {
    if (differs) out.push({ key, value, describe });
  };
  set('name', vm.name, String(current.name ?? '') !== vm.name);
  set('cores', String(vm.cores), String(current.cores ?? '') !== String(vm.cores));
  set('memory', String(vm.memoryMb), memoryOf(current.memory) !== String(vm.memoryMb));
  set('onboot', vm.onboot ? '1' : '0', String(current.onboot ?? '0') !== (vm.onboot ? '1' : '0'));
  const startup = `order=${vm.startup.order}${vm.startup.up !== undefined ? `,up=${vm.startup.up}` : ''}`;
  set('startup', startup, normStartup(current.startup) !== normStartup(startup));
  set('ipconfig0', vm.ipconfig0, normStartup(current.ipconfig0) !== normStartup(vm.ipconfig0));
  if (vm.ciuser !== undefined) set('ciuser', vm.ciuser, String(current.ciuser ?? '') !== vm.ciuser);
  if (vm.nameserver !== undefined) set('nameserver', vm.nameserver, String(current.nameserver ?? '') !== vm.nameserver);
  if (vm.sshPublicKeys !== undefined && vm.sshPublicKeys.trim() !== '') {
    const want = decodeSshKeys(encodeSshKeys(vm.sshPublicKeys));
    const have = decodeSshKeys(current.sshkeys === undefined ? undefined : String(current.sshkeys));
    set(
      'sshkeys',
      encodeSshKeys(vm.sshPublicKeys),
      want.join('\n') !== have.join('\n'),
      `set sshkeys (${want.length} key${want.length === 1 ? '' : 's'})`,
    );
  }
  set('agent', 'enabled=1', !agentEnabled(current.agent));
  const haveTags = parseTagList(current.tags);
  const wantTags = [...new Set([...vm.tags, ownerTag])];
  const missing = wantTags.filter((t) => !haveTags.includes(t));
  const merged = [...new Set([...haveTags, ...wantTags])].join(';');
  set('tags', merged, missing.length > 0, `set tags ${merged}`);
  return out;
}

const DISK_ORDER = ['scsi0', 'virtio0', 'sata0', 'ide0'];

/** The boot disk: the first disk in the boot order that is not a CD-ROM, else the first of scsi0/virtio0/sata0/ide0. */
export function bootDisk(config: GuestConfig): string | undefined {
  const isDisk = (k: string) =>
    /^(scsi|virtio|sata|ide)\d+$/.test(k) && config[k] !== undefined && !String(config[k]).includes('media=cdrom');
  const order = /order=([^,]+)/.exec(String(config.boot ?? ''))?.[1]?.split(';') ?? [];
  return order.find(isDisk) ?? DISK_ORDER.find(isDisk);
}

/** Disk size in GiB from `…,size=32G`. */
export function diskSizeGb(value: unknown): number {
  const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)/.exec(String(value ?? ''));
  if (!m) return 0;
  const factor = { '': 1 / 1024 ** 3, K: 1 / 1024 ** 2, M: 1 / 1024, G: 1, T: 1024 }[
    m[2] as '' | 'K' | 'M' | 'G' | 'T'
  ];
  return Number(m[1]) * factor;
}

/** 13.5 → "13.5", 32 → "32". */
export function fmtGb(gb: number): string {
  return String(Math.round(gb * 10) / 10);
}

/**
 * What adopting an existing VM changes, in the words `plan` and preflight show: the config keys that differ (our tag
 * included), the disk growth, or "kept" when the plan is smaller than the live disk (never attempted).
 */
export function adoptionDiff(vm: VmSpec, ownerTag: string, config: GuestConfig): string[] {
  const out = configChanges(vm, ownerTag, config).map((c) => c.describe);
  const disk = bootDisk(config);
  const size = disk ? diskSizeGb(config[disk]) : 0;
  if (disk && size < vm.diskSizeGb) out.push(`resize ${disk} ${fmtGb(size)}G → ${vm.diskSizeGb}G`);
  if (disk && size > vm.diskSizeGb)
    out.push(`kept: ${disk} is ${fmtGb(size)}G, the plan says ${vm.diskSizeGb}G — Proxmox cannot shrink a disk`);
  return out;
}

export function createVmActivities(deps: ProxmoxActivityDeps) {
  const sleep = deps.sleep ?? realSleep;

  async function waitUnlocked(api: ProxmoxApi, vm: VmSpec): Promise<void> {
    const deadline = Date.now() + (deps.lockWaitMs ?? 900_000);
    for (let wait = 200; ; wait = Math.min(2_000, wait * 2)) {
      const status = await api.qemu.status(vm.node, vm.vmid);
      if (!status.lock) return;
      if (Date.now() > deadline) {
        throw refuse(
          FailureType.VmStillLocked,
          `VM ${vm.vmid} (${vm.name}) is still locked (${status.lock}) after waiting; check its task log on node ${vm.node}.`,
        );
      }
      heartbeat({ what: `ensureVm ${vm.vmid}`, waitingForLock: status.lock });
      await sleep(wait);
    }
  }

  async function waitReady(api: ProxmoxApi, vm: VmSpec): Promise<boolean> {
    const deadline = Date.now() + (deps.readyTimeoutMs ?? 180_000);
    // At most 500 ms between tries: the agent's first answer is on the critical path (a 5 s cap cost ≈4 s per VM,
    // 1 s ≈0.5 s); a booting guest answers "agent not running" cheaply.
    for (let wait = 250; ; wait = Math.min(500, Math.round(wait * 1.6))) {
      try {
        await agentInfo(api, vm.node, vm.vmid);
        return true;
      } catch (err) {
        // "QEMU guest agent is not running" is a 500 (transient) while the guest boots; anything else is real.
        if (!isRetryable(err)) throw err;
      }
      if (Date.now() > deadline) return false;
      heartbeat({ what: `ensureVm ${vm.vmid}`, waitingFor: 'guest agent' });
      await sleep(wait);
    }
  }

  async function ensureVm(input: EnsureVmInput): Promise<EnsureVmResult> {
    const { proxmox: settings, vm } = input;
    const dryRun = input.dryRun === true;
    const api = deps.proxmoxFor(settings);
    const changes: string[] = [];
    const note = (c: string) => {
      if (!changes.includes(c)) changes.push(c);
    };
    let created = false;
    let cloneSent = false;
    let adopted = false;
    let diskGb: number | undefined;
    let grownWhileRunning = false;
    const cloneChange = `clone ${vm.cloneFrom} → ${vm.vmid}`;

    const result = await converging(deps, `ensureVm ${vm.vmid}`, async (): Promise<EnsureVmResult> => {
      heartbeat({ what: `ensureVm ${vm.vmid}`, step: 'read' });
      await settleActiveTasks(api, deps, vm.node, vm.vmid);

      if (await api.cluster.vmidIsFree(vm.vmid)) {
        if (dryRun) return planFromTemplate(api, input, changes);
        cloneSent = true;
        const upid = await api.qemu.clone(vm.node, vm.cloneFrom, {
          newid: vm.vmid,
          name: vm.name,
          full: true,
          storage: vm.storage,
          description: `Created by phoenix-migrate ${ownerMarker(settings.ownerTag)} from template ${vm.cloneFrom}.`,
        });
        created = true;
        note(cloneChange);
        await waitForTask(api, upid, taskOptions(deps, `clone ${vm.vmid}`));
      }

      const guest = (await api.cluster.guests()).find((g) => g.vmid === vm.vmid);
      if (!guest) {
        throw refuse(
          FailureType.VmidTakenByForeignGuest,
          `vmid ${vm.vmid} (${vm.name}) is taken, but token ${settings.tokenId} cannot see the guest (no VM.Audit on /vms/${vm.vmid}); ` +
            `choose another vmid in the plan or grant VM.Audit to inspect it.`,
        );
      }
      if (guest.type !== 'qemu') {
        throw refuse(
          FailureType.VmidTakenByForeignGuest,
          `vmid ${vm.vmid} is taken by ${guest.type} guest "${guest.name ?? '?'}" on ${guest.node}, not a VM we created; choose another vmid for ${vm.name} in the plan.`,
        );
      }
      if (guest.node !== vm.node) {
        throw refuse(
          FailureType.VmOnUnexpectedNode,
          `VM ${vm.vmid} is on node ${guest.node}, but the plan expects ${vm.node}; migrate it back or fix vms[].node.`,
        );
      }
      const config = await api.qemu.config(vm.node, vm.vmid);
      if (config.template) {
        throw refuse(
          FailureType.VmidTakenByForeignGuest,
          `vmid ${vm.vmid} is the template "${String(config.name ?? guest.name ?? '?')}", not a VM; choose another vmid for ${vm.name} in the plan.`,
        );
      }
      // Adopted: exists, was not cloned by us (our clones carry the marker in their description from the start).
      adopted =
        !created &&
        !cloneSent &&
        vm.adopt === true &&
        !String(config.description ?? '').includes(ownerMarker(settings.ownerTag));
      if (!isOurs(config, settings.ownerTag) && !vm.adopt) {
        throw refuse(
          FailureType.VmidTakenByForeignGuest,
          `vmid ${vm.vmid} is taken by VM "${String(config.name ?? guest.name ?? '?')}" that phoenix-migrate did not create (no "${settings.ownerTag}" tag); ` +
            `to converge it in place write {"vmid": ${vm.vmid}, "existing": "adopt"} in the plan's vms, ` +
            `or choose another vmid for ${vm.name}, or remove that VM yourself.`,
        );
      }
      if (cloneSent && !created) {
        created = true;
        note(cloneChange);
      }

      if (guest.lock) {
        if (dryRun) note(`wait for lock ${guest.lock}`);
        else await waitUnlocked(api, vm);
      }

      const todo = configChanges(vm, settings.ownerTag, await api.qemu.config(vm.node, vm.vmid));
      if (todo.length > 0) {
        if (!dryRun) await api.qemu.setConfig(vm.node, vm.vmid, Object.fromEntries(todo.map((c) => [c.key, c.value])));
        todo.forEach((c) => note(c.describe));
      }

      const latest = await api.qemu.config(vm.node, vm.vmid);
      const disk = bootDisk(latest);
      if (!disk)
        throw refuse(
          FailureType.VmHasNoBootDisk,
          `VM ${vm.vmid} has no boot disk (none of boot order / scsi0, virtio0, sata0, ide0); check template ${vm.cloneFrom}.`,
        );
      const size = diskSizeGb(latest[disk]);
      diskGb = Math.max(size, vm.diskSizeGb);
      if (size > vm.diskSizeGb && adopted) {
        note(`kept: ${disk} is ${fmtGb(size)}G, the plan says ${vm.diskSizeGb}G — Proxmox cannot shrink a disk`);
      } else if (size > vm.diskSizeGb) {
        throw refuse(
          FailureType.DiskShrinkRefused,
          `VM ${vm.vmid} disk ${disk} is ${size}G, larger than diskSizeGb ${vm.diskSizeGb} in the plan; Proxmox cannot shrink disks — raise diskSizeGb to at least ${size}.`,
        );
      }
      const status = await api.qemu.status(vm.node, vm.vmid);
      if (size < vm.diskSizeGb) {
        if (!dryRun) {
          const upid = await api.qemu.resize(vm.node, vm.vmid, disk, `${vm.diskSizeGb}G`);
          if (upid) await waitForTask(api, upid, taskOptions(deps, `resize ${vm.vmid}`));
        }
        note(`resize ${disk} ${fmtGb(size)}G → ${vm.diskSizeGb}G`);
        // A running guest sees the bigger disk at once, but its root filesystem grows at the next boot (cloud-init's
        // growpart), not now: say so instead of pretending.
        if (status.status === 'running') grownWhileRunning = true;
      }

      if (status.status !== 'running') {
        if (!dryRun) {
          const upid = await api.qemu.start(vm.node, vm.vmid);
          await waitForTask(api, upid, taskOptions(deps, `start ${vm.vmid}`)).catch((err: unknown) => {
            if (!/already running/i.test(String((err as Error).message))) throw err;
          });
        }
        note('start');
      }

      const pending =
        dryRun && status.status !== 'running'
          ? []
          : (await api.qemu.pending(vm.node, vm.vmid)).filter((p) => p.pending !== undefined || p.delete);
      const rebootRequired = pending.length > 0 || grownWhileRunning;
      if (pending.length > 0) note(`reboot required (pending: ${pending.map((p) => p.key).join(', ')})`);
      if (grownWhileRunning)
        note(
          `reboot required: the guest's root filesystem grows to ${vm.diskSizeGb}G at its next boot (cloud-init growpart)`,
        );

      const ready = dryRun
        ? await agentInfo(api, vm.node, vm.vmid).then(
            () => true,
            () => false,
          )
        : await waitReady(api, vm);
      return { vmid: vm.vmid, created, adopted, diskGb, changes, rebootRequired, ready };
    });
    deps.log?.info(`ensureVm ${vm.vmid}: ${result.changes.length === 0 ? 'no changes' : result.changes.join('; ')}`, {
      dryRun,
    });
    return result;
  }

  /** Dry run for an absent VM: what cloning the template and converging it would change. */
  async function planFromTemplate(api: ProxmoxApi, input: EnsureVmInput, changes: string[]): Promise<EnsureVmResult> {
    const { vm, proxmox } = input;
    changes.push(`clone ${vm.cloneFrom} → ${vm.vmid}`);
    const template = await api.qemu.config(vm.node, vm.cloneFrom);
    configChanges(vm, proxmox.ownerTag, template).forEach((c) => changes.push(c.describe));
    const disk = bootDisk(template);
    const size = disk ? diskSizeGb(template[disk]) : 0;
    if (disk && size < vm.diskSizeGb) changes.push(`resize ${disk} ${size}G → ${vm.diskSizeGb}G`);
    if (disk && size > vm.diskSizeGb)
      changes.push(`refuse: template disk ${disk} is ${size}G, larger than diskSizeGb ${vm.diskSizeGb}`);
    changes.push('start');
    return { vmid: vm.vmid, created: false, adopted: false, changes, rebootRequired: false, ready: false };
  }

  return withFailureTranslation({ ensureVm });
}

/**
 * The worker's `proxmoxFor`: one client per settings (cached), with the token secret resolved from the worker's
 * env/file when first needed. Insecure TLS is warned about at each client creation.
 */
export function defaultProxmoxFor(
  opts: { warn?: (message: string) => void; env?: NodeJS.ProcessEnv } = {},
): (settings: ProxmoxSettings) => ProxmoxApi {
  const cache = new Map<string, ProxmoxApi>();
  return (settings) => {
    const key = JSON.stringify([
      settings.apiUrl,
      settings.tls,
      settings.tokenId,
      settings.tokenSecret,
      settings.requestTimeoutMs,
    ]);
    let api = cache.get(key);
    if (!api) {
      const ref = settings.tokenSecret;
      api = createProxmoxApi({
        apiUrl: settings.apiUrl,
        tls: settings.tls,
        tokenId: settings.tokenId,
        tokenSecret: resolveSecret(ref, opts.env),
        tokenSecretSource: 'env' in ref ? `env ${ref.env}` : `file ${ref.file}`,
        requestTimeoutMs: settings.requestTimeoutMs,
        warn: opts.warn ?? ((m) => process.emitWarning(m, 'InsecureTLSWarning')),
      });
      cache.set(key, api);
    }
    return api;
  };
}
