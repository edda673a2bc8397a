#!/usr/bin/env bash
# bench/fleet.sh — fleet triage, `check --root 'DIR/*' --output jsonl`, over N copies of the
# fixture trees on disk (hard links: distinct paths, the same bytes), for each N: wall time in
# one hyperfine run, hosts/s, and peak RSS (/usr/bin/time). Issue 16, goal 3: at least 3,000
# hosts/s on this 2-core machine, and peak RSS flat in N, at most 64 MB for 1,000 and for
# 30,000 hosts. hosts/CPU-s (user + system time of one run) is the figure that holds on a loaded
# machine, where wall time mostly measures the other jobs.
#
#   bench/fleet.sh [BINARY [BASELINE]]   (default: built from this checkout, static and stripped)
#
# With BASELINE (another build, e.g. of the commit before a change), each fleet is also run
# PAIRS times by each binary, interleaved (baseline, binary, baseline, …), on the same trees
# in the same minutes, and the medians of wall and CPU time are printed with the ratio
# binary ÷ baseline: on a shared machine, where one binary's figures drift by ±10% from one
# quarter hour to the next, that is the comparison that holds.
#
# Needs: hyperfine, python3, /usr/bin/time (Debian package time). Environment: SIZES (default
# "1000 30000"), RUNS (default 5), FORMAT (default jsonl), PAIRS (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need hyperfine python3
[ -x /usr/bin/time ] || { echo "${0##*/}: /usr/bin/time is not installed (apt-get install time)" >&2; exit 2; }
SIZES=${SIZES:-1000 30000}
RUNS=${RUNS:-5}
FORMAT=${FORMAT:-jsonl}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -gt 0 ]; then cp "$1" "$work/rootless-doctor"; else need go; build_rd "$work/rootless-doctor"; fi
rd=$work/rootless-doctor
base=
if [ $# -gt 1 ]; then base=$work/baseline; cp "$2" "$base"; fi
PAIRS=${PAIRS:-10}
mapfile -t trees < <(find fixtures -mindepth 2 -maxdepth 2 -name manifest.json -printf "%h\n" | sort)

echo "bench/fleet.sh: $(uname -r), $(nproc) CPUs, ${#trees[@]} fixture trees, --output $FORMAT, $RUNS runs each"
printf '%8s %10s %10s %8s %12s %14s %14s\n' hosts "mean s" "median s" "σ s" "hosts/s" "hosts/CPU-s" "peak RSS MB"
for n in $SIZES; do
  fleet=$work/fleet-$n
  mkdir "$fleet"
  # What `cp -al TREE DIR/hNNNNNN` per host made, in one process: a process per host took
  # ~12 minutes for 30,000 hosts on a 2-vCPU VM, this ~75 s.
  python3 - "$fleet" "$n" "${trees[@]}" <<'PY'
import os, sys
fleet, n, trees = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def clone(src, dst):
    os.mkdir(dst)
    os.chmod(dst, os.lstat(src).st_mode & 0o7777)
    for top, dirs, files in os.walk(src):
        out = os.path.join(dst, os.path.relpath(top, src))
        for name in dirs + files:
            s, d = os.path.join(top, name), os.path.join(out, name)
            st = os.lstat(s)
            if os.path.stat.S_ISDIR(st.st_mode):
                os.mkdir(d)
                os.chmod(d, st.st_mode & 0o7777)
            else:  # a file, symlink or special file: hard-linked, as cp -al does
                os.link(s, d, follow_symlinks=False)
for i in range(n):
    clone(trees[i % len(trees)], "%s/h%06d" % (fleet, i))
PY
  sync
  quiet_wait >/dev/null
  hyperfine -N --warmup 1 --runs "$RUNS" --ignore-failure --style basic --export-json "$work/hf-$n.json" \
    --command-name "fleet $n" "$rd check --root $fleet/* --output $FORMAT" >/dev/null 2>&1
  read -r m med sd < <(hf_stats "$work/hf-$n.json" "fleet $n")
  /usr/bin/time -f '%M %U %S' -o "$work/rss" "$rd" check --root "$fleet/*" --output "$FORMAT" >/dev/null 2>&1 || true
  read -r rss usr sys < <(tail -1 "$work/rss")
  python3 - "$n" "$m" "$med" "$sd" "$rss" "$usr" "$sys" <<'PY'
import sys
n = int(sys.argv[1]); m, med, sd = (float(x) / 1e3 for x in sys.argv[2:5]); rss = int(sys.argv[5]) / 1024
cpu = float(sys.argv[6]) + float(sys.argv[7])
print("%8d %10.3f %10.3f %8.3f %12.0f %14.0f %14.1f" % (n, m, med, sd, n / m, n / cpu if cpu else 0, rss))
PY
  if [ -n "$base" ]; then
    : >"$work/pairs"
    for ((i = 0; i < PAIRS; i++)); do
      for who in baseline binary; do
        bin=$rd
        [ "$who" = baseline ] && bin=$base
        /usr/bin/time -f "$who %e %U %S" -a -o "$work/pairs" "$bin" check --root "$fleet/*" --output "$FORMAT" >/dev/null 2>&1 || true
      done
    done
    python3 - "$n" "$work/pairs" <<'PY'
import statistics, sys
n, runs = int(sys.argv[1]), {"baseline": [], "binary": []}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 4 and f[0] in runs:  # /usr/bin/time also notes a non-zero exit status
        runs[f[0]].append((float(f[1]), float(f[2]) + float(f[3])))
def medians(k):  # (wall, CPU) medians of one binary's runs
    return tuple(statistics.median(x[i] for x in runs[k]) for i in (0, 1))
(bw, bc), (w, c) = medians("baseline"), medians("binary")
print("%8s paired with the baseline, median of %d interleaved runs each: wall %.3f → %.3f s (%.0f → %.0f hosts/s), ratio %.3f; CPU %.2f → %.2f s, ratio %.3f"
      % ("", len(runs["binary"]), bw, w, n / bw, n / w, w / bw, bc, c, c / bc))
PY
  fi
  rm -rf "$fleet"
done
echo "goal: at least 3,000 hosts/s; peak RSS at most 64 MB and flat in the number of hosts"
