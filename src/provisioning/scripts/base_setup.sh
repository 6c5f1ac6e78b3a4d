#!/usr/bin/env bash
# phoenix-migrate feature "base_setup": the packages every Phoenix VM gets before Docker (Phoenix's base_setup also
# mounts the volume; here that is the separate "mount" feature, which runs first).
# Usage: base_setup.sh check|apply|verify
set -euo pipefail
mode="${1:?usage: base_setup.sh check|apply|verify}"
log=/var/log/phoenix-migrate/base_setup.log
# Builtins where one does: each process a check starts is CPU of the guest's own (docs/provisioning.md).
[ -d "${log%/*}" ] || mkdir -p "${log%/*}"
exec >>"$log" 2>&1
say() { printf 'phoenix-migrate base_setup: %s\n' "$*"; }
TZ=UTC0 printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
say "$mode ($now)"
packages=(ca-certificates curl gnupg nfs-common)

# One dpkg for all: it fails when any of them is not installed. `missing` names them, one dpkg each.
installed() { dpkg -s "${packages[@]}" >/dev/null 2>&1; }
missing() {
  local p
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || printf '%s\n' "$p"
  done
}

case "$mode" in
  check)
    installed
    ;;
  apply)
    if ! installed; then
      mapfile -t need < <(missing)
      say "installing ${need[*]}"
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
    fi
    ;;
  verify)
    if ! installed; then
      mapfile -t left < <(missing)
      say "still missing: ${left[*]}"
      exit 1
    fi
    say "packages present: ${packages[*]}"
    ;;
  *)
    say "unknown mode '$mode' (check, apply or verify)"
    exit 2
    ;;
esac
