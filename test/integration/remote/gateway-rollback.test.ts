/**
 * The gateway's undo and its guards, against a REAL nginx over real SSH: the rollback puts back the upstream block
 * byte for byte (whatever its parameters and host forms), a superseded (zombie) attempt never writes after a
 * rollback, a reload nginx never applied is reported as such, and a failing `nginx -t` after an earlier attempt's
 * write is not reported as "nothing was changed".
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGatewayActivities } from '../../../src/activities/gateway';
import type { GatewaySettings } from '../../../src/config/resolved-plan';
import { gatewaySettings, startNginx, type NginxHandle } from '../../harness/nginx';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { pctStandinDir } from '../../harness/pct';
import { requireOrSkip } from '../../harness/tools';
import { FailureType } from '../../../src/failure-types';

const describeIf = requireOrSkip('sshd', 'nginx', 'flock', 'ssh-keygen') ? describe : describe.skip;

/** The upstream as an operator may have written it: parameters, a port-less standby, comments, keepalive. */
function siteWithParams(listenPort: number, qdrant: string): string {
  return `# Phoenix gateway (test instance)
upstream embedding_service { server 127.0.0.151:18000; }
upstream qdrant_service {
    # legacy Qdrant on CT 952, and a warm standby that listens on port 80
    server ${qdrant} weight=5 max_fails=3 fail_timeout=10s;   # primary
    server 127.0.0.151 backup;
    keepalive 8;
}
upstream n8n_service { server 127.0.0.154:15678 max_fails=2; server 127.0.0.155 down; }

server {
    listen 127.0.0.1:${listenPort};
    server_name _;
    location /qdrant/ { proxy_pass http://qdrant_service/; }
}
`;
}

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
  });
}

async function probeUntil(url: string, want: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 200 && last !== want; i++) {
    last = await probe(url);
    if (last !== want) await new Promise((r) => setTimeout(r, 25));
  }
  return last;
}

/** Runs the activity as attempt `attempt` of one activity execution, scheduled at `scheduledMs` (the fence token). */
function asAttempt<P, R>(fn: (input: P) => Promise<R>, input: P, scheduledMs: number, attempt = 1): Promise<R> {
  const info: Partial<Info> = {
    attempt,
    activityId: 'cutover-1',
    currentAttemptScheduledTimestampMs: scheduledMs,
  };
  return new MockActivityEnvironment(info).run(fn, input) as Promise<R>;
}

async function failureOf(p: Promise<unknown>): Promise<{ type?: string; nonRetryable?: boolean; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { type?: string; nonRetryable?: boolean; message: string };
  }
  throw new Error('expected a failure');
}

