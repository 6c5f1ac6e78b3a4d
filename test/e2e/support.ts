/**
 * Helpers shared by the end-to-end scenarios: the event history (checked for secrets, optionally recorded as a replay
 * fixture), the Proxmox audit log, the gateway's live upstreams and the Web UI's current details.
 *
 * Re-record the replay fixtures (test/fixtures/histories/v<WORKFLOW_BUNDLE_VERSION>/) with
 *   node scripts/record-histories.js
 */
import fs from 'node:fs';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { readUpstreams } from '../../src/nginx/upstream';
import type { MigrationWorld } from '../harness/migration-world';
import { writeFixture } from '../replay/fixtures';

export const RECORDING = process.env.PHOENIX_RECORD_HISTORIES === '1';

/** Every string in the JSON, plus the decoded text of every base64 payload (`data` fields). */
export function searchableText(json: string): string {
  const parts: string[] = [json];
  const walk = (v: unknown, key?: string): void => {
    if (typeof v === 'string') {
      if (key === 'data' && /^[A-Za-z0-9+/=]+$/.test(v)) parts.push(Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) v.forEach((x) => walk(x));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(JSON.parse(json));
  return parts.join('\n');
}

/**
 * Exports the run's history, checks it holds no secret of the world (token secret, Portainer key, the SSH key's path
 * or text), and writes it as a replay fixture when recording. Returns the searchable text for further checks.
 */
export async function checkedHistory(mw: MigrationWorld, handle: WorkflowHandle, scenario?: string): Promise<string> {
  const json = historyToJSON(await handle.fetchHistory());
  const text = searchableText(json);
  for (const [name, value] of Object.entries(mw.world.workerEnv)) {
    if (text.includes(value)) throw new Error(`the history of ${handle.workflowId} contains the value of ${name}`);
  }
  const keyText = fs
    .readFileSync(mw.world.workerEnv.PHOENIX_SSH_KEY, 'utf8')
    .split('\n')
    .find((l) => l.length > 40 && !l.startsWith('-----'));
  if (keyText && text.includes(keyText))
    throw new Error(`the history of ${handle.workflowId} contains private-key text`);
  expect(text).not.toContain('-----BEGIN');
  if (RECORDING && scenario) {
    writeFixture({ workflowId: handle.workflowId, scenario, history: JSON.parse(json) as Record<string, unknown> });
  }
  return text;
}

/** Proxmox API calls that change something (the simulator's audit log; reads are GETs). */
export function mutatingCalls(mw: MigrationWorld) {
  return mw.world.proxmox.audit().filter((e) => e.method !== 'GET');
}

/** Calls that made a clone happen: answered 200, or done with the answer lost. */
export function effectiveClones(mw: MigrationWorld, vmid: number) {
  return mw.world.proxmox
    .audit()
    .filter(
      (e) =>
        e.method === 'POST' &&
        new RegExp(`/qemu/\\d+/clone$`).test(e.path) &&
        (e.status === 200 || e.fault === 'lost-response'),
    )
    .filter((e) => String((e.params as Record<string, unknown> | undefined)?.newid) === String(vmid));
}

/** What the gateway's upstream points at right now, read from nginx's real site file. */
export function upstreamServers(mw: MigrationWorld, name = mw.world.plan.gateway.upstream): string[] {
  const site = fs.readFileSync(mw.world.gateway.realSiteFile, 'utf8');
  return (
    readUpstreams(site)
      .find((u) => u.name === name)
      ?.servers.map((s) => s.address) ?? []
  );
}

/** The Markdown the Web UI shows on the run's page (`setCurrentDetails`). */
export async function currentDetails(handle: WorkflowHandle): Promise<string> {
  const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}

export function legacyCtsPresent(mw: MigrationWorld): number[] {
  return mw.world.plan.legacyGuests.map((g) => g.ctid).filter((ctid) => mw.world.proxmox.guest(ctid) !== undefined);
}

export const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
