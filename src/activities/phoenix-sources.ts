/**
 * `updatePhoenixSources` (plan `sources.write`): once the cutover is verified, Phoenix's own copies of the gateway site
 * in the checkout on the worker's machine — the committed site and the LXC script's heredoc — get the same
 * byte-preserving upstream rewrite as the cutover, a backup beside each file (as `phoenix-migrate sources --write`).
 * Idempotent: a copy already routing to the new servers is left alone, so a retry after a lost response writes
 * nothing twice. What cannot be written is reported, never thrown: the migration itself is done by then.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GatewaySettings } from '../config/resolved-plan';
import { gatewaySources } from '../sources/gateway-sources';
import { writeWithBackup } from '../sources/write';
import { heartbeat } from './heartbeat';

export interface PhoenixSourcesUpdate {
  /** Sources rewritten now (relative to the checkout), each with its backup. */
  updated: { file: string; backup: string }[];
  /** Sources that already routed the upstream to the new servers. */
  current: string[];
  /** Why a source (or the whole checkout) was not written; the operator finishes with `phoenix-migrate sources`. */
  notWritten: string[];
}

export function createPhoenixSourcesActivities() {
  async function updatePhoenixSources(input: {
    dir: string;
    gateway: Pick<GatewaySettings, 'ctid' | 'siteFile' | 'upstream' | 'newServers'>;
  }): Promise<PhoenixSourcesUpdate> {
    heartbeat(`Phoenix's sources in ${input.dir}`);
    const result: PhoenixSourcesUpdate = { updated: [], current: [], notWritten: [] };
    if (!isDirectory(input.dir)) {
      result.notWritten.push(
        `the checkout ${input.dir} is not a directory on the worker's machine (the plan was resolved elsewhere)`,
      );
      return result;
    }
    const found = gatewaySources(input.dir, input.gateway);
    if (found.errors.length > 0) {
      result.notWritten.push(...found.errors);
      return result;
    }
    for (const s of found.sources)
      if (!found.edits.some((e) => e.sources.includes(s))) result.current.push(`${s.relative} (${s.kind})`);
    for (const edit of found.edits) {
      // Never overwrite what we did not read: an editor or a git pull may have changed it meanwhile.
      if (fs.readFileSync(edit.file, 'utf8') !== edit.before) {
        result.notWritten.push(`${edit.relative} changed while it was read`);
        continue;
      }
      const backup = writeWithBackup(edit.file, edit.after);
      result.updated.push({ file: edit.relative, backup: path.relative(input.dir, backup) });
    }
    return result;
  }
  return { updatePhoenixSources };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