describeIf('gateway rollback and guards against real nginx over real SSH', () => {
  let sshd: SshdHandle;
  let ng: NginxHandle | undefined;
  let acts: ReturnType<typeof createGatewayActivities>;

  const settings = (n: NginxHandle): GatewaySettings => gatewaySettings(n, { via: 'pct' });

  beforeAll(async () => {
    sshd = await startSshd({ extraPath: [pctStandinDir()] });
    acts = createGatewayActivities({ env: sshd.env, verifyBudgetMs: 5000, verifyIntervalMs: 100 });
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  afterEach(async () => {
    await ng?.stop();
    ng = undefined;
  });

  it('rollback restores upstreams with backup/weight/max_fails parameters and a port-less host byte for byte', async () => {
    ng = await startNginx({ site: siteWithParams });
    const gateway = settings(ng);
    const original = readFileSync(ng.realSiteFile, 'utf8');
    const cut = await asAttempt(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway }, 1000);
    expect(cut.changed).toBe(true);
    expect(cut.upstreamBefore).toContain('server 127.0.0.151 backup;');
    expect(await probeUntil(`${ng.url}/qdrant/x`, 'new')).toBe('new');
    expect(readFileSync(ng.realSiteFile, 'utf8')).not.toBe(original);

    const rb = await asAttempt(
      acts.rollbackGateway,
      {
        proxmoxHost: sshd.endpoint(),
        gateway,
        previousServers: cut.previousServers,
        upstreamBefore: cut.upstreamBefore,
        upstreamAfter: cut.upstreamAfter,
      },
      2000,
    );
    expect(rb).toMatchObject({ changed: true, outcome: 'restored', reload: { taken: true } });
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(original);
    expect(await probeUntil(`${ng.url}/qdrant/x`, 'old')).toBe('old');

    // without the verbatim record in its input it finds the gateway's own record; a second rollback is a no-op
    const again = await asAttempt(
      acts.rollbackGateway,
      { proxmoxHost: sshd.endpoint(), gateway, previousServers: cut.previousServers },
      3000,
    );
    expect(again).toMatchObject({ changed: false, outcome: 'already' });
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(original);
  });

  it('leaves alone (and says so) an upstream someone changed after the cutover', async () => {
    ng = await startNginx();
    const gateway = settings(ng);
    const cut = await asAttempt(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway }, 1000);
    const edited = readFileSync(ng.realSiteFile, 'utf8').replace(
      `server ${ng.newBackend.address};`,
      `server ${ng.newBackend.address} max_fails=9;`,
    );
    writeFileSync(ng.realSiteFile, edited);
    const rb = await asAttempt(
      acts.rollbackGateway,
      {
        proxmoxHost: sshd.endpoint(),
        gateway,
        previousServers: cut.previousServers,
        upstreamBefore: cut.upstreamBefore,
        upstreamAfter: cut.upstreamAfter,
      },
      2000,
    );
    expect(rb).toMatchObject({ changed: false, outcome: 'left-alone' });
    expect(rb.reason).toMatch(/NOT rolled back/);
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(edited);
  });

  it('a superseded attempt that wakes up after the rollback changes nothing; a newer cutover still can', async () => {
    ng = await startNginx();
    const gateway = settings(ng);
    const original = readFileSync(ng.realSiteFile, 'utf8');
    // attempt 2 (scheduled at 2000) made the change while attempt 1 (scheduled at 1000) stalled
    const cut = await asAttempt(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway }, 2000, 2);
    await asAttempt(
      acts.rollbackGateway,
      {
        proxmoxHost: sshd.endpoint(),
        gateway,
        previousServers: cut.previousServers,
        upstreamBefore: cut.upstreamBefore,
        upstreamAfter: cut.upstreamAfter,
      },
      3000,
    );
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(original);
    const zombie = await failureOf(asAttempt(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway }, 1000, 1));
    expect(zombie.type).toBe(FailureType.GatewayAttemptSuperseded);
    expect(zombie.nonRetryable).toBe(true);
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(original);
    // The rollback's reload replaced nginx's workers; one of the old ones may still answer a moment (CI saw it).
    expect(await probeUntil(`${ng.url}/qdrant/x`, 'old')).toBe('old');
    // the operator's "retry verification" schedules a new cutover: later, so it goes through
    const retry = await asAttempt(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway }, 4000);
    expect(retry.changed).toBe(true);
  });

  it('reports a reload nginx never applied as not taken (the command said 0)', async () => {
    ng = await startNginx({ reloadNoop: 1 });
    const gateway = settings(ng);
    const cut = await asAttempt(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway }, 1000);
    expect(cut.changed).toBe(true);
    expect(cut.reload).toEqual({ taken: false, detail: expect.stringMatching(/^not-taken/), logLines: [] });
    expect(await probe(`${ng.url}/qdrant/x`)).toBe('old');
  });

  it('a failing nginx -t after an earlier attempt wrote the file is reported as a change not reloaded', async () => {
    ng = await startNginx();
    const gateway = settings(ng);
    await asAttempt(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway }, 1000, 1);
    // attempt 1 was cut off after its rename, before the reload was recorded; meanwhile the config broke
    rmSync(join(ng.backupDir, 'qdrant_service.previous.reloaded'));
    writeFileSync(join(ng.prefix, 'conf.d', 'broken.conf'), 'this_is_not_a_directive on;\n');
    const failure = await failureOf(asAttempt(acts.cutoverGateway, { proxmoxHost: sshd.endpoint(), gateway }, 2000, 2));
    expect(failure.type).toBe(FailureType.GatewayConfigRejected);
    expect(failure.message).toMatch(/already holds the cutover .* NOT reloaded/);
    expect(failure.message).not.toMatch(/nothing was changed/);
    expect(readdirSync(ng.backupDir).filter((f) => f.endsWith('.bak'))).toHaveLength(1);
  });
});
