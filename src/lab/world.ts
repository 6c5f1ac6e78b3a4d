/**
 * A loopback copy of the Phoenix homelab, built from the shipped plan: the Proxmox simulator (pre-migration world),
 * Qdrant simulators (legacy with data; the new one answers once the stack is deployed), a Portainer simulator, the
 * Proxmox host as a REAL sshd (with a `pct` stand-in) and the gateway as a REAL nginx. It writes its own plan and
 * Phoenix configs with every 10.0.0.N mapped onto 127.0.0.N, and keeps a JSONL event log of every side effect.
 *
 * The lab runs one world in `.lab/`; end-to-end tests, chaos runs and benchmarks start throwaway ones.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { loadAndResolvePlan, type ResolvedPlan } from '../config';
import { PortainerClient } from '../portainer/client';
import { dispatcherFor } from '../http/tls';
import { hostPortOf, loopbackOf, mapAddresses, type AddressMap } from './address-map';
import { startPortainerSim, type PortainerSim } from './portainer-sim';
import { GuestSandbox, sandboxUnavailableReason } from './guest-sandbox/sandbox';
import {
  seedFromPhoenixWorld,
  startProxmoxSim,
  type FaultSettings,
  type ProxmoxSim,
  type SimGuestSeed,
} from './proxmox-sim';
import { startQdrantSim, type QdrantSim, type SimCollectionSeed } from './qdrant-sim';
import { EventLog } from './event-log';
import { HOMELAB_CONTAINERS, HOMELAB_STORAGE, HOMELAB_UPSTREAMS, type HomelabContainer } from './homelab';
import { ensureGatewayCertificate, phoenixGatewaySite } from './services/gateway-site';
import { startGatewayNginx, type GatewayNginx } from './services/nginx';
import { installPctStandin } from './services/pct-standin';
import { installPhoenixStandin } from './services/phoenix-standin';
import { gateCommand, writeGateConfig } from './services/ssh-gate';
import { handOut, preferredPort } from './services/ports';
import { startSshd, type SshdHandle } from './services/sshd';
import { phoenixPath } from '../config/phoenix-dir';
import { loadRehearsal, type RehearsalInputs, type RehearsalOptions } from './rehearsal/checkout';
import { prepareRehearsalGateway, testMappedSite } from './rehearsal/gateway';
import type { SiteSource } from './rehearsal/site-source';
import { adoptedVmSeeds } from './rehearsal/vms';

export const DEFAULT_SOURCE_PLAN = path.join(__dirname, '..', '..', 'plans', 'qdrant-to-dr-phoenix.json');

/** Lab faults at the gateway (`--faults gateway-…`). */
export interface GatewayFaults {
  /** The first N `nginx -s reload` exit 0 but never reach nginx: it keeps serving the old configuration. */
  reloadNoop?: number;
  /** The new Qdrant answers when asked directly, never through the gateway. */
  newDeadThroughGateway?: boolean;
}

export interface WorldOptions {
  /** Where everything lives; reused (resumed) when it already holds a world. */
  dir: string;
  sourcePlan?: string;
  /** Prefer the real ports (8006, 6333, 80, …) on the mapped addresses when free: readable, like the real world. */
  standardPorts?: boolean;
  portainerMode?: 'manual' | 'api';
  dataMode?: 'none' | 'reindex' | 'snapshot';
  /** Configure Portainer credentials in the plan (manual mode then also checks the stack exists). */
  portainerCredentials?: boolean;
  approvals?: boolean;
  /** Plan durations (human strings), merged over the lab's short defaults. */
  durations?: Record<string, string>;
  proxmoxFaults?: FaultSettings;
  gatewayFaults?: GatewayFaults;
  /** Faults inside the guests (`--faults guest-…`). */
  guestFaults?: { aptFailRate?: number };
  /** Plan `provisioner` (default: the shipped plan's). */
  provisioner?: 'native' | 'phoenix-cli' | 'none';
  taskDurations?: Record<string, number>;
  defaultTaskMs?: number;
  agentDelayMs?: number;
  /** How long cloud-init runs after the guest agent answers (default 1.5 s); the bench folds it into the agent's (0). */
  cloudInitMs?: number;
  /** Collections on the legacy Qdrant. */
  legacyCollections?: SimCollectionSeed[];
  expectedCollections?: { name: string; minCount?: number }[];
  /**
   * The gateway site's upstreams besides `qdrant_service` (default: the real site's seven, `qwen_service` → CT 950
   * among them). Addresses may be real (10.0.0.N) or already mapped.
   */
  otherUpstreams?: { name: string; server: string }[];
  /** Plan name (distinct worlds on one Temporal server need distinct names). */
  planName?: string;
  notifyWebhookUrlEnv?: string;
  /**
   * A rehearsal of the operator's own homelab (`npm run lab -- --phoenix DIR --plan FILE`): the world from their
   * checkout (copied into the lab) and plan instead of the shipped example; see src/lab/rehearsal/.
   */
  rehearsal?: RehearsalOptions;
}

