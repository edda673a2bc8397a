package checks

import (
	"context"
	"strconv"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var limitsInotify = Probe{
	ID:    "limits.inotify",
	Title: "inotify limits",
	Fails: "fewer than 65,536 watches or 128 instances per user (warn)",
	Why: "fs.inotify.max_user_instances and max_user_watches are per uid, shared by every " +
		"process of the account and of its rootless containers: systemd inside a container, " +
		"kubelet and the nodes of a rootless kind cluster each take instances and watches, and " +
		"when they run out the container fails with \"too many open files\" or \"failed to create " +
		"fsnotify watcher\" (kubernetes-sigs/kind#2586, https://kind.sigs.k8s.io/docs/user/known-issues/#pod-errors-due-to-too-many-open-files; " +
		"docs/failures/catalogue.json#inotify-instances-exhausted). The kernel's defaults are 128 " +
		"instances and watches scaled to 1% of memory (fs/notify/inotify/inotify_user.c, since Linux 5.11).",
	Reads: []string{facts.SysctlPath(inotifyInstances), facts.SysctlPath(inotifyWatches)},
	Fixes: []finding.Kind{finding.Sysctl},
	Run:   runLimitsInotify,
}

const (
	inotifyInstances = "fs.inotify.max_user_instances"
	inotifyWatches   = "fs.inotify.max_user_watches"
	// The values kind's known-issues page and most guides set.
	inotifyFixInstances = 8192
	inotifyFixWatches   = 524288
	// Below these the probe warns: the kernel's own instance default, and the watches a
	// machine with about 4 GB of memory gets.
	inotifyLowInstances = 128
	inotifyLowWatches   = 65536
	inotifyReason       = "raise the per-user inotify limits that the account's containers share"
)

func runLimitsInotify(_ context.Context, e *facts.Env) finding.Result {
	ri, inst, absentI, stop := readSysctlInt(e, inotifyInstances)
	if stop {
		return ri
	}
	rw, watches, absentW, stop := readSysctlInt(e, inotifyWatches)
	if stop {
		return rw
	}
	if absentI || absentW {
		return finding.Skipf("%s or %s is absent (a kernel without inotify, or a recording without them)", inotifyInstances, inotifyWatches)
	}
	r := finding.Result{Evidence: append(ri.Evidence, rw.Evidence...)}
	if inst >= inotifyLowInstances && watches >= inotifyLowWatches {
		r = r.WithStatus(finding.Pass, "%s is %d and %s is %d", inotifyInstances, inst, inotifyWatches, watches)
		if inst < inotifyFixInstances {
			r = r.Detail("Enough for a few containers; a rootless kind cluster or many containers running systemd want %s = %d (kind's known issues).", inotifyInstances, inotifyFixInstances)
		}
		return r
	}
	r = r.WithStatus(finding.Warn, "%s is %d and %s is %d", inotifyInstances, inst, inotifyWatches, watches).
		Detail("The account's processes and all of its containers share these per-uid limits; once they are used up inotify_init and inotify_add_watch fail and programs report \"too many open files\" or \"no space left on device\".")
	if inst < inotifyFixInstances {
		r = r.Fix(finding.SetSysctl(inotifyInstances, strconv.Itoa(inotifyFixInstances), inotifyReason))
	}
	if watches < inotifyFixWatches {
		r = r.Fix(finding.SetSysctl(inotifyWatches, strconv.Itoa(inotifyFixWatches), inotifyReason))
	}
	return r
}
