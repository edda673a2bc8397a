#!/usr/bin/env bash
# bench/startup.sh — how much rootless-doctor's start-up costs above a static Go hello-world
# (issue 16, goal 1: `rootless-doctor --version` at most 2 ms above it). Whole processes, side by
# side in one hyperfine run, and — noise-free on a shared machine — the instructions each
# executes (valgrind), its page faults (perf stat) and its package initialisation
# (GODEBUG=inittrace=1).
#
#   bench/startup.sh [BINARY]     (default: built from this checkout, static and stripped)
#
# Needs: go, hyperfine, valgrind, python3; perf (linux-perf) for the page faults, optional.
# Environment: RUNS (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need go hyperfine valgrind python3
RUNS=${RUNS:-300}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/hello" ./bench/hello)
if [ $# -gt 0 ]; then cp "$1" "$work/rootless-doctor"; else build_rd "$work/rootless-doctor"; fi
rd=$work/rootless-doctor
# A build from before --version existed is timed with --help (the cheapest command it had).
cmd="--version"
"$rd" --version >/dev/null 2>&1 || cmd="--help"

quiet_wait
hyperfine -N --warmup 20 --runs "$RUNS" --style basic --export-json "$work/hf.json" \
  --command-name hello "$work/hello" \
  --command-name "rootless-doctor $cmd" "$rd $cmd" \
  --command-name "rootless-doctor --help" "$rd --help" >/dev/null 2>&1

read -r hm hmed hsd < <(hf_stats "$work/hf.json" hello)
read -r rm rmed rsd < <(hf_stats "$work/hf.json" "rootless-doctor $cmd")
read -r pm pmed psd < <(hf_stats "$work/hf.json" "rootless-doctor --help")
hi=$(instructions "$work/hello")
ri=$(instructions "$rd" $cmd)
pi=$(instructions "$rd" --help)
faults() { perf stat -x, -r 20 -e page-faults "$@" 2>&1 >/dev/null | awk -F, '/page-faults/{print $1}'; }
hf=- rf=-
if command -v perf >/dev/null; then hf=$(faults "$work/hello"); rf=$(faults "$rd" $cmd); fi
init=$(GODEBUG=inittrace=1 "$rd" $cmd 2>&1 >/dev/null | awk '/^init /{s += $5; n++} END {printf "%d packages, %.2f ms", n, s}')
heavy=$(GODEBUG=inittrace=1 "$rd" $cmd 2>&1 >/dev/null | awk '/^init / && $5 >= 0.1 {printf "%s%s %s ms", sep, $2, $5; sep=", "}')

echo "bench/startup.sh: $(uname -r), $(nproc) CPUs, $(go version | cut -d' ' -f3), binary $(stat -c %s "$rd") bytes, $RUNS runs"
printf '%-28s %9s %9s %7s %14s %8s\n' command "mean ms" "median ms" "σ ms" instructions faults
printf '%-28s %9s %9s %7s %14s %8s\n' hello "$hm" "$hmed" "$hsd" "$hi" "$hf"
printf '%-28s %9s %9s %7s %14s %8s\n' "rootless-doctor $cmd" "$rm" "$rmed" "$rsd" "$ri" "$rf"
printf '%-28s %9s %9s %7s %14s %8s\n' "rootless-doctor --help" "$pm" "$pmed" "$psd" "$pi" -
python3 - "$hm" "$hmed" "$rm" "$rmed" "$hi" "$ri" "$cmd" <<'PY'
import sys
hm, hmed, rm, rmed = map(float, sys.argv[1:5]); hi, ri = map(int, sys.argv[5:7])
print("rootless-doctor %s above hello: %+.2f ms (mean), %+.2f ms (median), %.2fx (mean); "
      "%.1fx the instructions; goal: at most +2 ms" % (sys.argv[7], rm - hm, rmed - hmed, rm / hm, ri / hi))
PY
echo "package init ($cmd): $init; at least 0.1 ms: ${heavy:-none}"
