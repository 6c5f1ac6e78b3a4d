#!/usr/bin/env bash
# phoenix-migrate feature "portainer_server" (portainer_role "primary"): the Portainer CE server container, HTTPS on
# 9443, its data on the VM's persistent storage, restarted always. A running "portainer" container counts as done
# whatever its image (an adopted server is never recreated: its database lives in it).
# Usage: portainer_server.sh check|apply|verify IMAGE DATA_DIR
set -euo pipefail
mode="${1:?usage: portainer_server.sh check|apply|verify IMAGE DATA_DIR}"
image="${2:?portainer_server.sh: missing IMAGE}"
data_dir="${3:?portainer_server.sh: missing DATA_DIR}"
name=portainer
log=/var/log/phoenix-migrate/portainer_server.log
# Builtins where one does: each process a check starts is CPU of the guest's own (docs/provisioning.md).
[ -d "${log%/*}" ] || mkdir -p "${log%/*}"
exec >>"$log" 2>&1
say() { printf 'phoenix-migrate portainer_server: %s\n' "$*"; }
TZ=UTC0 printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
say "$mode $image ($now)"

exists() { docker inspect "$name" >/dev/null 2>&1; }
running() { [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null || true)" = true ]; }

case "$mode" in
  check)
    running
    ;;
  apply)
    if exists; then
      say "starting the existing $name container"
      docker start "$name"
    else
      mkdir -p -- "$data_dir"
      say "starting $image"
      docker run -d --name "$name" --restart=always -p 9443:9443 \
        -v /var/run/docker.sock:/var/run/docker.sock -v "$data_dir:/data" "$image"
    fi
    ;;
  verify)
    running || { say "$name is not running"; exit 1; }
    curl -fsk --max-time 10 https://127.0.0.1:9443/api/system/status >/dev/null
    say "$name runs and answers on 9443 ($(docker inspect -f '{{.Config.Image}}' "$name"))"
    ;;
  *)
    say "unknown mode '$mode' (check, apply or verify)"
    exit 2
    ;;
esac
