/**
 * Stand-in for Proxmox's `pct` on a lab or test host, where "the container" is this machine:
 *   pct exec <ctid> -- argv…          runs argv here (stdin passes through)
 *   pct push <ctid> <local> <remote>  copies the file
 * Written as a script into a directory that sshd puts first on the session's PATH.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PCT_STANDIN = `#!/usr/bin/env bash
# phoenix-migrate lab: stand-in for Proxmox's pct; the "container" is this machine.
# Every call is appended to $PCT_STANDIN_LOG (if set) as one line of its first four words (the command after
# \`--\` may be a whole script).
set -euo pipefail
log="\${PCT_STANDIN_LOG:-}"
if [ -n "$log" ]; then printf '%s %s %s %s\\n' "\${1:-}" "\${2:-}" "\${3:-}" "\${4:-}" >> "$log"; fi
cmd="\${1:-}"; shift || true
case "$cmd" in
  exec)
    ctid="\${1:?pct exec: missing ctid}"; shift
    [[ "$ctid" =~ ^[0-9]+$ ]] || { echo "pct exec: bad ctid '$ctid'" >&2; exit 2; }
    [ "\${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || { echo "pct exec: missing command" >&2; exit 2; }
    exec "$@"
    ;;
  push)
    ctid="\${1:?}"; src="\${2:?}"; dst="\${3:?}"
    cp -- "$src" "$dst"
    ;;
  *)
    echo "pct stand-in: unsupported command '$cmd' (only exec and push)" >&2
    exit 2
    ;;
esac
`;

/** Writes `pct` into `binDir` and returns the directory (to put first on PATH). */
export function installPctStandin(binDir: string): string {
  fs.mkdirSync(binDir, { recursive: true });
  fs.writeFileSync(path.join(binDir, 'pct'), PCT_STANDIN, { mode: 0o755 });
  return binDir;
}
