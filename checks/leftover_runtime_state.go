package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var leftoverRuntimeState = Probe{
	ID:    "leftover.runtime-state",
	Title: "Other rootless engines' state",
	Fails: "rootless containerd's state (running or left behind) in the runtime directory of an account with rootless Docker set up: fail where dockerd-rootless.sh refuses it (Docker 29.4 and later), else warn",
	Why: "containerd-rootless.sh (nerdctl) and dockerd-rootless.sh both start RootlessKit with state in " +
		"$XDG_RUNTIME_DIR; while rootless containerd runs or its $XDG_RUNTIME_DIR/containerd-rootless " +
		"is left behind, rootless Docker fails with `dockerd-rootless.sh conflicts with " +
		"containerd-rootless.sh` (Docker 29 and later) or, before, with errors that do not name the " +
		"cause (moby/moby#52175, moby/moby#52269; " +
		"docs/failures/catalogue.json#containerd-rootless-docker-conflict).",
	Reads: []string{"$XDG_RUNTIME_DIR/containerd-rootless/child_pid", "/proc/PID/status (Name)",
		"~/.config/systemd/user/docker.service and containerd.service", "dockerd-rootless.sh (PATH, ~/bin, Debian's docker.io)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runLeftoverRuntimeState,
}

func runLeftoverRuntimeState(_ context.Context, e *facts.Env) finding.Result {
	if skip, ok := e.NeedUser(); !ok {
		return skip
	}
	rt := e.RuntimeDir()
	if rt == "" {
		return finding.Skipf("no runtime directory for %s", e.User.Name)
	}
	dir := rt + "/containerd-rootless"
	fi, err := e.Host.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return finding.Passf("no rootless containerd state in %s", rt).With(dir, "missing")
	case err != nil:
		return finding.Undecided(err, "cannot stat %s", dir)
	}
	r := finding.Result{}.With(dir, describeNode(fi))
	d := e.DockerRootless()
	if d.Unit.Main == "" {
		return r.WithStatus(finding.Pass, "rootless containerd's state is in %s; rootless Docker is not set up for %s", dir, e.User.Name)
	}
	r = r.With(d.Unit.Main, "rootless Docker's user unit")
	state := "left behind (no rootless containerd runs)"
	pidFile := dir + "/child_pid"
	if data, err := e.Host.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
			r = r.With(pidFile, strconv.Itoa(pid))
			if st, err := e.Host.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				state = fmt.Sprintf("in use (RootlessKit's child, pid %d, %s, is running)", pid, finding.ClipLine(parse.ParseProcStatus(st)["Name"], 40))
			}
		}
	}
	stop := "systemctl --user disable --now containerd.service && "
	if e.UserUnit("containerd.service").Main == "" {
		stop = "stop containerd-rootless.sh if it runs, then "
	}
	status, will := finding.Warn, "dockerd-rootless.sh conflicts with it"
	if d.Defaults.RefusesContainerdRootless {
		status, will = finding.Fail, d.Script+" will refuse to start"
	}
	return r.WithStatus(status, "rootless containerd's state %s is %s, and rootless Docker is set up (%s): %s", dir, state, homeRel(e, d.Unit.Main), will).
		Detail("dockerd-rootless.sh refuses to start beside rootless containerd (`[ERROR] dockerd-rootless.sh conflicts with containerd-rootless.sh`, Docker 29); older releases fail with errors that do not name it (moby/moby#52175).").
		Detail("One account runs one of the two: nerdctl with rootless containerd, or rootless Docker (which brings its own containerd).").
		Fix(finding.ManualStep("containerd-rootless", fmt.Sprintf("as %s, to keep rootless Docker: %srm -rf %s (or keep nerdctl and do not set up rootless Docker for this account)", e.User.Name, stop, dir)))
}