export interface World {
  dir: string;
  planPath: string;
  plan: ResolvedPlan;
  digest: string;
  addressMap: AddressMap;
  /** What the worker needs in its environment: the secrets the plan references. */
  workerEnv: Record<string, string>;
  events: EventLog;
  auditLogPath: string;
  proxmox: ProxmoxSim;
  legacyQdrant: QdrantSim;
  newQdrant: QdrantSim;
  portainer: PortainerSim;
  sshd: SshdHandle;
  gateway: GatewayNginx;
  /** The VMs' sandboxed roots (their packages, services, containers, mounts); faults can be changed live. */
  guests: GuestSandbox;
  /** A rehearsal's gateway site: the dump, heredoc or committed file it came from. */
  gatewaySiteSource?: SiteSource;
  /** What a rehearsal could not take from the checkout, and where it took it from instead. */
  rehearsalNotes?: string[];
  /** The person's manual step: a Portainer stack from the compose file Phase 2 put on the share (web editor/upload). */
  deployStack(): Promise<string>;
  stop(): Promise<void>;
}

interface WorldState {
  tokenSecret: string;
  portainerApiKey: string;
  deployed: boolean;
  ports: Record<string, number>;
}

const DEFAULT_DURATIONS = {
  remindEvery: '10m',
  deployTimeout: '2h',
  readinessRecheck: '2s',
  verifyBudget: '30s',
  soak: '0s',
  soakProbeEvery: '1s',
  shutdownTimeout: '10s',
};

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;

