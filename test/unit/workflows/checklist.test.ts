/** The Web UI checklist (pure): rendered from the status model, flat Markdown the Temporal UI shows as it is meant. */
import { formatRemaining } from '../../../src/workflows/text';
import { renderChecklist } from '../../../src/workflows/checklist';
import { newStatus, StatusBoard, type MigrationStatus } from '../../../src/workflows/status';

function boardAt(iso = '2026-12-01T10:00:00.000Z') {
  let now = new Date(iso);
  const published: { markdown: string; phaseChanged: boolean }[] = [];
  const board = new StatusBoard(
    newStatus({
      planName: 'qdrant-to-dr-phoenix',
      planDigest: 'abcdef0123456789'.repeat(4),
      workflowId: 'migration-x',
      dryRun: false,
    }),
    () => now,
    (status: MigrationStatus, phaseChanged: boolean) =>
      published.push({ markdown: renderChecklist(status), phaseChanged }),
  );
  return { board, published, later: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('renderChecklist', () => {
  it('before anything ran: the title, five pending phases, the plan digest', () => {
    const { board } = boardAt();
    expect(renderChecklist(board.status)).toBe(
      [
        '### Migration `qdrant-to-dr-phoenix` — Not started',
        '',
        '**1. Declarative Configuration**',
        '',
        '**2. Orchestrator and File Preparation**',
        '',
        '**3. Infrastructure Provisioning**',
        '',
        '**4. Application Deployment and Cutover**',
        '',
        '**5. Verification and Decommissioning**',
        '',
        'Plan digest: `abcdef012345`',
      ].join('\n'),
    );
  });

  it('marks phases and steps by state; an error wins over the detail', () => {
    const { board } = boardAt();
    board.startPhase('Declarative Configuration');
    board.endStep('preflight on live state', 'done', '12 checks passed');
    board.startPhase('Infrastructure Provisioning');
    board.endStep('VM 1002 Dr-Phoenix', 'failed', 'cloning', 'storage full');
    board.startStep('VM 1001 Portainer');
    const md = renderChecklist(board.status);
    expect(md).toContain('**1. Declarative Configuration** ✅\n\n- [x] preflight on live state — 12 checks passed');
    expect(md).toContain(
      '**3. Infrastructure Provisioning** ⏳\n\n- [ ] ❌ failed — VM 1002 Dr-Phoenix — storage full\n- [ ] ⏳ running — VM 1001 Portainer',
    );
    expect(md).toContain('**2. Orchestrator and File Preparation**\n');
  });

  it('a wait shows what to do, the open items, the command, and the reminders sent', () => {
    const { board, later } = boardAt();
    board.startPhase('Application Deployment and Cutover');
    board.setStepWaiting('Portainer deploy', 'waiting for the manual deploy');
    board.wait('portainer-deploy', 'Deploy the stack in Portainer, then confirm.', ['stack qdrant', 'env Dr-Phoenix']);
    later(3_600_000);
    board.remind();
    board.remind();
    const md = renderChecklist(board.status);
    expect(md).toContain(
      [
        '**✋ Waiting for a person:** Deploy the stack in Portainer, then confirm.',
        '- stack qdrant',
        '- env Dr-Phoenix',
        '',
        'Continue with: `phoenix-migrate confirm-portainer --id migration-x`',
        '',
        '_Waiting since 2026-12-01T10:00:00.000Z; 2 reminder(s) sent._',
      ].join('\n'),
    );
    expect(md).toContain('- [ ] ✋ waiting — Portainer deploy — waiting for the manual deploy');
  });

  it('the end: the outcome with its reason, and each change on one line', () => {
    const { board } = boardAt();
    board.startPhase('Verification and Decommissioning');
    board.endStep('decommission CT 950 vllm-embed', 'skipped', 'kept');
    board.finishPhases('aborted', 'aborted by alice');
    board.status.changes = ['nginx upstream qdrant_service: a → b\n--- diff\n+++ diff', 'CT 951: deleted'];
    const md = renderChecklist(board.status);
    expect(md).toMatch(
      /^### Migration `qdrant-to-dr-phoenix` — Finished\n\n\*\*Outcome: aborted\*\* — aborted by alice\n/,
    );
    expect(md).toContain(
      '**5. Verification and Decommissioning** ❌\n\n- [x] (skipped) decommission CT 950 vllm-embed — kept',
    );
    expect(md).toContain('**Changes made:**\n- nginx upstream qdrant_service: a → b\n- CT 951: deleted\n');
    expect(md).not.toContain('--- diff');
  });

  it('is flat: no numbered list items and no nested lists (the Web UI does not render lists nested in them)', () => {
    const { board } = boardAt();
    for (const phase of board.status.phases) {
      board.startPhase(phase.name);
      board.endStep(`a step of ${phase.name}`, 'done', 'ok');
    }
    board.wait('decommission-approval', 'Approve.', ['delete CT 950']);
    for (const line of renderChecklist(board.status).split('\n')) {
      expect(line).not.toMatch(/^\d+\.\s/);
      expect(line).not.toMatch(/^\s+[-*]\s/);
    }
  });

  it('a dry run says so in the title', () => {
    const board = new StatusBoard(
      newStatus({ planName: 'p', planDigest: '0'.repeat(64), workflowId: 'w', dryRun: true }),
      () => new Date(0),
    );
    expect(renderChecklist(board.status).split('\n')[0]).toBe('### Dry run `p` — Not started');
  });
});

describe('the status board publishes itself', () => {
  it('every change reaches the listener with the checklist as it now reads; phaseChanged only when the phase moves', () => {
    const { board, published } = boardAt();
    board.startPhase('Declarative Configuration');
    board.startStep('preflight on live state');
    board.endStep('preflight on live state', 'done', 'ok');
    board.startPhase('Declarative Configuration');
    board.wait('readiness', 'Fix these.', ['docker']);
    board.remind();
    board.stopWaiting();
    board.finishPhases('completed');
    expect(published.map((p) => p.phaseChanged)).toEqual([true, false, false, false, false, false, false, true]);
    expect(published.map((p) => p.markdown.split('\n')[0])).toEqual([
      ...Array(7).fill('### Migration `qdrant-to-dr-phoenix` — Declarative Configuration'),
      '### Migration `qdrant-to-dr-phoenix` — Finished',
    ]);
    expect(published[1].markdown).toContain('- [ ] ⏳ running — preflight on live state');
    expect(published[2].markdown).toContain('- [x] preflight on live state — ok');
    expect(published[4].markdown).toContain('**✋ Waiting for a person:** Fix these.');
    expect(published[6].markdown).not.toContain('Waiting for a person');
  });
});

describe('formatRemaining', () => {
  it('says a time left the way people read it, whatever milliseconds the workflow clock carries', () => {
    expect(formatRemaining(17_999_988)).toBe('5h');
    expect(formatRemaining(4 * 3_600_000 + 59 * 60_000 + 400)).toBe('4h 59m');
    expect(formatRemaining(12 * 60_000 + 30_000)).toBe('12m 30s');
    expect(formatRemaining(45_200)).toBe('45s');
    expect(formatRemaining(-5)).toBe('0s');
  });
});
