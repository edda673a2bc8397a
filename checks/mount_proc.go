package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var mountProc = Probe{
	ID:    "mount.proc",
	Title: "/proc mount options",
	Fails: "/proc mounted with hidepid=1, 2 or 4 (invisible, noaccess, ptraceable) and no gid= of a group the account is in (warn)",
	Why: "Hardening guides (CIS benchmarks) mount /proc with hidepid=2: an account then sees only its own " +
		"processes in /proc. Rootless containers run as the account's subordinate uids, so the account's " +
		"engine, its tools (docker top, podman top, ps) and its helpers lose sight of the containers' " +
		"processes, and rootless Docker was reported to fail to run containers at all " +
		"(docs/failures/catalogue.json#proc-mounted-hidepid, docker/docker-install#324). gid= names a " +
		"group that keeps the full view (proc(5)).",
	Reads: []string{facts.MountinfoPath + " (the super options of /proc: hidepid=, gid=)", "/etc/group (the account's groups)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runMountProc,
}

func runMountProc(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	mt := e.Mounts()
	switch {
	case errors.Is(mt.Err, fs.ErrNotExist):
		return finding.Undecided(mt.Err, "%s is missing (is /proc mounted?)", facts.MountinfoPath)
	case mt.Err != nil:
		return finding.Undecided(mt.Err, "cannot read the mount table %s", facts.MountinfoPath)
	}
	m := parse.MountAt(mt.Mounts, "/proc")
	if m == nil || m.FSType != "proc" {
		return finding.Skipf("%s lists no procfs at /proc", facts.MountinfoPath)
	}
	r := finding.Result{}.With(facts.MountinfoPath, mountinfoLine(m.Mountpoint, m.Options, m.Optional, m.FSType, m.Source)+" "+m.VFSOptions)
	h := parse.ParseHidePID(m.VFSOptions)
	if h.Level == 0 {
		return r.WithStatus(finding.Pass, "/proc shows every process (no hidepid)")
	}
	if h.HasGID && e.InGroup(h.GID) {
		return r.WithStatus(finding.Pass, "/proc is mounted hidepid=%s, but %s is in its exempt group (gid=%d)", h.Value, e.User.Name, h.GID)
	}
	exempt := ""
	if h.HasGID {
		exempt = fmt.Sprintf(" and %s is not in its exempt group %d", e.User.Name, h.GID)
	}
	what := "other users' processes are hidden in /proc"
	if h.Level == 1 {
		what = "other users' /proc/PID directories cannot be read"
	}
	// The numeric level: kernels before 5.8 know no names.
	fstab := fmt.Sprintf("proc /proc proc defaults,hidepid=%d,gid=GROUP 0 0", h.Level)
	return r.WithStatus(finding.Warn, "/proc is mounted hidepid=%s%s: %s, including the containers' processes, which run as %s's subordinate uids", h.Value, exempt, what, e.User.Name).
		Detail("The rootless engine and its tools (docker top, podman top, ps, healthchecks) lose sight of the containers' processes; rootless Docker was reported to fail to run containers at all (docker/docker-install#324).").
		Fix(finding.ManualStep("proc-hidepid", fmt.Sprintf(
			"as root exempt a group %s is in from hidepid: in /etc/fstab use `%s` with GROUP a group of %s (or drop hidepid), then mount -o remount,hidepid=%d,gid=GROUP /proc",
			e.User.Name, fstab, e.User.Name, h.Level)))
}
