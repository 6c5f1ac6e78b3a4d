/**
 * What `phoenix create <vmid>` does inside a VM, as data: the features a VM gets, in order, each one shipped shell
 * script with the modes check, apply and verify (`bash -c <script> <name> <mode> <args…>`). `check` exiting 0 means
 * nothing runs; `apply` is idempotent; `verify` proves the result. One guest-agent command per feature runs them:
 * converge.sh, given the feature's script as text. The lab executes these very bytes in a sandboxed guest root, so
 * what the lab proves is what a real VM gets.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FeatureStep } from './plan';

export { featuresFor, type FeatureName, type FeatureStep } from './plan';

/** src/provisioning/scripts, from both src/provisioning (ts-jest) and lib/provisioning (built). */
export const SCRIPTS_DIR = path.join(__dirname, '..', '..', 'src', 'provisioning', 'scripts');

const cache = new Map<string, string>();

/** The bytes we ship for one feature. */
export function scriptText(script: string): string {
  let text = cache.get(script);
  if (text === undefined) {
    text = fs.readFileSync(path.join(SCRIPTS_DIR, script), 'utf8');
    cache.set(script, text);
  }
  return text;
}

export function scriptSha256(script: string): string {
  return createHash('sha256').update(scriptText(script)).digest('hex');
}

/** Where each script logs inside the guest (the activity reads its tail while it runs and when it fails). */
export function guestLogFile(step: Pick<FeatureStep, 'feature'>): string {
  return `/var/log/phoenix-migrate/${step.feature}.log`;
}

/** Every script we ship (for lint, the gate's pin list and the lab's event log). */
export function shippedScripts(): string[] {
  return fs
    .readdirSync(SCRIPTS_DIR)
    .filter((f) => f.endsWith('.sh'))
    .sort();
}
