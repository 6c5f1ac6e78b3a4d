/**
 * The committed replay fixtures: histories of real runs (recorded by the e2e tests on the real dev server), tagged
 * with the workflow bundle version they belong to — in test/fixtures/histories/v<WORKFLOW_BUNDLE_VERSION>/ and in each
 * file's `bundleVersion`. Re-record them with `node scripts/record-histories.js` (see docs/operations.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { WORKFLOW_BUNDLE_VERSION } from '../../src/workflows/version';

export const HISTORIES_ROOT = path.join(__dirname, '..', 'fixtures', 'histories');

export interface HistoryFixture {
  /** The WORKFLOW_BUNDLE_VERSION of the code that made this history. */
  bundleVersion: number;
  /** The real workflow id (replay needs it: the workflow reads it). */
  workflowId: string;
  scenario: string;
  /** `historyToJSON(await handle.fetchHistory())`, parsed. */
  history: Record<string, unknown>;
}

export function fixturesDir(version = WORKFLOW_BUNDLE_VERSION): string {
  return path.join(HISTORIES_ROOT, `v${version}`);
}

/** The fixture files of a bundle version, sorted. */
export function fixtureFiles(version = WORKFLOW_BUNDLE_VERSION): string[] {
  const dir = fixturesDir(version);
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
    : [];
}

export function readFixture(file: string, version = WORKFLOW_BUNDLE_VERSION): HistoryFixture {
  return JSON.parse(fs.readFileSync(path.join(fixturesDir(version), file), 'utf8')) as HistoryFixture;
}

export function writeFixture(fixture: Omit<HistoryFixture, 'bundleVersion'>): string {
  const dir = fixturesDir();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${fixture.scenario}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ bundleVersion: WORKFLOW_BUNDLE_VERSION, ...fixture })}\n`);
  return file;
}
