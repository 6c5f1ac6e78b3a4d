import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerTarget, hostTarget, isRetryable, shellQuote, withSsh } from '../../../src/remote';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { pctStandinDir } from '../../harness/pct';
import { expectRemoteError } from '../../harness/remote';
import { requireOrSkip } from '../../harness/tools';

const describeIf = requireOrSkip('sshd', 'ssh-keygen') ? describe : describe.skip;

describeIf('SSH transport against a real sshd', () => {
  let sshd: SshdHandle;
  beforeAll(async () => {
    sshd = await startSshd({ extraPath: [pctStandinDir()] });
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('passes awkward argv through the shell byte for byte (one quoting function)', async () => {
    const nasty = [
      'a b',
      "it's",
      '$(touch /tmp/pwned)',
      '`id`',
      '"q"',
      '; rm -rf /',
      'new\nline',
      '*',
      '',
      '\\',
      '#x',
      'ü',
    ];
    const out = await withSsh(sshd.endpoint(), sshd.env, (s) => s.run(['printf', '%s\\0', ...nasty]));
    expect(out.code).toBe(0);
    expect(out.stdout.split('\0').slice(0, -1)).toEqual(nasty);
    expect(shellQuote(['echo', "it's"])).toBe(`echo 'it'\\''s'`);
  });

  it('reuses one connection for several commands and sends stdin', async () => {
    await withSsh(sshd.endpoint(), sshd.env, async (s) => {
      const a = await s.run(['sh', '-c', 'echo $PPID']);
      const b = await s.run(['cat'], { stdin: 'hello\nworld' });
      const c = await s.run(['sh', '-c', 'exit 7']);
      expect(a.code).toBe(0);
      expect(b.stdout).toBe('hello\nworld');
      expect(c.code).toBe(7);
    });
  });

  it('times out a command that hangs, with kind timeout (retryable)', async () => {
    const err = await expectRemoteError(
      withSsh(sshd.endpoint({ commandTimeoutMs: 300 }), sshd.env, (s) => s.run(['sleep', '30'])),
    );
    expect(err.kind).toBe('timeout');
    expect(isRetryable(err)).toBe(true);
  });

  it('trusts a host listed in a known_hosts file', async () => {
    const out = await withSsh(sshd.endpoint({ hostKey: { knownHostsFile: sshd.knownHostsFile } }), sshd.env, (s) =>
      s.run(['true']),
    );
    expect(out.code).toBe(0);
  });

  it('trusts a hashed known_hosts entry', async () => {
    const hashed = join(sshd.dir, 'known_hosts_hashed');
    execFileSync('cp', [sshd.knownHostsFile, hashed]);
    execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
    const out = await withSsh(sshd.endpoint({ hostKey: { knownHostsFile: hashed } }), sshd.env, (s) => s.run(['true']));
    expect(out.code).toBe(0);
  });

  it('refuses a changed host key (pinned fingerprint differs), non-retryably, naming the seen fingerprint', async () => {
    const err = await expectRemoteError(
      withSsh(
        sshd.endpoint({ hostKey: { fingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } }),
        sshd.env,
        (s) => s.run(['true']),
      ),
    );
    expect(err.kind).toBe('host-key');
    expect(isRetryable(err)).toBe(false);
    expect(err.seenFingerprint).toBe(sshd.hostKeyFingerprint);
    expect(err.message).toContain(sshd.hostKeyFingerprint);
    expect(err.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1 | ssh-keygen -lf -`);
  });

  it('refuses a host missing from known_hosts, and one listed with another key', async () => {
    const empty = join(sshd.dir, 'known_hosts_empty');
    writeFileSync(empty, '# nothing\n');
    const unknown = await expectRemoteError(
      withSsh(sshd.endpoint({ hostKey: { knownHostsFile: empty } }), sshd.env, (s) => s.run(['true'])),
    );
    expect(unknown.kind).toBe('host-key');
    expect(unknown.message).toMatch(/unknown host key/);

    const other = join(sshd.dir, 'known_hosts_other');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshd.dir, 'other_key')]);
    const otherPub = execFileSync('cat', [join(sshd.dir, 'other_key.pub')], { encoding: 'utf8' })
      .split(' ')
      .slice(0, 2)
      .join(' ');
    writeFileSync(other, `[127.0.0.1]:${sshd.port} ${otherPub}\n`);
    const changed = await expectRemoteError(
      withSsh(sshd.endpoint({ hostKey: { knownHostsFile: other } }), sshd.env, (s) => s.run(['true'])),
    );
    expect(changed.kind).toBe('host-key');
    expect(changed.message).toMatch(/CHANGED host key/);
  });

  it('reports a key the server does not accept as kind auth, and a missing key env as auth', async () => {
    const stranger = join(sshd.dir, 'stranger');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const refused = await expectRemoteError(
      withSsh(sshd.endpoint(), { [sshd.keyEnvName]: stranger }, (s) => s.run(['true'])),
    );
    expect(refused.kind).toBe('auth');
    expect(isRetryable(refused)).toBe(false);

    const none = await expectRemoteError(withSsh(sshd.endpoint(), {}, (s) => s.run(['true'])));
    expect(none.kind).toBe('auth');
    expect(none.message).toContain(sshd.keyEnvName);
  });

  it('uses a passphrase from the env var the plan names', async () => {
    const locked = join(sshd.dir, 'locked');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'open sesame', '-f', locked]);
    execFileSync('sh', ['-c', `cat ${locked}.pub >> ${join(sshd.dir, 'authorized_keys')}`]);
    const ep = sshd.endpoint({ passphraseEnv: 'PHOENIX_TEST_PASSPHRASE' });
    const ok = await withSsh(ep, { [sshd.keyEnvName]: locked, PHOENIX_TEST_PASSPHRASE: 'open sesame' }, (s) =>
      s.run(['true']),
    );
    expect(ok.code).toBe(0);
    const wrong = await expectRemoteError(
      withSsh(ep, { [sshd.keyEnvName]: locked, PHOENIX_TEST_PASSPHRASE: 'nope' }, (s) => s.run(['true'])),
    );
    expect(wrong.kind).toBe('auth');
    expect(wrong.message).not.toContain('nope');
  });

  it('reports a closed port as kind connect (retryable)', async () => {
    const err = await expectRemoteError(withSsh(sshd.endpoint({ port: 1 }), sshd.env, (s) => s.run(['true'])));
    expect(err.kind).toBe('connect');
    expect(isRetryable(err)).toBe(true);
  });

  it('reaches a container through pct exec on the Proxmox host (stand-in on PATH)', async () => {
    const out = await withSsh(sshd.endpoint(), sshd.env, async (s) => {
      const ct = containerTarget(s, 101);
      expect(ct.describe).toContain('CT 101');
      const viaPct = await ct.run(['sh', '-c', 'printf "%s|" "$0" "$1"; cat', "a b's", '$HOME'], { stdin: 'in' });
      const direct = await hostTarget(s).run(['sh', '-c', 'command -v pct']);
      return { viaPct, direct };
    });
    expect(out.viaPct.stdout).toBe("a b's|$HOME|in");
    expect(out.direct.stdout.trim()).toMatch(/pct-standin\/pct$/);
  });
});
