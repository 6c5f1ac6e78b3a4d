/**
 * Cutovers of one site file that queue in one worker are made together (src/activities/gateway-batch.ts), against a
 * real nginx over a real sshd: one backup, one `nginx -t` pair and one reload for all of them, each upstream with its
 * own record and fence — and when the joint change fails, each goes alone and meets its own outcome.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGatewayActivities, type CutoverGatewayResult } from '../../../src/activities/gateway';
import type { GatewaySettings } from '../../../src/config/resolved-plan';
import { FailureType } from '../../../src/failure-types';
import { rewriteUpstream, upstreamBlockText } from '../../../src/nginx/upstream';
import { gatewaySettings, startNginx, type NginxHandle } from '../../harness/nginx';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { requireOrSkip } from '../../harness/tools';

const describeIf = requireOrSkip('sshd', 'nginx', 'flock', 'ssh-keygen') ? describe : describe.skip;

describeIf('cutovers that queue behind a change of the same site file go together', () => {
  let sshd: SshdHandle;
  let ng: NginxHandle;
  let events: string;
  let acts: ReturnType<typeof createGatewayActivities>;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'phoenix-batch-'));
    sshd = await startSshd();
    acts = createGatewayActivities({ env: sshd.env });
  });
  afterAll(async () => {
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    events = join(dir, `events-${Date.now()}.jsonl`);
    ng = await startNginx({ eventLogPath: events });
  });
  afterEach(async () => {
    await ng?.stop();
  });

  const settings = (upstream: string, newServers = [ng.newBackend.address]) =>
    gatewaySettings(ng, { via: 'ssh', ssh: sshd.endpoint() }, upstream, newServers);

  /** One cutover as its own activity execution (its own id: its record names it), scheduled at `scheduledMs`. */
  function cutover(id: string, gateway: GatewaySettings, scheduledMs = 1000): Promise<CutoverGatewayResult> {
    const info: Partial<Info> = { activityId: id, attempt: 1, currentAttemptScheduledTimestampMs: scheduledMs };
    return new MockActivityEnvironment(info).run(acts.cutoverGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway,
    }) as Promise<CutoverGatewayResult>;
  }

  /** Someone else holds the gateway's lock; the first cutover's write waits for it, and the rest queue behind it. */
  async function holdLock(): Promise<ChildProcess> {
    const holder = spawn('flock', [ng.lockFile, 'cat'], { stdio: ['pipe', 'ignore', 'inherit'] });
    await new Promise((r) => setTimeout(r, 200));
    return holder;
  }

  async function untilWriting(): Promise<void> {
    while (!readdirSync('/proc').some((p) => /^\d+$/.test(p) && cmdline(p).includes('phoenix-gateway-write')))
      await new Promise((r) => setTimeout(r, 20));
  }

  const kinds = () =>
    readFileSync(events, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { kind: string }).kind);
  const backups = () => readdirSync(ng.backupDir).filter((f) => f.endsWith('.bak'));
  const block = (upstream: string) => {
    const b = upstreamBlockText(readFileSync(ng.realSiteFile, 'utf8'), upstream);
    if (!b.ok) throw new Error(b.error);
    return b.text;
  };

  it('makes the queued ones as one change with every record, and a rerun of a made one still goes alone', async () => {
    const original = readFileSync(ng.realSiteFile, 'utf8');
    const holder = await holdLock();
    const first = cutover('cut-qdrant', settings('qdrant_service'));
    await untilWriting();
    const queued = [
      cutover('cut-embedding', settings('embedding_service')),
      cutover('cut-n8n', settings('n8n_service')),
      // the same upstream as the first one, again (a second run, or a rerun): it finds it made and goes alone
      cutover('cut-qdrant-again', settings('qdrant_service')),
    ];
    await new Promise((r) => setTimeout(r, 200));
    holder.stdin?.end();
    const [qdrant, embedding, n8n, again] = await Promise.all([first, ...queued]);

    expect(qdrant).toMatchObject({ changed: true, reload: { taken: true } });
    expect(embedding).toMatchObject({
      changed: true,
      previousServers: ['127.0.0.151:18000'],
      upstreamBefore: 'upstream embedding_service { server 127.0.0.151:18000; }',
      upstreamAfter: `upstream embedding_service { server ${ng.newBackend.address}; }`,
      reload: { taken: true },
    });
    expect(n8n).toMatchObject({ changed: true, previousServers: ['127.0.0.154:15678'], reload: { taken: true } });
    expect(n8n.upstreamAfter).toBe(block('n8n_service'));
    expect(n8n.upstreamBefore).toContain('server 127.0.0.154:15678 max_fails=3 fail_timeout=10s; # primary');
    // one change for the two: the same backup, which holds the file as the first cutover left it
    expect(embedding.backupPath).toBe(n8n.backupPath);
    expect(embedding.backupPath).not.toBe(qdrant.backupPath);
    expect(readFileSync(embedding.backupPath as string, 'utf8')).toBe(
      original.replace(`server ${ng.oldBackend.address};`, `server ${ng.newBackend.address};`),
    );
    expect(backups()).toHaveLength(2);
    // the joint change rewrote each block on its own: the same bytes as the two rewrites of the whole file in a row
    const step = (text: string, upstream: string) => {
      const r = rewriteUpstream(text, upstream, [ng.newBackend.address]);
      if (!r.ok) throw new Error(r.error);
      return r.text;
    };
    expect(readFileSync(ng.realSiteFile, 'utf8')).toBe(
      step(step(readFileSync(embedding.backupPath as string, 'utf8'), 'embedding_service'), 'n8n_service'),
    );
    // two changes in all, each: `nginx -t` before and after the rename, one reload; the rerun reloads nothing
    expect(kinds()).toEqual([
      'nginx-test',
      'nginx-test',
      'gateway-reload',
      'nginx-test',
      'nginx-test',
      'gateway-reload',
    ]);
    expect(again).toEqual({ ...qdrant, changed: false, reload: undefined });
    // each upstream has its own record, naming its own activity
    for (const [upstream, id] of [
      ['embedding_service', 'cut-embedding'],
      ['n8n_service', 'cut-n8n'],
    ]) {
      const record = JSON.parse(readFileSync(join(ng.backupDir, `${upstream}.previous`), 'utf8')) as {
        by: string;
        backupPath: string;
      };
      expect(record.by).toMatch(new RegExp(`/${id}$`));
      expect(record.backupPath).toBe(embedding.backupPath);
      expect(readFileSync(join(ng.backupDir, `${upstream}.previous.reloaded`), 'utf8').trim()).toBe(record.backupPath);
    }

    // one of them rolls back alone: its block comes back byte for byte, the others stay as they were cut over
    const rollback = await new MockActivityEnvironment({
      activityId: 'rollback-n8n',
      currentAttemptScheduledTimestampMs: 2000,
    }).run(acts.rollbackGateway, {
      proxmoxHost: sshd.endpoint(),
      gateway: settings('n8n_service'),
      previousServers: n8n.previousServers,
      upstreamBefore: n8n.upstreamBefore,
      upstreamAfter: n8n.upstreamAfter,
    });
    expect(rollback).toMatchObject({ changed: true, outcome: 'restored' });
    expect(block('n8n_service')).toBe(n8n.upstreamBefore);
    expect(block('embedding_service')).toBe(embedding.upstreamAfter);
    expect(block('qdrant_service')).toBe(qdrant.upstreamAfter);
  });

  it('when the joint change fails, each goes alone: a rejected or superseded one fails, the others are made', async () => {
    // a newer attempt already handled embedding_service: this one is a zombie
    writeFileSync(join(ng.backupDir, 'embedding_service.fence'), '5000\n');
    const holder = await holdLock();
    const first = cutover('cut-qdrant', settings('qdrant_service'));
    await untilWriting();
    const zombie = cutover('cut-embedding', settings('embedding_service'), 1000).catch((e: unknown) => e);
    // a server nginx cannot resolve: `nginx -t` rejects the file with it in
    const rejected = cutover('cut-n8n', settings('n8n_service', ['no-such-host.invalid:1'])).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    holder.stdin?.end();
    const qdrant = await first;
    const [zombieFailure, rejectedFailure] = (await Promise.all([zombie, rejected])) as {
      type: string;
      nonRetryable: boolean;
    }[];

    expect(qdrant.changed).toBe(true);
    expect(zombieFailure).toMatchObject({ type: FailureType.GatewayAttemptSuperseded, nonRetryable: true });
    expect(rejectedFailure).toMatchObject({ type: FailureType.GatewayConfigRejected, nonRetryable: true });
    // only the first cutover is on disk; the others changed nothing, and nginx runs the file it was given
    expect(block('embedding_service')).toBe('upstream embedding_service { server 127.0.0.151:18000; }');
    expect(block('n8n_service')).toContain('server 127.0.0.154:15678');
    expect(block('qdrant_service')).toBe(qdrant.upstreamAfter);
    expect(kinds().filter((k) => k === 'gateway-reload')).toHaveLength(1);
  });
});

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
