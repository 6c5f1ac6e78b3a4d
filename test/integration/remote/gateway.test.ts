import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGatewayActivities } from '../../../src/activities/gateway';
import type { GatewaySettings } from '../../../src/config/resolved-plan';
import { readUpstreams } from '../../../src/nginx/upstream';
import { gatewaySettings, startNginx, type NginxHandle } from '../../harness/nginx';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { pctStandinDir } from '../../harness/pct';
import { requireOrSkip } from '../../harness/tools';
import { FailureType } from '../../../src/failure-types';

const describeIf = requireOrSkip('sshd', 'nginx', 'flock', 'ssh-keygen') ? describe : describe.skip;
const PCT_DIR = pctStandinDir();

const settings = gatewaySettings;

/** GET through the gateway on a fresh connection; resolves with the backend label or an error text. */
function probe(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () =>
        resolve(res.statusCode === 200 ? (JSON.parse(body) as { backend: string }).backend : `HTTP ${res.statusCode}`),
      );
    });
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** After a reload the old worker may answer a few more requests; ask until `want` answers (bounded). */
async function probeUntil(url: string, want: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 200 && last !== want; i++) {
    last = await probe(url);
    if (last !== want) await new Promise((r) => setTimeout(r, 25));
  }
  return last;
}

async function failureOf(p: Promise<unknown>): Promise<{ type?: string; nonRetryable?: boolean; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { type?: string; nonRetryable?: boolean; message: string };
  }
  throw new Error('expected a failure');
}

function run<P, R>(fn: (input: P) => Promise<R>, input: P): Promise<R> {
  return new MockActivityEnvironment().run(fn, input) as Promise<R>;
}

