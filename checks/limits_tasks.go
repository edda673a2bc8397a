package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var limitsTasks = Probe{
	ID:    "limits.tasks",
	Title: "Task limit of the user slice",
	Fails: "the account's user slice allows fewer than 8,192 tasks, or 80% of its limit is in use (warn)",
	Why: "systemd caps the tasks of each user-UID.slice with the pids controller (TasksMax=, " +
		"logind's UserTasksMax=, 33% of kernel.pid_max by default since systemd 239). Every " +
		"process and thread of the account's rootless containers counts against it, so a kind " +
		"cluster or a few busy containers reach a low limit and fork fails with \"Resource " +
		"temporarily unavailable\" (kubernetes-sigs/kind#3451, SUSE/doc-sle#598; " +
		"https://www.freedesktop.org/software/systemd/man/latest/logind.conf.html#UserTasksMax=; " +
		"docs/failures/catalogue.json#user-slice-tasksmax-too-low).",
	Reads: []string{
		"/sys/fs/cgroup/user.slice/user-UID.slice/pids.max and pids.current (cgroup v2; /sys/fs/cgroup/pids/… on v1)",
		facts.SysctlPath("kernel.pid_max"),
	},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runLimitsTasks,
}

const (
	// tasksLow is the slice limit below which the probe warns: a third of the 32768 pid_max
	// of older kernels and small machines is 10813, and a kind node alone runs hundreds.
	tasksLow = 8192
	// tasksBusy is the share of the limit in use (percent) from which the probe warns.
	tasksBusy = 80
)

func runLimitsTasks(_ context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	slice := fmt.Sprintf("user.slice/user-%d.slice", e.User.UID)
	var dir string
	switch e.Cgroup() {
	case facts.CgroupUnified:
		dir = "/sys/fs/cgroup/" + slice
	case facts.CgroupHybrid, facts.CgroupLegacy:
		dir = "/sys/fs/cgroup/pids/" + slice
	default:
		return finding.Skipf("cgroups are not mounted, so no task limit applies")
	}
	maxPath, curPath := dir+"/pids.max", dir+"/pids.current"
	data, err := e.Host.ReadFile(maxPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return finding.Skipf("%s has no pids.max: no user slice (no systemd login session) or no pids controller there, so no task limit of a slice applies", dir).
			With(maxPath, "absent")
	case err != nil:
		return finding.Undecided(err, "cannot read %s", maxPath)
	}
	val := strings.TrimSpace(string(data))
	r := finding.Result{}.With(maxPath, finding.Clip(val, 40))
	if val == "max" {
		return r.WithStatus(finding.Pass, "user-%d.slice has no task limit", e.User.UID)
	}
	limit, err := strconv.ParseInt(val, 10, 64)
	if err != nil || limit < 0 {
		r.Err = fmt.Errorf("%s: %q is not a number", maxPath, finding.Clip(val, 40))
		r.Summary = fmt.Sprintf("%s holds %q, not a number", maxPath, finding.Clip(val, 40))
		return r
	}
	var current int64 = -1
	if c, err := e.Host.ReadFile(curPath); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(c)), 10, 64); err == nil && n >= 0 {
			current = n
			r = r.With(curPath, fmt.Sprint(n))
		}
	}
	if pm, err := e.Sysctl("kernel.pid_max"); err == nil {
		r = r.With(facts.SysctlPath("kernel.pid_max"), finding.Clip(pm, 20))
	}
	busy := current >= 0 && limit > 0 && current*100 >= limit*tasksBusy
	if limit >= tasksLow && !busy {
		// pids.current moves all the time: it is evidence, not the summary a replay must match.
		return r.WithStatus(finding.Pass, "user-%d.slice allows %d tasks", e.User.UID, limit)
	}
	if limit < tasksLow {
		r = r.WithStatus(finding.Warn, "user-%d.slice allows only %d tasks for all of %s's processes and containers", e.User.UID, limit, e.User.Name)
	} else {
		r = r.WithStatus(finding.Warn, "user-%d.slice has %d of its %d tasks in use", e.User.UID, current, limit)
	}
	if current >= 0 && !busy {
		r = r.Detail("%d are in use now.", current)
	}
	return r.Detail("Every process and thread of the account's containers counts against the slice's pids.max; at the limit fork and clone fail with \"Resource temporarily unavailable\" inside and outside the containers.").
		Detail("The limit is TasksMax= of user-%d.slice: logind's UserTasksMax= (systemd before 240) or a drop-in of user-.slice or user-%d.slice; systemd's own default is 33%% of kernel.pid_max.", e.User.UID, e.User.UID).
		Fix(finding.ManualStep("tasksmax", fmt.Sprintf(
			"write \"[Slice]\" and TasksMax=infinity into /etc/systemd/system/user-.slice.d/50-tasksmax.conf (or /etc/systemd/system/user-%d.slice.d/ for %s alone), then run systemctl daemon-reload; a TasksMax= in another drop-in read later, or UserTasksMax= in /etc/systemd/logind.conf on older systemd, must go too",
			e.User.UID, e.User.Name)))
}
