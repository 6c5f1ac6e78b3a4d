/**
 * The Proxmox client against the simulator over real HTTPS: trust modes, auth failures, the envelope,
 * parameter errors, tasks and the guest agent.
 */
import {
  agentInfo,
  createProxmoxApi,
  guestExec,
  isRetryable,
  parseUpid,
  waitForTask,
  type ProxmoxApi,
} from '../../../src/proxmox';
import type { TlsTrust } from '../../../src/config/resolved-plan';
import { seedFromPhoenixWorld, startProxmoxSim, type ProxmoxSim } from '../../../src/lab/proxmox-sim';

let sim: ProxmoxSim;
const clients: ProxmoxApi[] = [];

function client(
  overrides: {
    tls?: TlsTrust;
    tokenId?: string;
    tokenSecret?: string;
    bodyEncoding?: 'form' | 'json';
    warn?: (m: string) => void;
  } = {},
) {
  const api = createProxmoxApi({
    apiUrl: sim.url,
    tls: overrides.tls ?? { mode: 'fingerprint', sha256: sim.fingerprint },
    tokenId: overrides.tokenId ?? sim.tokenId,
    tokenSecret: overrides.tokenSecret ?? sim.tokenSecret,
    requestTimeoutMs: 10_000,
    bodyEncoding: overrides.bodyEncoding,
    warn: overrides.warn,
  });
  clients.push(api);
  return api;
}

