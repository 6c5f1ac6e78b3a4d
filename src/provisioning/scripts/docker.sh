#!/usr/bin/env bash
# phoenix-migrate feature "docker": Docker CE with the compose plugin from Docker's own apt repository, enabled and
# running, and the VM's user in the "docker" group. (Phoenix also installs apt's docker-compose v1; we do not: the
# plugin's `docker compose` is what Portainer and the compose files need.)
# Usage: docker.sh check|apply|verify [USER]
set -euo pipefail
mode="${1:?usage: docker.sh check|apply|verify [USER]}"
user="${2:-}"
log=/var/log/phoenix-migrate/docker.log
# Builtins where one does: each process a check starts is CPU of the guest's own (docs/provisioning.md).
[ -d "${log%/*}" ] || mkdir -p "${log%/*}"
exec >>"$log" 2>&1
say() { printf 'phoenix-migrate docker: %s\n' "$*"; }
TZ=UTC0 printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
say "$mode ($now)"
packages=(docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin)
keyring=/etc/apt/keyrings/docker.asc
list=/etc/apt/sources.list.d/docker.list

installed() { dpkg -s "${packages[@]}" >/dev/null 2>&1; }
running() { systemctl is-active --quiet docker && docker info >/dev/null 2>&1; }
compose() { docker compose version >/dev/null 2>&1; }
in_group() {
  local groups
  [ -n "$user" ] || return 0
  groups=" $(id -nG "$user" 2>/dev/null) " || return 1
  [[ $groups == *" docker "* ]]
}

case "$mode" in
  check)
    installed && running && compose && in_group
    ;;
  apply)
    if ! installed; then
      install -m 0755 -d /etc/apt/keyrings
      if [ ! -s "$keyring" ]; then
        say "fetching Docker's apt key"
        curl -fsSL https://download.docker.com/linux/ubuntu/gpg -o "$keyring"
        chmod a+r "$keyring"
      fi
      # shellcheck disable=SC1091 # the guest's own os-release
      . /etc/os-release
      repo="deb [arch=$(dpkg --print-architecture) signed-by=$keyring] https://download.docker.com/linux/ubuntu ${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release} stable"
      if [ "$(cat "$list" 2>/dev/null || true)" != "$repo" ]; then
        printf '%s\n' "$repo" >"$list"
        say "wrote $list"
      fi
      say "installing ${packages[*]}"
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}"
    fi
    systemctl enable --now docker
    if ! in_group; then
      say "adding $user to the docker group"
      usermod -aG docker "$user"
    fi
    ;;
  verify)
    version="$(docker info --format '{{.ServerVersion}}')"
    docker compose version
    in_group || { say "$user is not in the docker group"; exit 1; }
    say "Docker $version running"
    ;;
  *)
    say "unknown mode '$mode' (check, apply or verify)"
    exit 2
    ;;
esac
