import {
  classifyHttpFailure,
  classifyTaskFailure,
  encodeForm,
  encodeJson,
  encodeSshKeys,
  decodeSshKeys,
  isRetryable,
  ProxmoxError,
  parseUpid,
  normalizeFingerprint,
} from '../../../src/proxmox';

describe('error classification (by status and message)', () => {
  it.each([
    [401, 'authentication failure', 'auth'],
    [403, 'Permission check failed (/vms/1001, VM.Allocate)', 'permission'],
    [500, "Configuration file 'nodes/pve/qemu-server/1001.conf' does not exist", 'not-found'],
    [500, 'unable to create VM 1001: config file already exists', 'already-exists'],
    [500, 'VM 1001 is locked (clone)', 'locked'],
    [500, "can't lock file '/var/lock/qemu-server/lock-1001.conf' - got timeout", 'locked'],
    [500, 'got no worker upid - start worker failed', 'transient'],
    [503, 'Service Unavailable', 'transient'],
    [595, 'Connection refused', 'transient'],
    [400, 'Parameter verification failed.', 'invalid'],
    [501, "Method 'GET /x' not implemented", 'invalid'],
  ])('%i %s → %s', (status, message, kind) => {
    expect(classifyHttpFailure(status, message)).toBe(kind);
  });

  it('reads parameter errors too (nextid answers "already exists" in errors.vmid)', () => {
    expect(classifyHttpFailure(400, 'Parameter verification failed.', { vmid: 'VM 1002 already exists' })).toBe(
      'already-exists',
    );
    expect(classifyHttpFailure(400, 'Parameter verification failed.', { upid: 'no such task' })).toBe('not-found');
  });

  it('classifies task exit statuses', () => {
    expect(classifyTaskFailure('shrinking disks is not supported')).toBe('invalid');
    expect(classifyTaskFailure("can't lock file '/run/lock/lxc/pve-config-950.lock' - got timeout")).toBe('locked');
    expect(classifyTaskFailure('job errors')).toBe('transient');
  });

  it('decides retries by fields, not class identity', () => {
    expect(isRetryable({ code: 'PROXMOX_ERROR', kind: 'locked' })).toBe(true);
    expect(isRetryable({ code: 'PROXMOX_ERROR', kind: 'auth' })).toBe(false);
    expect(isRetryable(new ProxmoxError('x', { kind: 'transient' }))).toBe(true);
    expect(isRetryable(new Error('ECONNRESET'))).toBe(false);
  });
});

describe('UPID parsing', () => {
  it('parses a token task id', () => {
    expect(parseUpid('UPID:pve:00001A2B:0012EF34:65F0A1B2:qmclone:9000:root@pam!phoenix:')).toEqual({
      upid: 'UPID:pve:00001A2B:0012EF34:65F0A1B2:qmclone:9000:root@pam!phoenix:',
      node: 'pve',
      pid: 0x1a2b,
      pstart: 0x12ef34,
      starttime: 0x65f0a1b2,
      type: 'qmclone',
      id: '9000',
      user: 'root@pam!phoenix',
    });
  });

  it('parses a task without an id (vzdump of several guests)', () => {
    expect(parseUpid('UPID:pve-2:000ABCDE:00AB12CD:6700FF00:vzdump::root@pam:')).toMatchObject({
      node: 'pve-2',
      type: 'vzdump',
      id: '',
    });
  });

  it.each(['', 'UPID:pve:xyz', 'UPID:pve:00001A2B:0012EF34:65F0A1B2:qmclone:9000:root@pam'])(
    'rejects %j as invalid',
    (text) => {
      expect(() => parseUpid(text)).toThrow(expect.objectContaining({ kind: 'invalid' }));
    },
  );
});

describe('sshkeys encoding', () => {
  const keys = 'ssh-ed25519 AAAAC3Nza+/x= op@laptop\r\n\nssh-rsa AAAAB3 ci@runner\n';

  it('percent-encodes spaces as %20 and newlines as %0A, dropping blank lines', () => {
    const encoded = encodeSshKeys(keys);
    expect(encoded).toBe('ssh-ed25519%20AAAAC3Nza%2B%2Fx%3D%20op%40laptop%0Assh-rsa%20AAAAB3%20ci%40runner');
    expect(decodeSshKeys(encoded)).toEqual(['ssh-ed25519 AAAAC3Nza+/x= op@laptop', 'ssh-rsa AAAAB3 ci@runner']);
  });

  it('is form-encoded a second time in a form body', () => {
    const body = encodeForm({ sshkeys: encodeSshKeys('ssh-ed25519 AAAA a@b') }).toString();
    expect(body).toBe('sshkeys=ssh-ed25519%2520AAAA%2520a%2540b');
    expect(new URLSearchParams(body).get('sshkeys')).toBe('ssh-ed25519%20AAAA%20a%40b');
  });

  it('is carried encoded once in a JSON body', () => {
    expect(JSON.parse(encodeJson({ sshkeys: encodeSshKeys('ssh-ed25519 AAAA a@b'), onboot: true }))).toEqual({
      sshkeys: 'ssh-ed25519%20AAAA%20a%40b',
      onboot: 1,
    });
  });

  it('repeats array values as form keys (agent exec command)', () => {
    expect(encodeForm({ command: ['docker', 'info'], skip: undefined, full: false }).toString()).toBe(
      'command=docker&command=info&full=0',
    );
  });
});

describe('fingerprints', () => {
  it('normalizes to colon upper-case hex', () => {
    expect(normalizeFingerprint('ab:cd:ef')).toBe('AB:CD:EF');
    expect(normalizeFingerprint('sha256=abcdef')).toBe('AB:CD:EF');
  });
});
