/**
 * Follows a lab run through its status query: tells the person what to do at each wait, records milestones in the
 * event log, and — with auto-confirm — does the person's part itself (the Portainer step, the confirmation, the
 * approval). Used by `npm run lab`, chaos runs and benchmarks.
 */
import type { Client } from '@temporalio/client';
import {
  approveDecommissionUpdate,
  confirmPortainerDeployUpdate,
  reindexDoneUpdate,
  abortUpdate,
} from '../workflows/messages';
import { memoWaitingFor, queryStatus } from '../temporal/status-query';
import { continueCommandFor } from '../workflows/continue-commands';
import type { MigrationReport } from '../workflows/report';
import { endsByItself, type MigrationStatus } from '../workflows/status';
import type { World } from './world';

export interface DriveOptions {
  client: Client;
  workflowId: string;
  world: World;
  autoConfirm: boolean;
  say(line: string): void;
  /** Extra flags the person's commands need in this lab (`--dir` for a non-default lab, `--address` off 7233). */
  hintFlags?: { dir?: string; address?: string };
  /** Stop following when this resolves (Ctrl-C). */
  interrupted?: Promise<void>;
  pollMs?: number;
}

export interface DriveResult {
  state: string;
  report?: MigrationReport;
  failure?: string;
  status?: MigrationStatus;
  interrupted?: boolean;
}

const by = 'lab-auto-confirm';

export async function driveRun(opts: DriveOptions): Promise<DriveResult> {
  const handle = opts.client.workflow.getHandle(opts.workflowId);
  const { world } = opts;
  let lastWait = '';
  // When auto-confirm first tried each answer: a rejected try is retried at the next look, and counts from the first.
  const firstTry = new Map<string, string>();
  let lastPhase = '';
  const seenSteps = new Set<string>();
  let interrupted = false;
  void opts.interrupted?.then(() => (interrupted = true));
  let status: MigrationStatus | undefined;
  const sayEndedSteps = (now: Pick<MigrationStatus, 'steps'>) => {
    for (const s of now.steps) {
      const key = `${s.name}:${s.status}:${s.endedAt ?? ''}`;
      if ((s.status === 'done' || s.status === 'failed') && !seenSteps.has(key)) {
        seenSteps.add(key);
        opts.say(
          `  ${s.status === 'done' ? '✓' : '✗'} ${s.name}${s.error ? ` — ${s.error}` : s.detail ? ` — ${s.detail}` : ''}`,
        );
        if (s.name === 'verification through the gateway' && s.status === 'done')
          world.events.write({ kind: 'verification-passed' });
      }
    }
  };

  for (;;) {
    if (interrupted) return { state: 'RUNNING', status, interrupted: true };
    let desc;
    try {
      desc = await handle.describe();
    } catch {
      // The server is restarting (chaos runs do that on purpose): look again shortly.
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 300));
      continue;
    }
    if (desc.status.name === 'RUNNING') {
      try {
        status = await queryStatus(handle);
      } catch {
        // The worker is restarting (chaos kills it on purpose): the run's memo still says what it waits for.
        const what = memoWaitingFor(desc.memo);
        if (what && opts.autoConfirm) await actFor(what, handle, world, opts.say, firstTry);
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 300));
        continue;
      }
    }
    if (desc.status.name !== 'RUNNING') {
      // The steps that ended since the last look (often the last CTs' decommission) are in the report: the person
      // sees every step before the result.
      try {
        const report = (await handle.result()) as MigrationReport;
        sayEndedSteps(report);
        return { state: desc.status.name, report, status };
      } catch (err) {
        let cause: unknown = err;
        while (cause && typeof cause === 'object' && (cause as { cause?: unknown }).cause)
          cause = (cause as { cause?: unknown }).cause;
        const details = (err as { cause?: { details?: unknown[] } }).cause?.details?.[0] as MigrationReport | undefined;
        if (details?.steps) sayEndedSteps(details);
        return { state: desc.status.name, failure: (cause as Error)?.message ?? String(err), report: details, status };
      }
    }
    if (status) {
      sayEndedSteps(status);
      if (status.phase !== lastPhase) {
        lastPhase = status.phase;
        opts.say(`▶ ${status.phase}`);
      }
      const w = status.waitingFor;
      const waitKey = w ? `${w.what}:${w.items.join('|')}` : '';
      if (w && waitKey !== lastWait) {
        lastWait = waitKey;
        opts.say(`\n✋ ${w.message}`);
        for (const item of w.items) opts.say(`   - ${item}`);
        if (!opts.autoConfirm) {
          const dir = opts.hintFlags?.dir ? ` --dir ${opts.hintFlags.dir}` : '';
          const address = opts.hintFlags?.address ? ` --address ${opts.hintFlags.address}` : '';
          if (w.what === 'portainer-deploy')
            opts.say(`   In the lab, do the Portainer step with:  npx phoenix-migrate lab deploy-stack${dir}`);
          if (!endsByItself(w.what))
            opts.say(`   Then run:  npx ${continueCommandFor(w.what, opts.workflowId)}${address}\n`);
        }
      }
      if (!w) lastWait = '';
      if (w && opts.autoConfirm) await actFor(w.what, handle, world, opts.say, firstTry);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 300));
  }
}

async function actFor(
  what: string,
  handle: ReturnType<Client['workflow']['getHandle']>,
  world: World,
  say: (l: string) => void,
  firstTry: Map<string, string>,
): Promise<void> {
  const sentAt = () => {
    if (!firstTry.has(what)) firstTry.set(what, new Date().toISOString());
    return firstTry.get(what);
  };
  try {
    if (what === 'portainer-deploy') {
      say(`   (auto) ${await world.deployStack()}`);
      const firstSent = sentAt();
      const answer = await handle.executeUpdate(confirmPortainerDeployUpdate, {
        args: [{ by, note: 'lab auto-confirm' }],
      });
      world.events.write({ kind: 'confirmation', what: 'confirmPortainerDeploy', answer, sentAt: firstSent });
      say(`   (auto) confirm-portainer → ${answer}`);
    } else if (what === 'decommission-approval') {
      const firstSent = sentAt();
      const answer = await handle.executeUpdate(approveDecommissionUpdate, { args: [{ by }] });
      world.events.write({ kind: 'confirmation', what: 'approveDecommission', answer, sentAt: firstSent });
      say(`   (auto) approve-decommission → ${answer}`);
    } else if (what === 'reindex') {
      // The producers' job in the lab: write the legacy data into the new instance, then report it.
      for (const c of world.legacyQdrant.collections())
        world.newQdrant.setCollections([
          ...world.newQdrant.collections().map((x) => ({ name: x.name, points: x.count })),
          { name: c.name, points: c.count },
        ]);
      const answer = await handle.executeUpdate(reindexDoneUpdate, { args: [{ by }] });
      world.events.write({ kind: 'confirmation', what: 'reindexDone', answer });
    } else if (what === 'operator-choice-after-failed-verification') {
      const answer = await handle.executeUpdate(abortUpdate, {
        args: [{ by, note: 'verification failed in an unattended lab run' }],
      });
      say(`   (auto) abort → ${answer}`);
    }
  } catch (err) {
    // A rejected answer leaves the run waiting: say why and try again on the next look.
    say(`   (auto) not yet: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
