/**
 * Phase 2 (Orchestrator and File Preparation): put the compose files on the Proxmox host's NFS export, where
 * the VM will find them once it mounts its persistent storage. Each file is compared by sha256 first and
 * written only when different, through a dot-temp file and an atomic rename, then checked again — so a
 * retry after a lost response finds it `unchanged`.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { ComposeFile, SshEndpoint } from '../config/resolved-plan';
import { hostTarget, withSsh, type RemoteTarget, type WorkerEnv } from '../remote';
import { FailureType } from '../failure-types';
import { withFailureTranslation } from './failures';
import { heartbeat, heartbeatDetails } from './heartbeat';

export interface FileActivityDeps {
  /** The worker's environment: SSH key paths and passphrases are looked up here by the names in the plan. */
  env: WorkerEnv;
}

export interface ProvisionComposeFilesInput {
  host: SshEndpoint;
  files: ComposeFile[];
  dryRun?: boolean;
}

export type FileOutcome = 'created' | 'updated' | 'unchanged' | 'would-create' | 'would-update';

export interface ProvisionComposeFilesResult {
  files: { hostPath: string; outcome: FileOutcome }[];
}

/**
 * Compare, and (unless dry) write atomically. $1 path, $2 wanted sha256, $3 "1" for a dry run; content on stdin.
 * Prints the outcome word on success.
 */
export const PUT_FILE_SCRIPT = String.raw`
set -eu
p=$1; want=$2; dry=$3
outcome=created
if [ -e "$p" ] || [ -L "$p" ]; then
  [ -f "$p" ] || { echo "$p exists but is not a regular file; move it away first" >&2; exit 3; }
  have=$(sha256sum < "$p" | cut -d' ' -f1)
  if [ "$have" = "$want" ]; then echo unchanged; exit 0; fi
  outcome=updated
fi
if [ "$dry" = 1 ]; then
  if [ "$outcome" = created ]; then echo would-create; else echo would-update; fi
  exit 0
fi
dir=$(dirname -- "$p"); base=$(basename -- "$p")
mkdir -p -- "$dir"
tmp="$dir/.$base.phoenix-tmp.$$"
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
got=$(sha256sum < "$tmp" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "the content arrived with sha256 $got, expected $want" >&2; exit 4; }
if [ -e "$p" ]; then chmod --reference="$p" -- "$tmp"; chown --reference="$p" -- "$tmp" 2>/dev/null || true; else chmod 0644 -- "$tmp"; fi
sync -- "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$p"
trap - EXIT
got=$(sha256sum < "$p" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "after the rename $p has sha256 $got, expected $want (someone else writing it?)" >&2; exit 5; }
echo "$outcome"
`;

const OUTCOMES: readonly FileOutcome[] = ['created', 'updated', 'unchanged', 'would-create', 'would-update'];

export function createFileActivities(deps: FileActivityDeps) {
  async function provisionComposeFiles(input: ProvisionComposeFilesInput): Promise<ProvisionComposeFilesResult> {
    for (const file of input.files) checkFile(file);
    return withSsh(input.host, deps.env, async (session) => {
      const target = hostTarget(session);
      const files: ProvisionComposeFilesResult['files'] = [];
      // What an earlier attempt was about to write: if its answer was lost after the write, this attempt finds
      // the file `unchanged` but must still report the change it made (heartbeat details survive retries).
      const planned: PlannedWrites = { ...previousPlan() };
      for (const file of input.files) {
        if (input.dryRun) {
          files.push({ hostPath: file.hostPath, outcome: await putFile(target, file, true) });
          continue;
        }
        const expected = await putFile(target, file, true);
        if (expected !== 'unchanged')
          planned[file.hostPath] = {
            sha256: file.sha256,
            outcome: expected === 'would-create' ? 'created' : 'updated',
          };
        heartbeat({ done: files.length, of: input.files.length, planned });
        let outcome = await putFile(target, file, false);
        const earlier = planned[file.hostPath];
        if (outcome === 'unchanged' && earlier?.sha256 === file.sha256) outcome = earlier.outcome;
        files.push({ hostPath: file.hostPath, outcome });
        heartbeat({ done: files.length, of: input.files.length, planned });
      }
      return { files };
    });
  }
  return withFailureTranslation({ provisionComposeFiles });
}

function checkFile(file: ComposeFile): void {
  const actual = createHash('sha256').update(file.content, 'utf8').digest('hex');
  if (actual !== file.sha256) {
    throw ApplicationFailure.create({
      type: FailureType.ComposeFileDigestMismatch,
      nonRetryable: true,
      message: `compose file ${file.source} (→ ${file.hostPath}): the plan's sha256 ${file.sha256} does not match its content (${actual}); re-resolve the plan.`,
    });
  }
  if (!file.hostPath.startsWith('/') || /[\n\0]/.test(file.hostPath) || file.hostPath.split('/').includes('..')) {
    throw ApplicationFailure.create({
      type: FailureType.ComposeFileBadPath,
      nonRetryable: true,
      message: `compose file ${file.source}: hostPath ${JSON.stringify(file.hostPath)} must be an absolute path without "..", newlines or NUL.`,
    });
  }
}

async function putFile(target: RemoteTarget, file: ComposeFile, dryRun: boolean): Promise<FileOutcome> {
  const res = await target.run(
    ['bash', '-c', PUT_FILE_SCRIPT, 'phoenix-put-file', file.hostPath, file.sha256, dryRun ? '1' : '0'],
    {
      stdin: dryRun ? undefined : Buffer.from(file.content, 'utf8'),
    },
  );
  const word = res.stdout.trim() as FileOutcome;
  if (res.code === 0 && OUTCOMES.includes(word)) return word;
  throw ApplicationFailure.create({
    type: FailureType.ComposeFileWriteFailed,
    // a digest mismatch after the rename means something else writes the file: a person should look
    nonRetryable: res.code === 3,
    message: `writing compose file ${file.hostPath} on ${target.describe} failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim() || 'no output'}`,
  });
}

type PlannedWrites = Record<string, { sha256: string; outcome: 'created' | 'updated' }>;

function previousPlan(): PlannedWrites {
  return heartbeatDetails<{ planned?: PlannedWrites }>()?.planned ?? {};
}
