#!/usr/bin/env bash
# bench/prove.sh — time the live proof beside what a user would otherwise run to find out
# whether rootless containers work: a rootless `podman run` of a local rootfs and a bare
# `rootlesskit --net=slirp4netns true`. Whole processes, measured with hyperfine.
#
#   bench/prove.sh [BINARY]        (default: bin/rootless-doctor; build it with `make build`)
#
# As root (CI, the dev machine) it creates a throwaway account with subordinate ids, a tiny
# rootfs holding /usr/bin/true, and a tun device node of mode 0666 bound over /dev/net/tun in a
# private mount namespace (the host's device keeps its mode), runs hyperfine as that account,
# and removes all of it on exit. As an ordinary account it needs subordinate ids and a usable
# /dev/net/tun, and times the commands directly.
#
# Needs: hyperfine, podman, rootlesskit, slirp4netns, uidmap (Debian packages of those names).
# Environment: RUNS (default 30), WARMUP (default 3), EXPORT (a markdown file for the table).
set -euo pipefail

BIN=$(realpath "${1:-bin/rootless-doctor}")
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
EXPORT=${EXPORT:-}

for tool in hyperfine podman rootlesskit slirp4netns newuidmap; do
  command -v "$tool" >/dev/null || { echo "bench/prove.sh: $tool is not installed" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "bench/prove.sh: $BIN is not executable (make build)" >&2; exit 2; }

work=$(mktemp -d /tmp/rdoctor-bench-XXXXXX)
chmod 0755 "$work"
user=""
cleanup() {
  set +e
  if [ -n "$user" ]; then
    # Only the throwaway account's processes (podman leaves its pause process running).
    uid=$(id -u "$user" 2>/dev/null) && pkill -KILL -U "$uid" && sleep 0.2
    userdel --force --remove "$user" >/dev/null 2>&1
    rm -rf "/tmp/containers-user-$uid" "/tmp/podman-run-$uid" "/run/user/$uid/containers" "/run/user/$uid/libpod"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A rootfs holding only /usr/bin/true and its loader and libraries.
rootfs="$work/rootfs"
mkdir -p "$rootfs"
for f in /usr/bin/true $(ldd /usr/bin/true | grep -o '/[^ ]*'); do
  cp --parents -L "$f" "$rootfs/"
done
cp "$BIN" "$work/rootless-doctor"
# --net gvisor runs the helper binary found beside rootless-doctor only (docs/performance.md).
if [ -x "$(dirname "$BIN")/rootless-doctor-gvisor" ]; then
  cp "$(dirname "$BIN")/rootless-doctor-gvisor" "$work/rootless-doctor-gvisor"
fi

cmds=(
  "$work/rootless-doctor prove --output json"
  "$work/rootless-doctor prove --net gvisor --output json"
  "podman --runtime runc run --rm --network=none --rootfs $rootfs true"
  "rootlesskit --net=slirp4netns true"
)
hf=(hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic)
if [ -n "$EXPORT" ]; then
  touch "$EXPORT" && chmod 0666 "$EXPORT"
  hf+=(--export-markdown "$(realpath "$EXPORT")")
fi

if [ "$(id -u)" != 0 ]; then
  exec "${hf[@]}" "${cmds[@]}"
fi

user="rdbench$$"
useradd --create-home --shell /bin/sh "$user"
if ! grep -q "^$user:" /etc/subuid || ! grep -q "^$user:" /etc/subgid; then
  usermod --add-subuids 3400000000-3400065535 --add-subgids 3400000000-3400065535 "$user"
fi
chown -R "$user:" "$rootfs" # podman creates /etc in the rootfs
mknod -m 0666 "$work/tun" c 10 200
home=$(getent passwd "$user" | cut -d: -f6)
echo "bench/prove.sh: $(uname -r), $(nproc) CPUs, account $user, $(podman --version), rootlesskit $(rootlesskit --version | head -1 | awk '{print $NF}'), $(slirp4netns --version | head -1)"
# shellcheck disable=SC2016
unshare --mount --propagation private sh -c 'mount --bind "$1" /dev/net/tun && shift && exec "$@"' sh "$work/tun" \
  runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" \
  PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
  "${hf[@]}" "${cmds[@]}"