describeIf('gateway cutover against real nginx over real SSH', () => {
  let sshd: SshdHandle;
  let ng: NginxHandle;
  let acts: ReturnType<typeof createGatewayActivities>;
  const pctLog = () => join(sshd.dir, 'pct.log');

  beforeAll(async () => {
    sshd = await startSshd({ extraPath: [PCT_DIR] });
    acts = createGatewayActivities({ env: sshd.env, verifyBudgetMs: 5000, verifyIntervalMs: 100 });
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  beforeEach(async () => {
    ng = await startNginx();
  });
  afterEach(async () => {
    await ng?.stop();
  });

  const viaSsh = (): GatewaySettings['access'] => ({ via: 'ssh', ssh: sshd.endpoint() });

  it('moves traffic to the new backend with zero failed requests while a client loops through the reload', async () => {
    const gateway = settings(ng, viaSsh());
    const before = lstatSync(ng.siteFile);
    expect(before.isSymbolicLink()).toBe(true);
    const originalText = readFileSync(ng.realSiteFile, 'utf8');

    const seen: string[] = [];
    let looping = true;
    const loop = (async () => {
      while (looping) seen.push(await probe(`${ng.url}/qdrant/readyz`));
    })();
    while (!seen.includes('old')) await new Promise((r) => setTimeout(r, 20));

    const result = await run(acts.cutoverGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
      verifyUrl: `${ng.url}/qdrant/readyz`,
    });
    // nginx's master lets the old worker accept for a moment (~100 ms) after starting the new one: wait until
    // only the new backend answers, 20 requests in a row
    while (seen.length < 20 || seen.slice(-20).some((s) => s !== 'new')) await new Promise((r) => setTimeout(r, 20));
    looping = false;
    await loop;

    expect(result).toEqual({
      previousServers: [ng.oldBackend.address],
      previousKnown: true,
      backupPath: expect.stringContaining(ng.backupDir),
      changed: true,
      upstreamBefore: `upstream qdrant_service { server ${ng.oldBackend.address}; }`,
      upstreamAfter: `upstream qdrant_service { server ${ng.newBackend.address}; }`,
      // nginx's master really started new workers, and logged nothing alarming
      reload: { taken: true, detail: expect.stringMatching(/^taken \(master \d+ started workers/), logLines: [] },
    });
    expect(seen.filter((s) => s !== 'old' && s !== 'new')).toEqual([]);
    expect(seen.lastIndexOf('old')).toBeLessThan(seen.length - 20);

    // the sites-enabled entry is still a symlink, the real file kept its mode, only the server line changed
    expect(lstatSync(ng.siteFile).isSymbolicLink()).toBe(true);
    expect(statSync(ng.realSiteFile).mode & 0o777).toBe(0o640);
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(
      originalText.replace(`server ${ng.oldBackend.address};`, `server ${ng.newBackend.address};`),
    );
    expect(readdirSync(join(ng.prefix, 'sites-available'))).toEqual(['phoenix-gateway']);
    // the backup lives outside anything nginx includes and holds the old text
    expect(result.backupPath?.startsWith(`${ng.backupDir}/`)).toBe(true);
    expect(readFileSync(result.backupPath as string, 'utf8')).toBe(originalText);

    // the response was lost: the retry changes nothing and still knows what to roll back to
    const retry = await run(acts.cutoverGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
      verifyUrl: `${ng.url}/qdrant/readyz`,
    });
    const { reload: _reload, ...withoutReload } = result;
    expect(retry).toEqual({ ...withoutReload, changed: false });
    expect(readdirSync(ng.backupDir).filter((f) => f.endsWith('.bak'))).toHaveLength(1);

    // rollback puts the old server back (only because it still shows the new one), then is a no-op
    const rb = await run(acts.rollbackGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
      previousServers: result.previousServers,
      verifyUrl: `${ng.url}/qdrant/readyz`,
    });
    expect(rb).toMatchObject({ changed: true, outcome: 'restored', reload: { taken: true } });
    expect(await probeUntil(`${ng.url}/qdrant/readyz`, 'old')).toBe('old');
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(originalText);
    const again = await run(acts.rollbackGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
      previousServers: result.previousServers,
    });
    expect(again).toEqual({
      changed: false,
      outcome: 'already',
      reason: expect.stringContaining('already as it was before the cutover'),
    });
  });

  it('a dry run shows the diff, preflights, and changes nothing', async () => {
    const gateway = settings(ng, viaSsh());
    const text = readFileSync(ng.realSiteFile, 'utf8');
    const r = await run(acts.cutoverGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
      verifyUrl: `${ng.url}/qdrant/readyz`,
      dryRun: true,
    });
    expect(r.changed).toBe(true);
    expect(r.diff).toContain(`-upstream qdrant_service { server ${ng.oldBackend.address}; }`);
    expect(r.diff).toContain(`+upstream qdrant_service { server ${ng.newBackend.address}; }`);
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(text);
    expect(readdirSync(ng.backupDir)).toEqual([]);
  });

  it('undoes a rewrite that fails nginx -t; the old backend keeps serving', async () => {
    const gateway = { ...settings(ng, viaSsh()), newServers: ['no-such-host.invalid:6333'] };
    const text = readFileSync(ng.realSiteFile, 'utf8');
    const failure = await failureOf(
      run(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway, verifyUrl: `${ng.url}/qdrant/readyz` }),
    );
    expect(failure.type).toBe(FailureType.GatewayConfigRejected);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/host not found in upstream/);
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(text);
    expect(lstatSync(ng.siteFile).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(ng.prefix, 'sites-available'))).toEqual(['phoenix-gateway']);
    expect(await probe(`${ng.url}/qdrant/readyz`)).toBe('old');
  });

  it('refuses to touch a config that already fails nginx -t', async () => {
    const broken = join(ng.prefix, 'conf.d', 'broken.conf');
    writeFileSync(broken, 'this_is_not_a_directive on;\n');
    const gateway = settings(ng, viaSsh());
    const text = readFileSync(ng.realSiteFile, 'utf8');
    const failure = await failureOf(
      run(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway, verifyUrl: `${ng.url}/qdrant/readyz` }),
    );
    expect(failure.type).toBe(FailureType.GatewayPreflightFailed);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/BEFORE any change/);
    expect(failure.message).toMatch(/unknown directive "this_is_not_a_directive"/);
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(text);
    expect(readdirSync(ng.backupDir)).toEqual([]);
    rmSync(broken);
  });

  it('waits on the lock while another change holds it, then never interleaves', async () => {
    const gateway = settings(ng, viaSsh());
    const text = readFileSync(ng.realSiteFile, 'utf8');
    // someone else holds the gateway lock until we close its stdin
    const holder = spawn('flock', [ng.lockFile, 'cat'], { stdio: ['pipe', 'ignore', 'inherit'] });
    await new Promise((r) => setTimeout(r, 200));
    let done = false;
    const cutover = run(acts.cutoverGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
      verifyUrl: `${ng.url}/qdrant/readyz`,
    }).finally(() => (done = true));
    // wait until our write script is running (and so blocked on flock)
    while (!readdirSync('/proc').some((p) => /^\d+$/.test(p) && safeCmdline(p).includes('phoenix-gateway-write')))
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(text);
    holder.stdin.end();
    const result = await cutover;
    expect(result.changed).toBe(true);

    // two cutovers at once: exactly one writes, both report the same previous servers
    await ng.stop();
    ng = await startNginx();
    const g2 = settings(ng, viaSsh());
    const both = await Promise.all(
      [1, 2].map(() =>
        run(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway: g2, verifyUrl: `${ng.url}/qdrant/readyz` }),
      ),
    );
    expect(both.map((r) => r.changed).sort()).toEqual([false, true]);
    expect(both.map((r) => r.previousServers)).toEqual([[ng.oldBackend.address], [ng.oldBackend.address]]);
    expect(readdirSync(ng.backupDir).filter((f) => f.endsWith('.bak'))).toHaveLength(1);
  });

  it('works through `pct exec` on the Proxmox host (pct stand-in on PATH), and readGateway lists upstreams', async () => {
    const log = pctLog();
    const pctSshd = await startSshd({ extraPath: [PCT_DIR], setEnv: { PCT_STANDIN_LOG: log } });
    try {
      const pctActs = createGatewayActivities({ env: pctSshd.env, verifyBudgetMs: 5000, verifyIntervalMs: 100 });
      const gateway = settings(ng, { via: 'pct' });
      const read = await run(pctActs.readGateway, { proxmoxHost: pctSshd.endpoint(), gateway });
      expect(read.realPath).toBe(ng.realSiteFile);
      expect(read.upstreams.map((u) => u.name)).toEqual(['embedding_service', 'qdrant_service', 'n8n_service']);
      expect(read.upstreams).toEqual(readUpstreams(readFileSync(ng.realSiteFile, 'utf8')));

      const result = await run(pctActs.cutoverGateway, {
        proxmoxHost: pctSshd.endpoint(),
        gateway,
        verifyUrl: `${ng.url}/qdrant/readyz`,
      });
      expect(result.changed).toBe(true);
      expect(await probeUntil(`${ng.url}/qdrant/readyz`, 'new')).toBe('new');
      const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      expect(calls.length).toBeGreaterThanOrEqual(3);
      expect(calls.filter((c) => !c.startsWith('exec 101 -- '))).toEqual([]);
      expect(existsSync(join(ng.backupDir, 'qdrant_service.previous'))).toBe(true);
    } finally {
      await pctSshd.stop();
    }
  });
});

function safeCmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
