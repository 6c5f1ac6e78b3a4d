/**
 * The remote side of the safe nginx change (see the cutover runbook): small bash scripts run as
 * `bash -c SCRIPT name args…` through a RemoteTarget, so every value arrives as an argument (quoted once by
 * shellQuote), never spliced into the script text. Exit codes are the contract with src/activities/gateway.ts.
 */

export const EXIT = {
  notFound: 3,
  lockBusy: 75,
  changedSinceRead: 76,
  preflightFailed: 77,
  testFailedRestored: 78,
  reloadFailedRestored: 79,
  io: 10,
} as const;

/**
 * Read: $1 site file, $2 state file. Prints the real path, the file's sha256, the state file and its
 * "reloaded" marker (base64, empty when absent), the newest backup's path (empty when none) — one per line —
 * then the file's content verbatim.
 */
export const READ_SCRIPT = String.raw`
set -eu
site=$1; state=$2; backups=$3
real=$(readlink -f -- "$site") || { echo "cannot resolve the site file $site" >&2; exit 3; }
[ -f "$real" ] || { echo "site file $site (real path $real) does not exist or is not a regular file" >&2; exit 3; }
sum=$(sha256sum < "$real" | cut -d' ' -f1)
printf '%s\n%s\n' "$real" "$sum"
if [ -f "$state" ]; then base64 -w0 < "$state"; fi; printf '\n'
if [ -f "$state.reloaded" ]; then base64 -w0 < "$state.reloaded"; fi; printf '\n'
newest=$(ls -1t -- "$backups/$(basename -- "$real")".*.bak 2>/dev/null | head -n 1 || true)
printf '%s\n' "$newest"
cat -- "$real"
`;

/**
 * Write, all under one flock: $1 real path, $2 sha256 it had when read, $3 sha256 of the new content (on
 * stdin), $4 backup path, $5 state file ('' = none), $6 state JSON, $7 lock file, $8 lock wait (s), then the
 * nginx argv. Compare-and-swap on $2 so a change made between our read and this write is never overwritten.
 */
export const WRITE_SCRIPT = String.raw`
set -u
trap '' HUP PIPE
real=$1; expect=$2; newsum=$3; backup=$4; state=$5; statejson=$6; lock=$7; wait=$8; shift 8
mkdir -p -- "$(dirname -- "$lock")" && exec 9>>"$lock" || { echo "cannot open the lock file $lock" >&2; exit 10; }
flock -w "$wait" 9 || { echo "another change has held $lock for more than $wait s" >&2; exit 75; }
have=$(sha256sum < "$real" | cut -d' ' -f1)
[ "$have" = "$expect" ] || { echo "$real changed since it was read (sha256 now $have)" >&2; exit 76; }
if ! out=$("$@" -t 2>&1); then printf '%s\n' "$out" >&2; exit 77; fi
mkdir -p -- "$(dirname -- "$backup")" && cp -p -- "$real" "$backup" || { echo "cannot write the backup $backup" >&2; exit 10; }
dir=$(dirname -- "$real"); base=$(basename -- "$real")
tmp="$dir/.$base.phoenix-tmp.$$"
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp" || { echo "cannot write $tmp" >&2; exit 10; }
got=$(sha256sum < "$tmp" | cut -d' ' -f1)
[ "$got" = "$newsum" ] || { echo "the new content arrived with sha256 $got, expected $newsum" >&2; exit 10; }
chmod --reference="$real" -- "$tmp" && chown --reference="$real" -- "$tmp" || { echo "cannot copy mode/owner of $real" >&2; exit 10; }
if [ -n "$state" ]; then
  rm -f -- "$state.reloaded"
  printf '%s\n' "$statejson" > "$state.tmp" && mv -f -- "$state.tmp" "$state" || { echo "cannot write the state file $state" >&2; exit 10; }
fi
mv -f -- "$tmp" "$real" || { echo "cannot rename $tmp over $real" >&2; exit 10; }
restore() { cp -p -- "$backup" "$tmp" && mv -f -- "$tmp" "$real"; if [ -n "$state" ]; then rm -f -- "$state"; fi; }
if ! out=$("$@" -t 2>&1); then restore; printf '%s\n' "$out" >&2; exit 78; fi
if ! out=$("$@" -s reload 2>&1); then restore; printf '%s\n' "$out" >&2; exit 79; fi
if [ -n "$state" ]; then printf '%s\n' "$backup" > "$state.reloaded"; fi
echo changed
`;

/** Finish a change whose reload may not have happened: $1 lock, $2 wait, $3 marker file, $4 marker text, nginx argv. */
export const RELOAD_SCRIPT = String.raw`
set -u
trap '' HUP PIPE
lock=$1; wait=$2; marker=$3; text=$4; shift 4
mkdir -p -- "$(dirname -- "$lock")" && exec 9>>"$lock" || { echo "cannot open the lock file $lock" >&2; exit 10; }
flock -w "$wait" 9 || { echo "another change has held $lock for more than $wait s" >&2; exit 75; }
if ! out=$("$@" -t 2>&1); then printf '%s\n' "$out" >&2; exit 77; fi
if ! out=$("$@" -s reload 2>&1); then printf '%s\n' "$out" >&2; exit 79; fi
printf '%s\n' "$text" > "$marker"
echo reloaded
`;

/** Preflight only (dry runs): the nginx argv. */
export const TEST_SCRIPT = String.raw`
out=$("$@" -t 2>&1) || { printf '%s\n' "$out" >&2; exit 77; }
echo ok
`;
