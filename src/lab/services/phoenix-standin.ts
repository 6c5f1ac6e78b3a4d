/**
 * Stand-in for Phoenix's own CLI on the lab's Proxmox host (`provisioner: "phoenix-cli"`): records each call in
 * phoenix-calls.log next to itself and prints Phoenix-like progress. It does not provision the guests — the run's
 * verify steps then say exactly what a real `phoenix create` would have had to do.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PHOENIX_STANDIN = `#!/usr/bin/env bash
# phoenix-migrate lab: stand-in for Phoenix's \`phoenix\` CLI (records its calls; provisions nothing).
set -euo pipefail
printf '%s\\n' "$*" >> "$(dirname "$0")/phoenix-calls.log"
[ "\${1:-}" = create ] || { echo "phoenix stand-in: only 'create <vmid>'" >&2; exit 2; }
echo "[phoenix] create \${2:?missing vmid}: VM exists, skipping clone"
echo "[phoenix] create $2: features base_setup docker (stand-in: nothing done)"
`;

/** Writes `phoenix` into `binDir` (already first on the sshd session's PATH) and returns its call log. */
export function installPhoenixStandin(binDir: string): string {
  fs.mkdirSync(binDir, { recursive: true });
  fs.writeFileSync(path.join(binDir, 'phoenix'), PHOENIX_STANDIN, { mode: 0o755 });
  return path.join(binDir, 'phoenix-calls.log');
}
