import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createFileActivities } from '../../../src/activities/files';
import type { ComposeFile } from '../../../src/config/resolved-plan';
import { loadAndResolvePlan } from '../../../src/config';
import { makeWorld } from '../../unit/config/plan-world';
import { startSshd, type SshdHandle } from '../../harness/sshd';
import { requireOrSkip } from '../../harness/tools';
import { FailureType } from '../../../src/failure-types';

const describeIf = requireOrSkip('sshd', 'ssh-keygen') ? describe : describe.skip;

function composeFile(exportDir: string, content: string): ComposeFile {
  return {
    vmid: 1001,
    source: 'qdrant/docker-compose.yml',
    destination: 'qdrant/docker-compose.yml',
    hostPath: join(exportDir, '1001', 'qdrant', 'docker-compose.yml'),
    guestPath: '/persistent-storage/qdrant/docker-compose.yml',
    content,
    sha256: createHash('sha256').update(content).digest('hex'),
  };
}

async function failureOf(p: Promise<unknown>): Promise<{ type?: string; nonRetryable?: boolean; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { type?: string; nonRetryable?: boolean; message: string };
  }
  throw new Error('expected a failure');
}

describeIf('provisionComposeFiles over real SSH', () => {
  let sshd: SshdHandle;
  let exportDir: string;
  beforeAll(async () => {
    sshd = await startSshd();
    exportDir = mkdtempSync(join(tmpdir(), 'phoenix-nfs-export-'));
  });
  afterAll(async () => {
    await sshd?.stop();
    if (exportDir) rmSync(exportDir, { recursive: true, force: true });
  });

  it('creates, then finds unchanged, then updates after the source changes; dry runs write nothing', async () => {
    const { provisionComposeFiles } = createFileActivities({ env: sshd.env });
    const run = (files: ComposeFile[], dryRun = false) =>
      new MockActivityEnvironment().run(provisionComposeFiles, { host: sshd.endpoint(), files, dryRun });
    const v1 = composeFile(exportDir, 'services:\n  qdrant:\n    image: qdrant/qdrant:v1.15.0\n');

    expect(await run([v1], true)).toEqual({ files: [{ hostPath: v1.hostPath, outcome: 'would-create' }] });
    expect(existsSync(v1.hostPath)).toBe(false);

    expect(await run([v1])).toEqual({ files: [{ hostPath: v1.hostPath, outcome: 'created' }] });
    expect(readFileSync(v1.hostPath, 'utf8')).toBe(v1.content);
    expect(statSync(v1.hostPath).mode & 0o777).toBe(0o644);

    // the response was lost and the activity runs again: nothing to do
    expect(await run([v1])).toEqual({ files: [{ hostPath: v1.hostPath, outcome: 'unchanged' }] });

    const v2 = composeFile(exportDir, `${v1.content}    restart: unless-stopped\n`);
    expect(await run([v2], true)).toEqual({ files: [{ hostPath: v2.hostPath, outcome: 'would-update' }] });
    expect(readFileSync(v2.hostPath, 'utf8')).toBe(v1.content);
    expect(await run([v2])).toEqual({ files: [{ hostPath: v2.hostPath, outcome: 'updated' }] });
    expect(readFileSync(v2.hostPath, 'utf8')).toBe(v2.content);
    // no temp files left beside it
    expect(readdirSync(join(exportDir, '1001', 'qdrant'))).toEqual(['docker-compose.yml']);
  });

  it('a compose file saved with a byte-order mark: validate resolves it, and Phase 2 pushes exactly what it resolved', async () => {
    const w = makeWorld({ compose: (text) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]) });
    const resolved = loadAndResolvePlan(w.planPath, { env: {} });
    if (!resolved.ok) throw new Error(JSON.stringify(resolved.problems));
    const file = { ...resolved.plan.composeFiles[0], hostPath: join(exportDir, 'bom', 'docker-compose.yml') };
    const { provisionComposeFiles } = createFileActivities({ env: sshd.env });
    expect(
      await new MockActivityEnvironment().run(provisionComposeFiles, { host: sshd.endpoint(), files: [file] }),
    ).toEqual({ files: [{ hostPath: file.hostPath, outcome: 'created' }] });
    expect(createHash('sha256').update(readFileSync(file.hostPath)).digest('hex')).toBe(file.sha256);
  });

  it('still reports "created" when a retry finds the file written by an attempt whose answer was lost', async () => {
    const { provisionComposeFiles } = createFileActivities({ env: sshd.env });
    const f = composeFile(join(exportDir, 'lost-answer'), 'services:\n  qdrant:\n    image: qdrant/qdrant:v1.15.0\n');
    // First attempt: writes the file (its answer is lost); its last heartbeat said what it was about to write.
    const heartbeats: unknown[] = [];
    const first = new MockActivityEnvironment();
    first.on('heartbeat', (d: unknown) => heartbeats.push(d));
    expect(await first.run(provisionComposeFiles, { host: sshd.endpoint(), files: [f] })).toEqual({
      files: [{ hostPath: f.hostPath, outcome: 'created' }],
    });
    const lastBeat = heartbeats[heartbeats.length - 1];
    expect(lastBeat).toMatchObject({ planned: { [f.hostPath]: { sha256: f.sha256, outcome: 'created' } } });
    // The retry (Temporal hands it the last heartbeat details) finds the file unchanged, yet the change is reported.
    const retry = new MockActivityEnvironment({ heartbeatDetails: lastBeat, attempt: 2 });
    expect(await retry.run(provisionComposeFiles, { host: sshd.endpoint(), files: [f] })).toEqual({
      files: [{ hostPath: f.hostPath, outcome: 'created' }],
    });
    // A later, independent run (no heartbeat details) sees it as it is: unchanged.
    expect(
      await new MockActivityEnvironment().run(provisionComposeFiles, { host: sshd.endpoint(), files: [f] }),
    ).toEqual({ files: [{ hostPath: f.hostPath, outcome: 'unchanged' }] });
  });

  it('refuses a host whose key does not match the plan, non-retryably, showing the seen fingerprint', async () => {
    const { provisionComposeFiles } = createFileActivities({ env: sshd.env });
    const f = composeFile(join(exportDir, 'refused'), 'x: 1\n');
    const failure = await failureOf(
      new MockActivityEnvironment().run(provisionComposeFiles, {
        host: sshd.endpoint({ hostKey: { fingerprint: 'SHA256:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE' } }),
        files: [f],
      }),
    );
    expect({ type: failure.type, message: failure.message }).toEqual({
      type: FailureType.RemoteHostKey,
      message: expect.any(String),
    });
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(sshd.hostKeyFingerprint);
    expect(existsSync(f.hostPath)).toBe(false);
  });

  it('refuses a plan whose content does not match its sha256', async () => {
    const { provisionComposeFiles } = createFileActivities({ env: sshd.env });
    const f = { ...composeFile(exportDir, 'a: 1\n'), content: 'tampered\n' };
    const failure = await failureOf(
      new MockActivityEnvironment().run(provisionComposeFiles, { host: sshd.endpoint(), files: [f] }),
    );
    expect(failure.type).toBe(FailureType.ComposeFileDigestMismatch);
    expect(failure.nonRetryable).toBe(true);
  });
});
