#!/usr/bin/env bash
# Whole-process timing of `rootless-doctor check --static` next to Docker's own preflight,
# `dockerd-rootless-setuptool.sh check` (Debian's docker.io ships it under
# /usr/share/docker.io/contrib), on the same machine, for the same ordinary account.
# Run as root: it creates a throwaway account and removes it. Needs hyperfine and docker.io.
#   bench/static.sh            # prints hyperfine's table
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)"; exit 2; }
contrib=/usr/share/docker.io/contrib
[ -x "$contrib/dockerd-rootless-setuptool.sh" ] || [ -f "$contrib/dockerd-rootless-setuptool.sh" ] || {
  echo "docker.io's dockerd-rootless-setuptool.sh is not installed (apt-get install docker.io)"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (it creates a throwaway account)"; exit 2; }

tmp=$(mktemp -d); chmod 755 "$tmp"
user=rdbench$$
cleanup() { userdel --remove "$user" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
useradd --create-home --shell /bin/sh "$user"
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/rootless-doctor" ./cmd/rootless-doctor
rt="$tmp/xdg"; mkdir -m 700 "$rt"; chown "$user" "$rt"
as_user="runuser -u $user -- env -i PATH=$contrib:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/$user XDG_RUNTIME_DIR=$rt"

hyperfine --warmup 5 --runs 100 -N --ignore-failure \
  --command-name 'rootless-doctor check --static' "$as_user $tmp/rootless-doctor check --static --output json" \
  --command-name 'dockerd-rootless-setuptool.sh check' "$as_user sh $contrib/dockerd-rootless-setuptool.sh check" \
  --command-name 'runuser (baseline)' "$as_user true"
