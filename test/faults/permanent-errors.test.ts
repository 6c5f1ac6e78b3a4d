/**
 * Fault matrix (issue 10 §2), permanent errors: a wrong token secret (401), a wrong Proxmox certificate pin, an SSH
 * host-key mismatch and a parameter Proxmox rejects. Trying again cannot fix any of them, so each run must fail at
 * once — on the failing activity's FIRST attempt, non-retryable — with a message that says what to fix, and having
 * changed nothing downstream. (The workflow's retry policy would otherwise spend minutes: 1 s, 2 s, 4 s … × 20.)
 */
import { requireOrSkip } from '../harness/tools';
import { startMigrationWorld, type MigrationWorld } from '../harness/migration-world';
import type { ResolvedPlan } from '../../src/config/resolved-plan';
import { activityOutcomes, driveToEnd, gatewayBackend, planVariant } from './support';
import { FailureType } from '../../src/failure-types';

const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;

/** Far below what the retry policy would spend (1 s, 2 s, 4 s … up to 20 attempts: minutes); generous for a busy machine. */
const AT_ONCE_MS = 15_000;
const WRONG_SECRET_ENV = 'PHOENIX_FAULTS_WRONG_TOKEN_SECRET';

describeIf('fault matrix: permanent errors surface at once', () => {
  let mw: MigrationWorld;
  let n = 0;
  beforeAll(async () => {
    // The worker's environment is read when it starts: the wrong secret sits next to the right one, under its own name.
    process.env[WRONG_SECRET_ENV] = 'not-the-token-secret';
    mw = await startMigrationWorld({ durations: { verifyBudget: '5s', readinessRecheck: '1s' } });
  }, 60_000);
  afterAll(async () => {
    delete process.env[WRONG_SECRET_ENV];
    await mw?.close();
  });

  /** Starts a variant, drives it to its end, and checks the common part: FAILED fast, nothing touched downstream. */
  async function runToFailure(variant: { plan: ResolvedPlan; digest: string }) {
    // The legacy CTs on the node before the run (CT 953 is already gone in the real homelab) must all be there after.
    const present = mw.world.plan.legacyGuests.filter((g) => mw.world.proxmox.guest(g.ctid)).map((g) => g.ctid);
    expect(present.length).toBeGreaterThan(0);
    const started = Date.now();
    const handle = await mw.start({ ...variant, workflowId: `migration-${variant.plan.name}-permanent-${n++}` });
    const result = await driveToEnd(mw, handle);
    const elapsed = Date.now() - started;
    expect(result.state).toBe('FAILED');
    expect(elapsed).toBeLessThan(AT_ONCE_MS);
    // Nothing downstream happened: no gateway change, no legacy CT touched (and, when it stopped in Phase 1, nothing at all).
    const outcomes = await activityOutcomes(handle);
    const ran = new Set(outcomes.map((o) => o.activity));
    for (const later of [
      'cutoverGateway',
      'rollbackGateway',
      'decommissionGuest',
      ...(ran.has('ensureVm') ? [] : ['provisionComposeFiles']),
    ])
      expect(ran).not.toContain(later);
    for (const ctid of present) expect(mw.world.proxmox.guest(ctid)).toBeDefined();
    expect(await gatewayBackend(mw.world)).toBe('legacy');
    return { result, outcomes, failure: result.failure ?? '' };
  }

  /**
   * The activities that failed, all of them Phase 1's reads: the preflight and the legacy CTs' live config are read side
   * by side and both meet the same refusal, in either order in the history (the run reports the preflight's).
   */
  function failedAtOnceInPhase1(outcomes: Awaited<ReturnType<typeof activityOutcomes>>) {
    const failed = outcomes.filter((o) => o.failed);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(['preflight', 'inspectLegacyGuests']).toContain(f.activity);
    return failed;
  }

  it('a wrong API token secret (401): ProxmoxAuth, not retried, names the token and the secret', async () => {
    const variant = planVariant(mw.world, (raw) => {
      raw.proxmox.tokenSecret = { env: WRONG_SECRET_ENV };
    });
    const { outcomes, failure } = await runToFailure(variant);
    expect(outcomes.find((o) => o.activity === 'preflight')).toMatchObject({ failed: true });
    for (const failed of failedAtOnceInPhase1(outcomes))
      expect(failed).toMatchObject({ attempt: 1, failureType: FailureType.ProxmoxAuth, nonRetryable: true });
    expect(failure).toMatch(/401/);
    expect(failure).toMatch(
      new RegExp(`token ${mw.world.plan.proxmox.tokenId.replace(/[!@]/g, '.')}.*${WRONG_SECRET_ENV}.*was not accepted`),
    );
    expect(failure).not.toContain('not-the-token-secret');
  }, 60_000);

  it('a wrong Proxmox certificate pin: TLS refused, not retried, says which plan field to fix', async () => {
    const wrong = mw.world.proxmox.fingerprint
      .split(':')
      .map((b, i) => (i === 0 ? (b === '00' ? '01' : '00') : b))
      .join(':');
    const variant = planVariant(mw.world, (raw) => {
      raw.proxmox.tls = { fingerprint: wrong };
    });
    const { outcomes, failure } = await runToFailure(variant);
    expect(outcomes.find((o) => o.activity === 'preflight')).toMatchObject({ failed: true });
    for (const failed of failedAtOnceInPhase1(outcomes)) {
      expect(failed).toMatchObject({ attempt: 1, nonRetryable: true });
      expect(failed.failureType).toMatch(/^(ProxmoxTls|TlsPinMismatch)$/);
    }
    expect(failure).toMatch(/fingerprint/i);
    expect(failure).toContain('proxmox.tls.fingerprint');
    expect(failure).toContain(mw.world.proxmox.fingerprint);
  }, 60_000);

  it('an SSH host-key mismatch: the preflight refuses the host and says which fingerprint to check', async () => {
    const variant = planVariant(mw.world, (raw) => {
      raw.proxmoxHost.hostKey = { fingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
    });
    const { outcomes, failure } = await runToFailure(variant);
    // The preflight lists every problem at once (it does not throw on the first); the run stops on them, unretried.
    expect(outcomes.filter((o) => o.activity === 'preflight')).toEqual([
      expect.objectContaining({ failed: false, attempt: 1 }),
    ]);
    expect(failure).toMatch(/Preflight found \d+ problem/);
    expect(failure).toMatch(/host key/i);
    expect(failure).toContain(mw.world.sshd.hostKeyFingerprint);
    expect(failure).toContain('hostKey.fingerprint');
  }, 60_000);

  it('a parameter Proxmox rejects (400 on clone): ProxmoxInvalid, not retried, names the parameter', async () => {
    // A VM name Proxmox refuses (not a DNS name). The plan validator would catch this one; the point here is what the
    // run does when the API says 400, so the resolved plan is changed after validation.
    const base = planVariant(mw.world, () => undefined);
    const plan = { ...base.plan, vms: base.plan.vms.map((v) => (v.vmid === 1002 ? { ...v, name: 'Dr_Phoenix' } : v)) };
    const { outcomes, failure } = await runToFailure({ plan, digest: base.digest });
    const failed = outcomes.filter((o) => o.failed);
    expect(failed).toEqual([
      expect.objectContaining({
        activity: 'ensureVm',
        attempt: 1,
        failureType: FailureType.ProxmoxInvalid,
        nonRetryable: true,
      }),
    ]);
    expect(failure).toMatch(/400/);
    expect(failure).toMatch(/name/);
    // Nothing was cloned for the refused VM.
    expect(mw.world.proxmox.guest(1002)).toBeUndefined();
  }, 60_000);
});
