#!/usr/bin/env bash
# phoenix-migrate feature "base_setup": the packages every Phoenix VM gets before Docker (Phoenix's base_setup also
# mounts the volume; here that is the separate "mount" feature, which runs first).
# Usage: base_setup.sh check|apply|verify
set -euo pipefail
mode="${1:?usage: base_setup.sh check|apply|verify}"
log=/var/log/phoenix-migrate/base_setup.log
mkdir -p "${log%/*}"
exec >>"$log" 2>&1
say() { printf 'phoenix-migrate base_setup: %s\n' "$*"; }
say "$mode ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
packages=(ca-certificates curl gnupg nfs-common)

missing() {
  local p
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || printf '%s\n' "$p"
  done
}

case "$mode" in
  check)
    [ -z "$(missing)" ]
    ;;
  apply)
    mapfile -t need < <(missing)
    if [ "${#need[@]}" -gt 0 ]; then
      say "installing ${need[*]}"
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
    fi
    ;;
  verify)
    mapfile -t left < <(missing)
    if [ "${#left[@]}" -gt 0 ]; then
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