export async function startWorld(opts: WorldOptions): Promise<World> {
  const dir = path.resolve(opts.dir);
  const sourcePlan = opts.sourcePlan ?? DEFAULT_SOURCE_PLAN;
  const stateDir = path.join(dir, 'state');
  const configDir = path.join(dir, 'config');
  for (const d of [stateDir, configDir]) fs.mkdirSync(d, { recursive: true });
  const stateFile = path.join(stateDir, 'world.json');
  const state: WorldState = fs.existsSync(stateFile)
    ? (readJson(stateFile) as unknown as WorldState)
    : {
        tokenSecret: crypto.randomUUID(),
        portainerApiKey: `ptr_${crypto.randomBytes(16).toString('hex')}`,
        deployed: false,
        ports: {},
      };
  const saveState = () => fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
  const events = new EventLog(path.join(stateDir, 'events.jsonl'));
  const addressMap: AddressMap = {};
  const stoppers: (() => Promise<void>)[] = [];

  try {
    // ── the source plan and Phoenix configs, addresses mapped ──────────────────────────────────────────────
    // A rehearsal: the operator's checkout (a copy in the lab) and plan; otherwise the shipped plan and example.
    const rehearsal: RehearsalInputs | undefined = opts.rehearsal ? loadRehearsal(opts.rehearsal, dir) : undefined;
    const planSrc = rehearsal?.planSrc ?? (readJson(sourcePlan) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    const planDir = path.dirname(sourcePlan);
    const vmSrcPath = rehearsal?.vmConfigs ?? path.resolve(planDir, planSrc.phoenix.vmConfigs);
    const lxcSrcPath = rehearsal?.lxcConfigs ?? path.resolve(planDir, planSrc.phoenix.lxcConfigs);
    const vmText = mapAddresses(fs.readFileSync(vmSrcPath, 'utf8'), addressMap);
    const lxcText = mapAddresses(fs.readFileSync(lxcSrcPath, 'utf8'), addressMap);
    const plan = JSON.parse(mapAddresses(JSON.stringify(planSrc), addressMap)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const vmConfigs = JSON.parse(vmText);
    const lxcConfigs = JSON.parse(lxcText);

    const port = async (name: string, host: string, standard: number) => {
      const kept = state.ports[name];
      const chosen =
        kept === undefined ? await preferredPort(host, opts.standardPorts ? standard : undefined) : handOut(host, kept);
      state.ports[name] = chosen;
      return chosen;
    };
    const proxmoxApi = hostPortOf(plan.proxmox.apiUrl, 8006);
    const qdrantLegacy = hostPortOf(plan.qdrant.legacyUrl, 6333);
    const qdrantNew = hostPortOf(plan.qdrant.newUrl, 6333);
    const gatewayAt = hostPortOf(plan.qdrant.gatewayUrl, 80);
    const portainerAt = hostPortOf(plan.portainer.url, 9443);
    const agentAt = hostPortOf(plan.portainer.agentUrl, 9001);
    const sshHost = loopbackOf(plan.proxmoxHost.host);

    // ── NFS export on the "Proxmox host", and compose sources ─────────────────────────────────────────────
    // The export root exists; a VM's own directory only once Phoenix (or our Phase 3) made it: here, VM 1001's.
    const worldRoot = path.join(dir, 'world');
    const adoptedIds = new Set(rehearsal?.resolved.vms.filter((v) => v.adopt).map((v) => v.vmid));
    const primary = (vmConfigs.vms ?? []).find((v: { portainer_role?: string }) => v.portainer_role === 'primary');
    const agentVmid: number | undefined = (vmConfigs.vms ?? []).find(
      (v: { portainer_role?: string }) => v.portainer_role === 'agent',
    )?.vmid;
    for (const vm of vmConfigs.vms ?? []) {
      for (const vol of vm.volumes ?? []) {
        if (vol.type === 'nfs' && typeof vol.path === 'string') {
          vol.path = path.join(worldRoot, vol.path);
          fs.mkdirSync(path.dirname(vol.path), { recursive: true });
          if (rehearsal ? adoptedIds.has(vm.vmid) : vm === primary) fs.mkdirSync(vol.path, { recursive: true });
        }
      }
      for (const f of vm.docker_compose_files ?? []) {
        const src = phoenixPath(f.source, path.dirname(vmSrcPath), rehearsal?.checkout);
        const copy = path.join(configDir, 'stacks', path.basename(path.dirname(src)), path.basename(src));
        fs.mkdirSync(path.dirname(copy), { recursive: true });
        fs.writeFileSync(copy, mapAddresses(fs.readFileSync(src, 'utf8'), addressMap));
        f.source = copy;
      }
    }

    // ── Proxmox: the simulator, resumed from its saved state ──────────────────────────────────────────────
    // The node's containers are the real homelab's (src/lab/homelab.ts), not what Phoenix's LXC config still lists:
    // the legacy CTs have left that file but run on with their volumes; CT 953 is already gone.
    // A rehearsal's node: the CTs of the checkout's LXC config, and the legacy ones it no longer lists.
    const containers = rehearsal?.containers ?? HOMELAB_CONTAINERS;
    const homelab = new Map(containers.map((c) => [c.ctid, c]));
    const legacyIds = (plan.legacyGuests as (number | { ctid: number })[])
      .map((g) => (typeof g === 'number' ? g : g.ctid))
      .filter((ctid) => homelab.has(ctid));
    const ctSeed = (c: HomelabContainer) => {
      const ip = mapAddresses(c.ip, addressMap);
      return {
        ctid: c.ctid,
        name: c.name,
        ip,
        config: {
          rootfs: `${c.rootfsStorage ?? HOMELAB_STORAGE.ctDisks}:subvol-${c.ctid}-disk-0,size=${c.rootfsGb}G`,
          ...(c.mac
            ? { net0: `name=eth0,bridge=vmbr0,hwaddr=${c.mac},ip=${ip}/24,gw=${loopbackOf('10.0.0.1')},type=veth` }
            : {}),
          ...c.mountPoints,
        },
      };
    };
    const gatewayCt = homelab.get(plan.gateway.ctid);
    const template = (vmConfigs.vms as { vmid: number; name: string; is_template?: boolean }[]).find(
      (v) => v.is_template,
    );
    // The guests run the shipped scripts for real, each in its own sandboxed root (src/lab/guest-sandbox).
    const unavailable = sandboxUnavailableReason();
    if (unavailable) throw new Error(`the lab's guest sandbox needs mount namespaces: ${unavailable}`);
    let onGuestChange: (vmid: number) => void = () => undefined;
    const sandbox = new GuestSandbox({
      dir: path.join(dir, 'guests'),
      nfsServer: sshHost,
      nfsRoot: worldRoot,
      record: (e) => events.write(e),
      onChange: (vmid) => onGuestChange(vmid),
    });
    sandbox.setFaults({ aptFailRate: opts.guestFaults?.aptFailRate ?? 0 });
    stoppers.push(async () => sandbox.close());
    const primaryVolume = primary?.volumes?.[0];
    const drPhoenix: SimGuestSeed[] = rehearsal
      ? adoptedVmSeeds(rehearsal.resolved, vmConfigs, plan.proxmox.storage ?? 'local-lvm')
      : primary
        ? [
            {
              // VM 1001 before the run: Phoenix's "Dr-Phoenix", the Portainer server running, its disk never grown past
              // the 3.5 GB image + Phoenix's hard-coded +10 GB.
              vmid: primary.vmid,
              type: 'qemu',
              name: 'Dr-Phoenix',
              status: 'running',
              ip: String(primary.network_config?.ip ?? '').split('/')[0],
              config: {
                cores: 4,
                memory: '8192',
                onboot: 1,
                scsi0: `${plan.proxmox.storage ?? 'local-lvm'}:vm-${primary.vmid}-disk-0,iothread=1,size=13824M`,
              },
              image: {
                base: 'ubuntu-24.04-cloud',
                docker: { user: primary.user_config?.username ?? 'phoenix_user' },
                containers: [
                  {
                    name: 'portainer',
                    image: plan.provisioning?.images?.portainerServer ?? 'portainer/portainer-ce:2.21.5',
                    ports: ['9443:9443'],
                  },
                ],
                nfs: primaryVolume
                  ? [{ server: primaryVolume.server, path: primaryVolume.path, mountPoint: primaryVolume.mount_point }]
                  : [],
              },
            },
          ]
        : [];
    const proxmoxStateFile = path.join(stateDir, 'proxmox.json');
    const proxmox = await startProxmoxSim({
      host: proxmoxApi.host,
      port: await port('proxmox', proxmoxApi.host, 8006),
      certDir: path.join(stateDir, 'proxmox-cert'),
      stateFile: proxmoxStateFile,
      worlds: [
        seedFromPhoenixWorld({
          node: plan.proxmox.node,
          storage: plan.proxmox.storage,
          backupStorage: plan.backups?.storage ?? 'local',
          templateVmid: template?.vmid ?? 9000,
          templateName: template?.name,
          gatewayCtid: plan.gateway.ctid,
          gatewayName: gatewayCt?.name,
          gatewayIp: gatewayCt && ctSeed(gatewayCt).ip,
          gatewayConfig: gatewayCt && ctSeed(gatewayCt).config,
          legacy: legacyIds.map((ctid) => ctSeed(homelab.get(ctid)!)),
          others: containers
            .filter((c) => c.ctid !== plan.gateway.ctid && !c.legacy)
            .map((c) => {
              const seed = ctSeed(c);
              return {
                vmid: c.ctid,
                type: 'lxc' as const,
                name: c.name,
                status: 'running' as const,
                ip: seed.ip,
                config: seed.config,
              };
            }),
          extraStorages: rehearsal?.storages ?? [
            HOMELAB_STORAGE.ctDisks,
            HOMELAB_STORAGE.dataVolumes,
            HOMELAB_STORAGE.bulkData,
          ],
          // Phoenix's template 9000: Ubuntu 24.04 cloud image + qemu-guest-agent + nfs-common, nothing else.
          templateImage: { base: 'ubuntu-24.04-cloud' },
          vms: drPhoenix,
        }),
      ],
      tokens: [{ tokenId: plan.proxmox.tokenId, secret: state.tokenSecret, role: 'admin' }],
      authDelayMs: 200,
      auditLogPath: path.join(stateDir, 'proxmox-audit.jsonl'),
      faults: opts.proxmoxFaults,
      taskDurations: opts.taskDurations,
      defaultTaskMs: opts.defaultTaskMs ?? 300,
      agentDelayMs: opts.agentDelayMs ?? 500,
      cloudInitMs: opts.cloudInitMs ?? 1_500,
      guestSandbox: sandbox,
    });
    stoppers.push(async () => {
      proxmox.saveState(proxmoxStateFile);
      await proxmox.stop();
    });
    events.follow(proxmox.auditLogPath, (line) => {
      const e = JSON.parse(line) as {
        method: string;
        path: string;
        status: number;
        fault?: string;
        upid?: string;
        params?: Record<string, unknown>;
      };
      if (e.method === 'GET') return undefined;
      // newid (clone target) and vmid (vzdump) name the guest a call acts on when the path does not: chaos runs count effects per guest.
      const target = {
        ...(e.params?.newid !== undefined ? { newid: Number(e.params.newid) } : {}),
        ...(e.params?.vmid !== undefined ? { vmid: String(e.params.vmid) } : {}),
      };
      return {
        kind: 'proxmox',
        method: e.method,
        path: e.path,
        status: e.status,
        fault: e.fault,
        upid: e.upid,
        ...target,
        effect: e.status < 300 || e.fault === 'lost-response',
      };
    });

    // ── Qdrant: legacy with data; the new one is down until the stack is deployed ─────────────────────────
    const legacyQdrant = await startQdrantSim({
      host: qdrantLegacy.host,
      port: await port('qdrantLegacy', qdrantLegacy.host, 6333),
      ready: 'ready',
      collections: opts.legacyCollections ?? [
        { name: 'vscode_rag', points: 120 },
        { name: 'docs', points: 48 },
      ],
    });
    stoppers.push(() => legacyQdrant.stop());
    const newQdrant = await startQdrantSim({
      host: qdrantNew.host,
      port: await port('qdrantNew', qdrantNew.host, 6333),
      ready: state.deployed ? 'ready' : 'down',
      faults: opts.gatewayFaults?.newDeadThroughGateway ? { deadThroughProxy: true } : undefined,
    });
    stoppers.push(() => newQdrant.stop());

    // ── Portainer (on VM 1001) and its agent (on VM 1002) ─────────────────────────────────────────────────
    // The agent answers on 9001 while its container runs in VM 1002's sandbox (nothing listens on a bare clone).
    const agentPort = await port('agent', agentAt.host, 9001);
    let agent: net.Server | undefined;
    let agentChange = Promise.resolve();
    const reconcileAgent = () => {
      agentChange = agentChange.then(async () => {
        const want = agentVmid !== undefined && sandbox.publishes(agentVmid, 9001);
        if (want && !agent) {
          const server = net.createServer((sock) => sock.end());
          await new Promise<void>((resolve, reject) =>
            server.once('error', reject).listen(agentPort, agentAt.host, () => resolve()),
          ).then(
            () => {
              agent = server;
              events.write({ kind: 'guest-service', vmid: agentVmid, listening: `${agentAt.host}:${agentPort}` });
            },
            (err: Error) => events.write({ kind: 'guest-service', vmid: agentVmid, error: err.message }),
          );
        } else if (!want && agent) {
          const server = agent;
          agent = undefined;
          await new Promise<void>((r) => server.close(() => r()));
        }
      });
    };
    onGuestChange = (vmid) => {
      if (vmid === agentVmid) reconcileAgent();
    };
    reconcileAgent();
    await agentChange;
    stoppers.push(async () => {
      onGuestChange = () => undefined;
      await agentChange;
      const server = agent;
      agent = undefined;
      if (server) await new Promise<void>((r) => server.close(() => r()));
    });
    const agentUrl = `tcp://${agentAt.host}:${agentPort}`;
    const portainer = await startPortainerSim({
      host: portainerAt.host,
      port: await port('portainer', portainerAt.host, 9443),
      apiKeys: [state.portainerApiKey],
      endpoints:
        (opts.portainerMode ?? plan.portainer.mode) === 'api'
          ? []
          : [{ Name: plan.portainer.environmentName, URL: agentUrl }],
      onDeploy: async (stack) => {
        await newQdrant.setReady('ready');
        state.deployed = true;
        saveState();
        events.write({ kind: 'portainer-deploy', stack: stack.Name, endpointId: stack.EndpointId });
      },
    });
    stoppers.push(() => portainer.stop());

    // ── the Proxmox host: a real sshd with `pct` on its PATH ──────────────────────────────────────────────
    // Its key runs only the shipped forced command (deploy/proxmox-host/phoenix-ssh-gate), configured below.
    const binDir = installPctStandin(path.join(dir, 'bin'));
    installPhoenixStandin(binDir);
    const gateDir = path.join(stateDir, 'ssh-gate');
    const sshd = await startSshd({
      dir: path.join(stateDir, 'sshd'),
      listenHost: sshHost,
      port: await port('ssh', sshHost, 22),
      extraPath: [binDir],
      forcedCommand: gateCommand(gateDir).command,
    });
    stoppers.push(() => sshd.stop());

    // ── the gateway: a real nginx with the real site's shape, /qdrant/ routed to the legacy Qdrant ───────────
    const gatewayPort = await port('gateway', gatewayAt.host, 80);
    const gatewayTlsPort = await port('gatewayTls', gatewayAt.host, 443);
    const gatewayPrefix = path.join(dir, 'gateway');
    const others = (opts.otherUpstreams ?? HOMELAB_UPSTREAMS).map((u) => ({
      name: u.name,
      server: mapAddresses(u.server, addressMap),
    }));
    const siteName = path.basename(plan.gateway.siteFile);
    // A rehearsal serves the operator's own site (dump, heredoc or committed file), mapped onto the lab.
    const rehearsed = rehearsal
      ? await prepareRehearsalGateway({
          checkout: rehearsal.checkout,
          phoenixDir: path.resolve(opts.rehearsal!.phoenixDir),
          gatewayCtid: plan.gateway.ctid,
          siteFile: planSrc.gateway.siteFile,
          gatewayDump: opts.rehearsal?.gatewayDump,
          prefix: gatewayPrefix,
          gatewayHost: gatewayAt.host,
          ports: { http: gatewayPort, https: gatewayTlsPort },
          allocPort: (real) => port(`gateway:${real}`, gatewayAt.host, real),
          addressMap,
          serverMap: { [`${qdrantLegacy.host}:${qdrantLegacy.port}`]: `${qdrantLegacy.host}:${legacyQdrant.port}` },
        })
      : undefined;
    if (rehearsed)
      testMappedSite({
        prefix: gatewayPrefix,
        siteName,
        siteText: rehearsed.siteText,
        confD: rehearsed.confD,
        source: rehearsed.source,
      });
    const gateway = await startGatewayNginx({
      prefix: gatewayPrefix,
      listenHost: gatewayAt.host,
      port: gatewayPort,
      siteName,
      siteText:
        rehearsed?.siteText ??
        phoenixGatewaySite({
          listen: `${gatewayAt.host}:${gatewayPort}`,
          tlsListen: `${gatewayAt.host}:${gatewayTlsPort}`,
          certificate: ensureGatewayCertificate(path.join(gatewayPrefix, 'ssl'), 'portainer.phoenix.local'),
          upstreams: withQdrantUpstream(others, `${qdrantLegacy.host}:${legacyQdrant.port}`),
        }),
      confD: rehearsed?.confD,
      eventLogPath: events.file,
      reloadNoop: opts.gatewayFaults?.reloadNoop,
    });
    stoppers.push(() => gateway.stop());
    writeGateConfig(gateDir, {
      ct: plan.gateway.ctid,
      nfsRoot: worldRoot,
      backupDir: gateway.backupDir,
      pidFile: gateway.pidFile,
      errorLog: gateway.errorLog,
      nginx: gateway.nginxCommand,
      pct: [path.join(binDir, 'pct')],
      phoenixVmConfig: path.join(configDir, 'phoenix_vm_configs.json'),
    });

    // ── the lab's own configs: every address and path pointing into this world ────────────────────────────
    const newQdrantUrl = `http://${qdrantNew.host}:${newQdrant.port}`;
    const credentialsEnv = 'PHOENIX_LAB_PORTAINER_API_KEY';
    const labPlan = {
      ...plan,
      name: opts.planName ?? plan.name,
      phoenix: {
        ...(rehearsal ? { dir: rehearsalSourcesCopy(dir, rehearsal.checkout) } : {}),
        vmConfigs: 'phoenix_vm_configs.json',
        lxcConfigs: 'phoenix_lxc_configs.json',
      },
      proxmox: {
        ...plan.proxmox,
        apiUrl: proxmox.url,
        tls: { fingerprint: proxmox.fingerprint },
        tokenSecret: { env: 'PHOENIX_PVE_TOKEN_SECRET' },
        requestTimeoutMs: 15_000,
      },
      proxmoxHost: {
        host: sshHost,
        port: sshd.port,
        user: sshd.user,
        hostKey: { fingerprint: sshd.hostKeyFingerprint },
        privateKeyPathEnv: 'PHOENIX_SSH_KEY',
        commandTimeoutMs: 60_000,
      },
      cloudInit: undefined,
      gateway: {
        ...plan.gateway,
        siteFile: gateway.siteFile,
        newServers: [`${qdrantNew.host}:${newQdrant.port}`],
        nginxCommand: gateway.nginxCommand,
        backupDir: gateway.backupDir,
        lockFile: gateway.lockFile,
        pidFile: gateway.pidFile,
        errorLog: gateway.errorLog,
      },
      qdrant: {
        ...plan.qdrant,
        gatewayUrl: `http://${gatewayAt.host}:${gatewayPort}/qdrant`,
        newUrl: newQdrantUrl,
        legacyUrl: `http://${qdrantLegacy.host}:${legacyQdrant.port}`,
        expectedCollections: opts.expectedCollections ?? plan.qdrant.expectedCollections ?? [],
        data: { mode: opts.dataMode ?? plan.qdrant.data?.mode ?? 'none' },
      },
      portainer: {
        ...plan.portainer,
        mode: opts.portainerMode ?? plan.portainer.mode,
        url: portainer.url,
        // Portainer makes a new self-signed certificate at first start, as the simulator does at every start.
        tls: { insecure: true },
        agentUrl,
        ...(opts.portainerCredentials === false ? {} : { credentials: { apiKey: { env: credentialsEnv } } }),
      },
      ...(opts.provisioner ? { provisioner: opts.provisioner } : {}),
      // The lab's copy of Phoenix's VM config (addresses mapped like the plan's) is what the gate lets preflight read.
      provisioning: { ...plan.provisioning, phoenixVmConfig: path.join(configDir, 'phoenix_vm_configs.json') },
      approvals: { decommission: opts.approvals ?? true },
      durations: { ...DEFAULT_DURATIONS, ...opts.durations },
      ...(opts.notifyWebhookUrlEnv ? { notify: { webhookUrlEnv: opts.notifyWebhookUrlEnv } } : {}),
    };
    delete (labPlan as Record<string, unknown>).cloudInit;
    const planPath = path.join(configDir, 'plan.json');
    fs.writeFileSync(path.join(configDir, 'phoenix_vm_configs.json'), JSON.stringify(vmConfigs, null, 4));
    fs.writeFileSync(path.join(configDir, 'phoenix_lxc_configs.json'), JSON.stringify(lxcConfigs, null, 4));
    fs.writeFileSync(planPath, JSON.stringify(labPlan, null, 2));
    saveState();

    const resolved = loadAndResolvePlan(planPath);
    if (!resolved.ok) {
      throw new Error(
        `the lab's own plan does not validate (a lab bug):\n${resolved.problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
      );
    }
    for (const f of resolved.plan.composeFiles) events.watchFile(f.hostPath);

    const workerEnv = {
      PHOENIX_PVE_TOKEN_SECRET: state.tokenSecret,
      PHOENIX_SSH_KEY: sshd.userKeyPath,
      [credentialsEnv]: state.portainerApiKey,
    };

    const deployStack = async (): Promise<string> => {
      const p = resolved.plan.portainer;
      const file = resolved.plan.composeFiles[p.composeFileIndex];
      // What the person does in Portainer's UI: the compose file Phase 2 put on the share, pasted into the web editor.
      const content = fs.readFileSync(file.hostPath, 'utf8');
      const dispatcher = dispatcherFor(p.tls);
      const client = new PortainerClient({
        url: p.url,
        auth: { apiKey: state.portainerApiKey },
        timeoutMs: 10_000,
        dispatcher,
      });
      try {
        const [env] = await client.listEndpoints({ name: p.environmentName });
        if (!env) throw new Error(`Portainer has no environment "${p.environmentName}"`);
        const existing = (await client.listStacks(env.Id)).find((s) => s.Name === p.stackName);
        if (existing) return `stack ${p.stackName} already deployed on ${p.environmentName}`;
        await client.createStandaloneStackFromString(env.Id, p.stackName, content);
        return `deployed stack ${p.stackName} on ${p.environmentName} from ${file.guestPath}`;
      } finally {
        await dispatcher.close();
      }
    };

    // Portainer's own database is not kept between lab starts: redeploy what a person had deployed.
    if (state.deployed && resolved.plan.portainer.mode === 'manual') await deployStack().catch(() => undefined);

    return {
      dir,
      planPath,
      plan: resolved.plan,
      digest: resolved.digest,
      addressMap,
      workerEnv,
      events,
      auditLogPath: proxmox.auditLogPath,
      proxmox,
      legacyQdrant,
      newQdrant,
      portainer,
      sshd,
      gateway,
      guests: sandbox,
      ...(rehearsed ? { gatewaySiteSource: rehearsed.source } : {}),
      ...(rehearsal ? { rehearsalNotes: [...rehearsal.notes, ...(rehearsed?.notes ?? [])] } : {}),
      deployStack,
      stop: async () => {
        events.close();
        for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (err) {
    events.close();
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}

/** `qdrant_service` where the real site declares it: right after `qwen_service` (else last). */
function withQdrantUpstream(others: { name: string; server: string }[], server: string) {
  const list = others.filter((u) => u.name !== 'qdrant_service');
  const at = list.findIndex((u) => u.name === 'qwen_service');
  list.splice(at < 0 ? list.length : at + 1, 0, { name: 'qdrant_service', server });
  return list;
}

/**
 * A rehearsal's plan names a checkout so the run lists (and with `sources.write` rewrites) Phoenix's gateway sources
 * as it would at home — but a second copy in the lab, never the operator's DIR nor the copy the world is built from.
 */
function rehearsalSourcesCopy(labDir: string, checkout: string): string {
  const copy = path.join(labDir, 'phoenix-sources');
  if (!fs.existsSync(copy)) fs.cpSync(checkout, copy, { recursive: true });
  return copy;
}
