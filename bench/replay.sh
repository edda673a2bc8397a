#!/usr/bin/env bash
# bench/replay.sh — BenchmarkReplay (fixtures/bench_test.go) on one core: what `check --root`
# does per recorded host, over the fixture trees, from disk and with the trees already in
# memory. Issue 16, goal 3: from disk at least 2,000 hosts/s on one core.
#
#   bench/replay.sh [BASELINE]   (BASELINE: a commit, tag or branch of this repository)
#
# Builds the fixtures test binary of this checkout (`go test -c`), and with BASELINE that of
# BASELINE too, in a temporary git worktree removed afterwards. Each binary runs PAIRS times
# (default 5), interleaved (baseline, this, baseline, …), in this checkout's fixtures/: the same
# trees for both, in the same minutes. It prints the median hosts/s of each sub-benchmark and,
# with BASELINE, the ratio this ÷ baseline: on a shared machine one binary's figures drift by
# ±10% from one quarter hour to the next, and only the paired ratio holds.
#
# Needs: go, git (with BASELINE), python3. Environment: PAIRS (default 5), BENCHTIME (default
# 300x: 300 passes over the fixtures, ~6,600 hosts per run).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need go python3
PAIRS=${PAIRS:-5}
BENCHTIME=${BENCHTIME:-300x}

work=$(mktemp -d)
wt=
cleanup() {
  [ -z "$wt" ] || git worktree remove --force "$wt" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
go test -c -o "$work/this.test" ./fixtures
who=(this)
base=
if [ $# -gt 0 ]; then
  need git
  base=$(git rev-parse --verify --quiet "$1^{commit}") || { echo "${0##*/}: $1 is not a commit of this repository" >&2; exit 2; }
  wt=$work/baseline-tree
  git worktree add --quiet --detach "$wt" "$base"
  (cd "$wt" && go test -c -o "$work/baseline.test" ./fixtures)
  who=(baseline this)
fi

quiet_wait
echo "bench/replay.sh: $(uname -r), $(nproc) CPUs, $(find fixtures -mindepth 2 -maxdepth 2 -name manifest.json | wc -l) fixture trees, -test.cpu 1, -test.benchtime $BENCHTIME, $PAIRS runs each${base:+, baseline ${base:0:12}}"
: >"$work/results"
for ((i = 0; i < PAIRS; i++)); do
  for w in "${who[@]}"; do
    # Sub-benchmark lines: "BenchmarkReplay/from-disk  300  12345 ns/op  1234 hosts/s  …".
    (cd fixtures && "$work/$w.test" -test.run '^$' -test.bench 'BenchmarkReplay/(from-disk|loaded)$' \
      -test.benchtime "$BENCHTIME" -test.cpu 1 -test.benchmem) |
      awk -v w="$w" '/^BenchmarkReplay\// { for (i = 1; i < NF; i++) if ($(i+1) == "hosts/s") print w, $1, $i }' >>"$work/results"
  done
done
python3 - "$work/results" "${who[@]}" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    w, name, v = line.split()
    runs.setdefault((w, name.split("/", 1)[1]), []).append(float(v))
who = sys.argv[2:]
print("%-10s %s" % ("", " ".join("%22s" % ("%s hosts/s" % w) for w in who)) + ("%8s" % "ratio" if len(who) == 2 else ""))
for sub in ("from-disk", "loaded"):
    got = [runs.get((w, sub), [0]) for w in who]
    med = [statistics.median(v) for v in got]
    line = "%-10s %s" % (sub, " ".join("%22s" % ("%.0f (%.0f-%.0f)" % (m, min(v), max(v))) for m, v in zip(med, got)))
    if len(who) == 2 and med[0]:
        line += "%8.2f" % (med[1] / med[0])
    print(line)
print("median (min-max) of the runs; goal: from-disk >= 2000 hosts/s")
PY