async function failureOf(p: Promise<unknown>): Promise<Record<string, unknown> & { message: string }> {
  try {
    await p;
  } catch (err) {
    return err as Record<string, unknown> & { message: string };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  sim = await startProxmoxSim({
    worlds: [
      seedFromPhoenixWorld({
        exec: [{ argv: ['docker', 'info'], exitcode: 1, stderr: 'Cannot connect to the Docker daemon' }],
      }),
    ],
    tokens: [
      { tokenId: 'root@pam!phoenix', secret: 'good-secret-1', role: 'admin' },
      { tokenId: 'audit@pve!ro', secret: 'ro-secret', role: 'audit' },
    ],
    authDelayMs: 50,
    defaultTaskMs: 30,
    agentDelayMs: 0,
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim.stop();
});

describe('TLS trust', () => {
  it('accepts the pinned fingerprint and reads the envelope', async () => {
    const nodes = await client().cluster.nodes();
    expect(nodes.map((n) => n.node)).toEqual(['pve']);
  });

  it('accepts the cluster CA file', async () => {
    const version = await client({ tls: { mode: 'ca', caFile: sim.caFile } }).get<{ version: string }>('/version');
    expect(version.version).toMatch(/^8\./);
  });

  it('fails fast and non-retryable on a wrong fingerprint, naming both values, before sending the token', async () => {
    const wrong = sim.fingerprint.replace(/^../, sim.fingerprint.startsWith('AA') ? 'BB' : 'AA');
    const before = sim.audit().length;
    const err = await failureOf(client({ tls: { mode: 'fingerprint', sha256: wrong } }).cluster.nodes());
    expect(err.kind).toBe('tls');
    expect(isRetryable(err)).toBe(false);
    expect(err.message).toContain(sim.fingerprint);
    expect(err.message).toContain(wrong);
    expect(sim.audit().length).toBe(before);
  });

  it('rejects the self-signed chain without a pin or CA', async () => {
    const err = await failureOf(
      client({ tls: { mode: 'ca', caFile: '/etc/ssl/certs/ca-certificates.crt' } }).cluster.nodes(),
    );
    expect(err.kind).toBe('tls');
    expect(isRetryable(err)).toBe(false);
  });

  it('warns at every creation of an insecure client', async () => {
    const warnings: string[] = [];
    client({ tls: { mode: 'insecure' }, warn: (m) => warnings.push(m) });
    const api = client({ tls: { mode: 'insecure' }, warn: (m) => warnings.push(m) });
    await api.cluster.nodes();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/TLS verification is OFF/);
  });
});

describe('auth and permissions', () => {
  it('401 is auth, non-retryable, names the token and never the secret', async () => {
    const err = await failureOf(client({ tokenSecret: 'wrong-secret' }).cluster.nodes());
    expect(err.kind).toBe('auth');
    expect(err.status).toBe(401);
    expect(isRetryable(err)).toBe(false);
    expect(err.message).toContain('root@pam!phoenix');
    expect(err.message).not.toContain('wrong-secret');
  });

  it('403 is permission, non-retryable, with the ACL path and privilege', async () => {
    const err = await failureOf(client({ tokenId: 'audit@pve!ro', tokenSecret: 'ro-secret' }).lxc.destroy('pve', 950));
    expect(err.kind).toBe('permission');
    expect(isRetryable(err)).toBe(false);
    expect(err.message).toContain('Permission check failed (/vms/950, VM.Allocate)');
  });

  it('never writes the token into the audit log', () => {
    const text = JSON.stringify(sim.audit());
    expect(text).not.toContain('good-secret-1');
    expect(text).not.toContain('PVEAPIToken');
  });
});

describe('errors, envelope and parameters', () => {
  it('classifies a missing guest as not-found', async () => {
    const err = await failureOf(client().qemu.config('pve', 4242));
    expect(err.kind).toBe('not-found');
    expect(err.message).toContain(`Configuration file 'nodes/pve/qemu-server/4242.conf' does not exist`);
  });

  it('reports unknown and missing parameters like PVE', async () => {
    const api = client();
    const unknown = await failureOf(api.put('/nodes/pve/qemu/9000/config', { colour: 'blue' }));
    expect(unknown.kind).toBe('invalid');
    expect(unknown.reason).toBe('Parameter verification failed.');
    expect((unknown.errors as Record<string, string>).colour).toBe(
      'property is not defined in schema and the schema does not allow additional properties',
    );
    const missing = await failureOf(api.post('/nodes/pve/qemu/9000/clone', {}));
    expect((missing.errors as Record<string, string>).newid).toBe('property is missing and it is not optional');
  });

  it('answers "taken" for a used vmid through nextid', async () => {
    const api = client();
    await expect(api.cluster.vmidIsFree(950)).resolves.toBe(false);
    await expect(api.cluster.vmidIsFree(1002)).resolves.toBe(true);
  });
});

describe('sshkeys encoding on the wire', () => {
  const keys = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFoo op@laptop\nssh-rsa AAAAB3Nza+/= ci@runner';
  for (const bodyEncoding of ['form', 'json'] as const) {
    it(`stores the percent-encoded keys exactly once encoded (${bodyEncoding} body)`, async () => {
      const { encodeSshKeys, decodeSshKeys } = await import('../../../src/proxmox');
      const api = client({ bodyEncoding });
      await api.qemu.setConfig('pve', 9000, { sshkeys: encodeSshKeys(keys) });
      const stored = String((await api.qemu.config('pve', 9000)).sshkeys);
      expect(stored).toBe(encodeURIComponent(keys));
      expect(stored).not.toMatch(/[ \n]/);
      expect(decodeSshKeys(stored)).toEqual(keys.split('\n'));
    });
  }

  it('is refused with a raw newline', async () => {
    const err = await failureOf(client({ bodyEncoding: 'json' }).qemu.setConfig('pve', 9000, { sshkeys: keys }));
    expect(err.kind).toBe('invalid');
    expect(JSON.stringify(err.errors)).toContain('sshkeys');
  });
});

describe('tasks and guest agent', () => {
  it('clones, waits for the task with heartbeats, and reads the log', async () => {
    const api = client();
    const upid = await api.qemu.clone('pve', 9000, { newid: 700, name: 'probe', full: true, storage: 'local-lvm' });
    expect(parseUpid(upid)).toMatchObject({ node: 'pve', type: 'qmclone', id: '9000', user: 'root@pam!phoenix' });
    const beats: number[] = [];
    const result = await waitForTask(api, upid, { heartbeat: (p) => beats.push(p.polls), minIntervalMs: 20 });
    expect(result.exitstatus).toBe('OK');
    expect(result.logTail.at(-1)).toBe('TASK OK');
    expect(beats.length).toBeGreaterThan(0);
  });

  it('puts the exit status and log tail in the error of a failed task', async () => {
    const api = client();
    const upid = await api.qemu.resize('pve', 700, 'scsi0', '8G');
    const err = await failureOf(waitForTask(api, upid!, { minIntervalMs: 20 }));
    expect(err.message).toContain('shrinking disks is not supported');
    expect((err.task as { logTail: string[] }).logTail.at(-1)).toBe('TASK ERROR: shrinking disks is not supported');
  });

  it('asks a guest agent that does not answer once (its caller polls), where other reads are tried again', async () => {
    const api = client();
    const agentCalls = () => sim.audit().filter((a) => a.path.endsWith('/qemu/700/agent/info')).length;
    const before = agentCalls();
    const err = await failureOf(agentInfo(api, 'pve', 700));
    expect(isRetryable(err)).toBe(true);
    expect(agentCalls() - before).toBe(1);
    // The same read through the client's default: the 500 is tried again three times (200, 400, 800 ms apart).
    await failureOf(api.get('/nodes/pve/qemu/700/agent/info'));
    expect(agentCalls() - before).toBe(5);
  });

  it('runs a command through the guest agent', async () => {
    const api = client();
    await waitForTask(api, await api.qemu.start('pve', 700), { minIntervalMs: 20 });
    const ok = await guestExec(api, 'pve', 700, ['uname', '-a'], { timeoutMs: 5_000 });
    expect(ok.exitcode).toBe(0);
    const docker = await guestExec(api, 'pve', 700, ['docker', 'info'], { timeoutMs: 5_000 });
    expect(docker).toEqual({ exitcode: 1, stdout: '', stderr: 'Cannot connect to the Docker daemon' });
  });
});
