#!/usr/bin/env bash
# phoenix-migrate: one feature in one guest-agent command. Runs the feature's shipped script (given as text, run as
# `bash -c SCRIPT NAME MODE ARGS…`, the very bytes) as check; when the check fails, cloud-init's wait, apply and
# verify — one round trip into the guest per feature instead of four (BENCHMARKS.md, "an eighth look").
# Usage: converge.sh PLAN LOG CHECK_S CLOUD_INIT_S APPLY_S VERIFY_S NAME SCRIPT [ARGS…]
#   PLAN converge: check; when it fails, cloud-init (unless CLOUD_INIT_S is 0), apply, verify
#        check:    check only (a dry run)
#        verify:   cloud-init (unless 0), verify (Phoenix applied: the phoenix-cli provisioner)
# The worker reads what ran from stdout, which carries nothing else:
#   phoenix-migrate-step STEP EXITCODE     for each step that ran (lock, check, cloud-init, apply, verify), in order
#   phoenix-migrate-tail                   then LOG's last lines, after a verify or a failed step
# The exit code is the last step's. A check answers 0 (in place) or 1–123 (not in place); 124 and above is no answer
# (stopped at its bound, not runnable, killed) and ends the run there. check, cloud-init's wait and verify only read,
# so each is stopped after its seconds (exit 124). apply is never stopped here — a killed apt can leave dpkg
# half-configured —, its time is the worker's to bound (APPLY_S only adds to the lock's wait). One run of a feature at
# a time: a retry whose earlier attempt still applies (its worker died, the command lives on in the guest) waits for
# it, then finds it done.
set -uo pipefail
plan="${1:?usage: converge.sh PLAN LOG CHECK_S CLOUD_INIT_S APPLY_S VERIFY_S NAME SCRIPT [ARGS…]}"
log="${2:?converge.sh: missing LOG}"
check_s="${3:?converge.sh: missing CHECK_S}"
cloud_init_s="${4:?converge.sh: missing CLOUD_INIT_S}"
apply_s="${5:?converge.sh: missing APPLY_S}"
verify_s="${6:?converge.sh: missing VERIFY_S}"
name="${7:?converge.sh: missing NAME}"
script="${8:?converge.sh: missing SCRIPT}"
shift 8
args=("$@")

ran() { printf 'phoenix-migrate-step %s %s\n' "$1" "$2"; }
show_tail() {
  printf 'phoenix-migrate-tail\n'
  tail -n 20 -- "$log" 2>/dev/null || true
}

# The feature's own output goes to its log; what it says before it opens the log (a usage error) goes to stderr. It
# does not get the lock's descriptor (9): a process it leaves running would hold the lock for good.
feature() {
  local mode="$1" seconds="$2" rc=0
  if [ "$seconds" -gt 0 ]; then
    timeout --kill-after=5 "$seconds" bash -c "$script" "$name" "$mode" "${args[@]}" >&2 9>&- || rc=$?
  else
    bash -c "$script" "$name" "$mode" "${args[@]}" >&2 9>&- || rc=$?
  fi
  ran "$mode" "$rc"
  return "$rc"
}

# Done (0) or done with recoverable errors (2, cloud-init ≥ 23.4): it holds apt's lock and writes the user's groups.
cloud_init() {
  local rc=0
  [ "$cloud_init_s" -gt 0 ] || return 0
  timeout --kill-after=5 "$cloud_init_s" cloud-init status --wait >&2 9>&- || rc=$?
  ran cloud-init "$rc"
  [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]
}

if [ ! -d "${log%/*}" ] || [ ! -d /run/lock ]; then mkdir -p "${log%/*}" /run/lock; fi
exec 9>"/run/lock/phoenix-migrate-${name%.sh}.lock"
if ! flock -n 9; then
  printf 'phoenix-migrate: waiting for an earlier run of %s in this VM to end\n' "$name" >>"$log"
  if ! flock -w "$((check_s + cloud_init_s + apply_s + verify_s))" 9; then
    ran lock 1
    show_tail
    exit 1
  fi
fi

case "$plan" in
  converge)
    rc=0
    feature check "$check_s" || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ] && exit "$rc"
    cloud_init || exit 1
    rc=0
    feature apply 0 || rc=$?
    if [ "$rc" -ne 0 ]; then
      show_tail
      exit "$rc"
    fi
    feature verify "$verify_s" || rc=$?
    show_tail
    exit "$rc"
    ;;
  check)
    feature check "$check_s"
    ;;
  verify)
    cloud_init || exit 1
    rc=0
    feature verify "$verify_s" || rc=$?
    show_tail
    exit "$rc"
    ;;
  *)
    printf 'converge.sh: unknown plan %s (converge, check or verify)\n' "$plan" >&2
    exit 2
    ;;
esac
