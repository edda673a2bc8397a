#!/usr/bin/env bash
# bench/static.sh — `rootless-doctor check --static` next to Docker's own preflight,
# `dockerd-rootless-setuptool.sh check` (Debian's docker.io ships it under
# /usr/share/docker.io/contrib), for the same ordinary account, in one hyperfine run, with a
# `runuser … true` baseline: each command's own time is its time less the baseline's (issue 16,
# goal 2: ours at most 1/3 of Docker's, with 25+ probes against its handful).
#
#   bench/static.sh [BINARY]      (default: built from this checkout, static and stripped)
#
# Run as root: it creates a throwaway account and removes it. Needs hyperfine, python3 and
# docker.io. Environment: RUNS (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need hyperfine python3
RUNS=${RUNS:-100}
contrib=/usr/share/docker.io/contrib
[ -f "$contrib/dockerd-rootless-setuptool.sh" ] || {
  echo "docker.io's dockerd-rootless-setuptool.sh is not installed (apt-get install docker.io)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (it creates a throwaway account)" >&2; exit 2; }

tmp=$(mktemp -d); chmod 755 "$tmp"
user=rdbench$$
cleanup() { userdel --remove "$user" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
useradd --create-home --shell /bin/sh "$user"
if [ $# -gt 0 ]; then cp "$1" "$tmp/rootless-doctor"; else need go; build_rd "$tmp/rootless-doctor"; fi
chmod 755 "$tmp/rootless-doctor"
rt="$tmp/xdg"; mkdir -m 700 "$rt"; chown "$user" "$rt"
as_user="runuser -u $user -- env -i PATH=$contrib:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/$user XDG_RUNTIME_DIR=$rt"
rd="$as_user $tmp/rootless-doctor check --static --output json"
docker="$as_user sh $contrib/dockerd-rootless-setuptool.sh check"

probes=$({ $rd 2>/dev/null || true; } | python3 -c 'import json, sys; print(sum(not r["id"].startswith("runtime.") for r in json.load(sys.stdin)["results"]))')
quiet_wait
hyperfine -N --warmup 5 --runs "$RUNS" --ignore-failure --style basic --export-json "$tmp/hf.json" \
  --command-name 'rootless-doctor check --static' "$rd" \
  --command-name 'dockerd-rootless-setuptool.sh check' "$docker" \
  --command-name 'runuser (baseline)' "$as_user true" >/dev/null 2>&1

echo "bench/static.sh: $(uname -r), $(nproc) CPUs, $RUNS runs, as a throwaway account; rootless-doctor runs $probes static probes"
printf '%-38s %9s %9s %7s\n' command "mean ms" "median ms" "σ ms"
for n in 'rootless-doctor check --static' 'dockerd-rootless-setuptool.sh check' 'runuser (baseline)'; do
  read -r m med sd < <(hf_stats "$tmp/hf.json" "$n")
  printf '%-38s %9s %9s %7s\n' "$n" "$m" "$med" "$sd"
done
python3 - "$tmp/hf.json" <<'PY'
import json, statistics, sys
t = {r["command"]: r["times"] for r in json.load(open(sys.argv[1]))["results"]}
for f, name in ((statistics.mean, "mean"), (statistics.median, "median")):
    base = f(t["runuser (baseline)"])
    rd = f(t["rootless-doctor check --static"]) - base
    dk = f(t["dockerd-rootless-setuptool.sh check"]) - base
    print("own time (%s, less the baseline): rootless-doctor %.2f ms, dockerd-rootless-setuptool.sh %.2f ms, ratio %.2f (goal: at most 0.33)" % (name, 1e3 * rd, 1e3 * dk, rd / dk))
PY
# CPU time (task-clock of the command and all its children, perf stat): on a loaded machine
# wall time mostly measures the other jobs; this does not.
if command -v perf >/dev/null; then
  cpu() { perf stat -x, -r "$RUNS" -e task-clock "$@" 2>&1 >/dev/null | awk -F, '/task-clock/{print $1}'; }
  # shellcheck disable=SC2086 # the command lines are meant to split into words
  read -r crd cdk cbase < <(echo "$(cpu $rd)" "$(cpu $docker)" "$(cpu $as_user true)")
  python3 - "$crd" "$cdk" "$cbase" <<'PY'
import sys
rd, dk, base = map(float, sys.argv[1:4])
print("CPU ms (task-clock, with children): rootless-doctor %.2f, dockerd-rootless-setuptool.sh %.2f, runuser %.2f; "
      "own CPU ratio %.2f (goal: at most 0.33)" % (rd, dk, base, (rd - base) / (dk - base)))
PY
fi
