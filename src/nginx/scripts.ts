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
  /** A newer attempt (or a rollback) already handled the gateway: this one is a zombie and changed nothing. */
  superseded: 80,
  /** A rejected rewrite could NOT be put back: the rewritten file is on disk (nginx never loaded it). */
  restoreFailed: 81,
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
 * Shared by the write and reload scripts, defined before use:
 * - `fenced FENCE TOKEN`: the fence file holds the highest attempt token that changed the gateway's upstream; an
 *   attempt with a lower token (a zombie attempt that outlived its timeout, after a newer attempt or a rollback) is
 *   refused with exit 80.
 * - `reload_checked`: `-s reload`, then watch the master (from the pid file) replace its worker processes (looked at
 *   every 10 ms for the first 0.1 s — it takes milliseconds, and a shared gateway's changes queue behind each other —
 *   then every 0.1 s, ≈ 5 s in all; the master's children from /proc with bash's own `read`, pgrep where the kernel
 *   has no such file: a look costs no process) and collect `[emerg]`/`[alert]` lines written to the error log since.
 *   nginx's master applies a config after the command returned 0 — and keeps the old one (and its workers) when it
 *   cannot.
 *   Prints `reload: taken|not-taken|unknown …` and `log: …` lines; returns 1 only when the reload command itself
 *   failed.
 */
const FENCE_AND_RELOAD_CHECK = String.raw`
fenced() {
  if [ -f "$1" ]; then
    held=$(head -c 32 -- "$1" | tr -dc 0-9)
    if [ -n "$held" ] && [ "$held" -gt "$2" ]; then
      echo "a newer change (attempt token $held > $2 in $1) already handled this gateway: this attempt is superseded" >&2
      exit 80
    fi
  fi
}
children() {
  kids=""
  if [ -r "/proc/$master/task/$master/children" ]; then
    read -r kids <"/proc/$master/task/$master/children" || true
  else
    read -r kids < <(pgrep -P "$master" 2>/dev/null | tr '\n' ' ') || true
  fi
}
reload_checked() {
  master=$(head -c 32 -- "$pidfile" 2>/dev/null | tr -dc 0-9)
  before=""; if [ -n "$master" ]; then children; before=$kids; fi
  logsize=$(stat -c %s -- "$errlog" 2>/dev/null || echo 0)
  if ! out=$("$@" -s reload 2>&1); then printf '%s\n' "$out" >&2; return 1; fi
  if [ -z "$master" ] || [ ! -d "/proc/$master" ]; then
    echo "reload: unknown (no running master in $pidfile)"
  else
    verdict="not-taken (the master $master kept its workers $before)"
    for i in $(seq 1 60); do
      children
      fresh=""
      for k in $kids; do case " $before " in *" $k "*) ;; *) fresh="$fresh $k" ;; esac; done
      if [ -n "$fresh" ]; then verdict="taken (master $master started workers$fresh)"; break; fi
      if [ "$i" -le 10 ]; then sleep 0.01; else sleep 0.1; fi
    done
    echo "reload: $verdict"
  fi
  if [ -r "$errlog" ]; then
    tail -c +$((logsize + 1)) -- "$errlog" 2>/dev/null | grep -E '\[(emerg|alert)\]' | tail -n 20 | sed 's/^/log: /' || true
  fi
  return 0
}
`;

/**
 * Write, all under one flock: $1 real path, $2 sha256 it had when read, $3 sha256 of the new content (on stdin), $4
 * backup path, $5 lock file, $6 lock wait (s), $7 nginx pid file, $8 nginx error log, $9 the records of the upstreams
 * the change is for — four lines each: state file ('' = none), state JSON, fence file, attempt token — then the nginx
 * argv. Compare-and-swap on $2 so a change made between our read and this write is never overwritten; the fences so a
 * superseded attempt never writes (one superseded upstream refuses the whole change). More than one record: the
 * cutovers of one worker that queued behind each other, made as one change (src/activities/gateway-batch.ts).
 */
export const WRITE_SCRIPT = String.raw`
set -u
trap '' HUP PIPE
real=$1; expect=$2; newsum=$3; backup=$4; lock=$5; wait=$6; pidfile=$7; errlog=$8; records=$9; shift 9
${FENCE_AND_RELOAD_CHECK}
each_record() {
  while IFS= read -r state && IFS= read -r json && IFS= read -r fence && IFS= read -r token; do
    "$1" "$state" "$json" "$fence" "$token" || return 1
  done <<< "$records"
}
check_fence() { fenced "$3" "$4"; }
put_record() {
  mkdir -p -- "$(dirname -- "$3")" && printf '%s\n' "$4" > "$3" || { echo "cannot write the fence $3" >&2; exit 10; }
  [ -n "$1" ] || return 0
  rm -f -- "$1.reloaded"
  printf '%s\n' "$2" > "$1.tmp" && mv -f -- "$1.tmp" "$1" || { echo "cannot write the state file $1" >&2; exit 10; }
}
drop_state() { [ -z "$1" ] || rm -f -- "$1"; }
mark_reloaded() { [ -z "$1" ] || printf '%s\n' "$backup" > "$1.reloaded"; }
mkdir -p -- "$(dirname -- "$lock")" && exec 9>>"$lock" || { echo "cannot open the lock file $lock" >&2; exit 10; }
flock -w "$wait" 9 || { echo "another change has held $lock for more than $wait s" >&2; exit 75; }
each_record check_fence
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
each_record put_record
mv -f -- "$tmp" "$real" || { echo "cannot rename $tmp over $real" >&2; exit 10; }
restore() { cp -p -- "$backup" "$tmp" && mv -f -- "$tmp" "$real" && each_record drop_state; }
if ! out=$("$@" -t 2>&1); then
  printf '%s\n' "$out" >&2
  restore || { echo "AND putting back the backup $backup over $real FAILED: the rewritten file is still in place (nginx has not loaded it)" >&2; exit 81; }
  exit 78
fi
if ! reload_checked "$@"; then
  restore || { echo "AND putting back the backup $backup over $real FAILED: the rewritten file is still in place" >&2; exit 81; }
  exit 79
fi
each_record mark_reloaded
echo changed
`;

/**
 * Finish a change whose reload may not have happened: $1 lock, $2 wait, $3 marker file, $4 marker text, $5 fence
 * file, $6 attempt token, $7 nginx pid file, $8 nginx error log, then the nginx argv.
 */
export const RELOAD_SCRIPT = String.raw`
set -u
trap '' HUP PIPE
lock=$1; wait=$2; marker=$3; text=$4; fence=$5; token=$6; pidfile=$7; errlog=$8; shift 8
${FENCE_AND_RELOAD_CHECK}
mkdir -p -- "$(dirname -- "$lock")" && exec 9>>"$lock" || { echo "cannot open the lock file $lock" >&2; exit 10; }
flock -w "$wait" 9 || { echo "another change has held $lock for more than $wait s" >&2; exit 75; }
fenced "$fence" "$token"
if ! out=$("$@" -t 2>&1); then printf '%s\n' "$out" >&2; exit 77; fi
reload_checked "$@" || exit 79
printf '%s\n' "$text" > "$marker"
echo reloaded
`;

/** Preflight only (dry runs): the nginx argv. */
export const TEST_SCRIPT = String.raw`
out=$("$@" -t 2>&1) || { printf '%s\n' "$out" >&2; exit 77; }
echo ok
`;
