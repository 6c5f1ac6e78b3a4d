#!/usr/bin/env bash
# phoenix-migrate feature "mount": the VM's NFS volume in /etc/fstab and mounted, as `phoenix create` does for
# volumes (but without chmod 777: the host side makes the directory 0750 root:root, see docs/provisioning.md).
# Usage: mount.sh check|apply|verify SERVER EXPORT_PATH MOUNT_POINT
# check exits 0 when nothing needs doing; apply is idempotent; verify proves the result.
set -euo pipefail
mode="${1:?usage: mount.sh check|apply|verify SERVER EXPORT_PATH MOUNT_POINT}"
server="${2:?mount.sh: missing SERVER}"
export_path="${3:?mount.sh: missing EXPORT_PATH}"
mount_point="${4:?mount.sh: missing MOUNT_POINT}"
log=/var/log/phoenix-migrate/mount.log
# Builtins where one does: each process a check starts is CPU of the guest's own (docs/provisioning.md).
[ -d "${log%/*}" ] || mkdir -p "${log%/*}"
exec >>"$log" 2>&1
say() { printf 'phoenix-migrate mount: %s\n' "$*"; }
TZ=UTC0 printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
say "$mode $server:$export_path at $mount_point ($now)"
line="$server:$export_path $mount_point nfs defaults,auto,nofail 0 0"

in_fstab() {
  local l
  [ -f /etc/fstab ] || return 1
  while IFS= read -r l || [ -n "$l" ]; do [ "$l" = "$line" ] && return 0; done </etc/fstab
  return 1
}
mounted() { mountpoint -q -- "$mount_point"; }

case "$mode" in
  check)
    in_fstab && mounted
    ;;
  apply)
    if ! dpkg -s nfs-common >/dev/null 2>&1; then
      say "installing nfs-common"
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q nfs-common
    fi
    mkdir -p -- "$mount_point"
    if ! in_fstab; then
      # Another line for this mount point (an older server or path) would shadow ours: replace it.
      tmp=/etc/fstab.phoenix-migrate.tmp
      : >"$tmp"
      while IFS= read -r existing || [ -n "$existing" ]; do
        read -r _ target _ <<<"$existing" || true
        if [ "${target:-}" = "$mount_point" ] && [ "${existing:0:1}" != '#' ]; then
          say "replacing fstab line: $existing"
          continue
        fi
        printf '%s\n' "$existing" >>"$tmp"
      done </etc/fstab
      printf '%s\n' "$line" >>"$tmp"
      cat "$tmp" >/etc/fstab
      rm -f -- "$tmp"
      say "added to /etc/fstab: $line"
    fi
    if ! mounted; then
      say "mounting $mount_point"
      mount -- "$mount_point"
    fi
    ;;
  verify)
    if ! mounted; then
      say "$mount_point is not a mount point"
      exit 1
    fi
    say "$mount_point is mounted"
    ;;
  *)
    say "unknown mode '$mode' (check, apply or verify)"
    exit 2
    ;;
esac
