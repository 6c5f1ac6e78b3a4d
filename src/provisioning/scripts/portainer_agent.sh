#!/usr/bin/env bash
# phoenix-migrate feature "portainer_agent" (portainer_role "agent"): portainer/agent on 9001 with the Docker socket
# and volumes mounted, restarted always — what the Portainer server connects to as an environment.
# Usage: portainer_agent.sh check|apply|verify IMAGE
set -euo pipefail
mode="${1:?usage: portainer_agent.sh check|apply|verify IMAGE}"
image="${2:?portainer_agent.sh: missing IMAGE}"
name=portainer_agent
log=/var/log/phoenix-migrate/portainer_agent.log
# Builtins where one does: each process a check starts is CPU of the guest's own (docs/provisioning.md).
[ -d "${log%/*}" ] || mkdir -p "${log%/*}"
exec >>"$log" 2>&1
say() { printf 'phoenix-migrate portainer_agent: %s\n' "$*"; }
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
      say "starting $image"
      docker run -d --name "$name" --restart=always -p 9001:9001 \
        -v /var/run/docker.sock:/var/run/docker.sock \
        -v /var/lib/docker/volumes:/var/lib/docker/volumes "$image"
    fi
    ;;
  verify)
    running || { say "$name is not running"; exit 1; }
    say "$name runs ($(docker inspect -f '{{.Config.Image}}' "$name")), published on 9001"
    ;;
  *)
    say "unknown mode '$mode' (check, apply or verify)"
    exit 2
    ;;
esac
