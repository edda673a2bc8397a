# Shared by the bench/ scripts (sourced, not run).

# need TOOL... — exit 2 naming the first tool that is missing.
need() {
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "${0##*/}: $t is not installed (apt-get install ${t/valgrind/valgrind})" >&2; exit 2; }
  done
}

# build_rd OUT [TREE] — a static, stripped rootless-doctor from TREE (default: this checkout),
# as `make build` builds it plus -ldflags='-s -w' (what a release ships).
build_rd() {
  local out=$1 tree=${2:-.}
  (cd "$tree" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out" ./cmd/rootless-doctor)
}

# quiet_wait — wait (up to QUIET_WAIT seconds, default 120) until the 1-minute load average is below the number of
# CPUs, so a shared machine's other jobs disturb the timings less; print the load either way.
quiet_wait() {
  local n i
  n=$(nproc)
  for i in $(seq $(( ${QUIET_WAIT:-120} / 5 ))); do
    awk -v n="$n" '{exit !($1 < n)}' /proc/loadavg && break
    sleep 5
  done
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $n CPUs"
}

# instructions CMD... — instructions the process executes (valgrind's callgrind; noise-free,
# unlike times on a shared machine). Go's asynchronous preemption signals trip callgrind, so
# they are turned off for the count.
instructions() {
  GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# hf_stats JSON NAME — "mean median stddev" in ms of the hyperfine command named NAME.
hf_stats() {
  python3 - "$1" "$2" <<'PY'
import json, statistics, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["command"] == sys.argv[2]:
        t = r["times"]
        sd = statistics.stdev(t) if len(t) > 1 else 0.0  # RUNS=1: no spread to report
        print("%.2f %.2f %.2f" % (1e3 * statistics.mean(t), 1e3 * statistics.median(t), 1e3 * sd))
PY
}

# cpu_ms CMD... — CPU time (user + system, ms) of CMD and every process it starts, the mean
# of 20 runs (perf stat's task-clock). Less disturbed by other jobs than wall time.
cpu_ms() {
  perf stat -x, -r "${CPU_RUNS:-20}" -e task-clock "$@" 2>&1 >/dev/null | awk -F, '/task-clock/{printf "%.2f", $1}'
}
