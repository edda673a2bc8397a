package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var leftoverPauseProcess = Probe{
	ID:    "leftover.pause-process",
	Title: "Podman's pause process",
	Fails: "pause.pid names a live process that is not Podman's pause process (fail) or a process that is gone (warn)",
	Why: "Rootless Podman keeps its user namespace alive in a pause process and records its pid in " +
		"$XDG_RUNTIME_DIR/libpod/tmp/pause.pid; every podman command joins that process's " +
		"namespaces. A pid file left by a crash, or restored with a VM image, may name a pid the " +
		"kernel has since given to an unrelated process: podman then tries to join a namespace that " +
		"is not its own and stops with `cannot set user namespace` or `cannot re-exec process` " +
		"(podman#13737, podman#9137, podman#8647; docs/failures/catalogue.json#stale-pause-pid).",
	Reads: []string{"$XDG_RUNTIME_DIR/libpod/tmp/pause.pid", "/proc/PID/status (Name, Uid)", "/proc/PID/uid_map"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runLeftoverPauseProcess,
}

// pauseNames are the process names of Podman's pause process: catatonit -P where catatonit is
// installed (Podman 4 and later), else podman itself, which names its pause process "podman
// pause" with PR_SET_NAME (pkg/rootless/rootless_linux.c, do_pause); plain "podman" for a
// pause process that has not renamed itself yet. Before, "podman pause" was a false fail on
// Debian 13 without catatonit while Podman ran containers (VM lab, issue 12).
var pauseNames = []string{"catatonit", "podman pause", "podman"}

func runLeftoverPauseProcess(_ context.Context, e *facts.Env) finding.Result {
	if skip, ok := e.NeedUser(); !ok {
		return skip
	}
	rt := e.RuntimeDir()
	if rt == "" {
		return finding.Skipf("no runtime directory for %s, so no pause.pid to read", e.User.Name)
	}
	pidFile := rt + "/libpod/tmp/pause.pid"
	data, err := e.Host.ReadFile(pidFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return finding.Passf("no pause.pid: Podman starts a new pause process when it needs one").With(pidFile, "missing")
	case err != nil:
		return finding.Undecided(err, "cannot read %s", pidFile)
	}
	r := finding.Result{}.With(pidFile, finding.ClipLine(strings.TrimSpace(string(data)), 40))
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	rm := finding.ManualStep("pause-pid", fmt.Sprintf("as %s, with no podman command running: rm %s (Podman starts a new pause process with the next command)", e.User.Name, pidFile))
	if err != nil || pid <= 0 {
		return r.WithStatus(finding.Warn, "%s does not hold a pid", pidFile).
			Detail("Podman cannot join a pause process through it; removing it lets Podman start a new one.").Fix(rm)
	}
	statusPath := fmt.Sprintf("/proc/%d/status", pid)
	st, err := e.Host.ReadFile(statusPath)
	if errors.Is(err, fs.ErrNotExist) {
		return r.With(statusPath, "missing").WithStatus(finding.Warn, "pause.pid names pid %d, which is no longer running", pid).
			Detail("Podman 4 and later notice that the join fails and remove the stale file; older versions stop with `cannot re-exec process` (podman#9137). If the pid is reused before the next podman command, podman tries to join the wrong process.").
			Fix(rm)
	}
	if err != nil {
		return finding.Undecided(err, "cannot read %s", statusPath)
	}
	fields := parse.ParseProcStatus(st)
	name := fields["Name"]
	uids := strings.Fields(fields["Uid"])
	r = r.With(statusPath, fmt.Sprintf("Name %s, Uid %s", finding.ClipLine(name, 40), finding.ClipLine(fields["Uid"], 60)))
	if len(uids) == 0 {
		return finding.Undecided(errors.New("no Uid line"), "cannot tell who runs pid %d from %s", pid, statusPath)
	}
	owner := uids[0]
	mapPath := fmt.Sprintf("/proc/%d/uid_map", pid)
	idMap, mapErr := e.Host.ReadFile(mapPath)
	hostNS := mapErr == nil && isIdentityMap(idMap)
	if mapErr == nil {
		r = r.With(mapPath, finding.ClipLine(strings.Join(strings.Fields(string(idMap)), " "), 80))
	}
	isPause := slices.Contains(pauseNames, name)
	switch {
	case owner != strconv.Itoa(e.User.UID):
		return r.WithStatus(finding.Warn, "pause.pid names pid %d, a process of uid %s, not of %s (uid %d)", pid, owner, e.User.Name, e.User.UID).
			Detail("The pid was reused: Podman cannot join another account's namespaces (`cannot set user namespace`, podman#13737) and must remove the file first.").Fix(rm)
	case !isPause || hostNS:
		what := fmt.Sprintf("%q", name)
		if isPause {
			what += " in the host's user namespace"
		}
		return r.WithStatus(finding.Fail, "pause.pid names pid %d, %s's process %s, not Podman's pause process: podman will fail with `cannot set user namespace`", pid, e.User.Name, what).
			Detail("Podman joins the user and mount namespaces of the pid in pause.pid before anything else; this process is not in a namespace Podman made, so every podman command fails (podman#13737, podman#8647).").
			Fix(rm)
	}
	return r.WithStatus(finding.Pass, "pause.pid names pid %d, Podman's pause process (%s) of %s", pid, name, e.User.Name)
}

// isIdentityMap reports whether a uid_map is the initial user namespace's: 0 0 4294967295.
func isIdentityMap(m []byte) bool {
	return strings.Join(strings.Fields(string(m)), " ") == "0 0 4294967295"
}
