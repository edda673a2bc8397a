package checks

import (
	"context"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var usernsMax = Probe{
	ID:    "userns.max",
	Title: "User namespace limit",
	Fails: "0 (RHEL/CentOS 7, hardening) fails; under 1024 warns",
	Why: "user.max_user_namespaces caps how many user namespaces each user may create. At 0 " +
		"(the RHEL/CentOS 7 default, and what CIS/STIG hardening sets) none can be created and " +
		"rootlesskit fails with \"fork/exec /proc/self/exe: no space left on device\" (\"invalid " +
		"argument\" on RHEL 7); a small value runs out once podman, buildah or browser sandboxes " +
		"use some.",
	Reads: []string{facts.SysctlPath(usernsMaxKey), "/etc/sysctl.conf, /etc/sysctl.d, /run/sysctl.d, /usr/lib/sysctl.d (the value set at boot)"},
	Fixes: []finding.Kind{finding.Sysctl},
	Run:   runUsernsMax,
}

const (
	usernsMaxKey = "user.max_user_namespaces"
	// usernsMaxFix is the value the fix sets: the one Docker's troubleshooting page, Red Hat's
	// knowledge base and the rootless guides use. The kernel's own default is half of
	// kernel.threads-max (fork_init in kernel/fork.c), which scales with memory.
	usernsMaxFix = "28633"
	// usernsMaxLow is where RootlessKit's preflight starts warning (pkg/parent/warn.go).
	usernsMaxLow = 1024
)

const usernsMaxReason = "allow user namespaces: rootlesskit, podman and buildah create them"

func runUsernsMax(_ context.Context, e *facts.Env) finding.Result {
	p := facts.SysctlPath(usernsMaxKey)
	r, n, absent, stop := readSysctlInt(e, usernsMaxKey)
	if stop {
		return r
	}
	if absent {
		if v, kerr := e.Kernel(); kerr == nil && !v.AtLeast(4, 9) {
			return finding.Skipf("kernel %s predates %s (added in 4.9)", v, usernsMaxKey).With(p, "absent")
		}
		return finding.Skipf("the kernel has no %s, so there is no limit to check (kernel.version checks user namespace support)", usernsMaxKey).
			With(p, "absent")
	}
	r = withBootProblems(e, r)
	boot, bootSet := e.SysctlBoot().Last(usernsMaxKey)
	var bootN int64 = -1
	if bootSet {
		r = bootEvidence(r, boot)
		if b, err := parse.ParseSysctlInt([]byte(boot.Value)); err == nil {
			bootN = b
		}
	}
	bootDetail := func(r finding.Result) finding.Result {
		switch {
		case bootSet && bootN >= 0 && bootN < usernsMaxLow:
			return r.Detail("%s at every boot: remove that line, or the fix must be applied after it (the last file that sets a key wins, sysctl.d(5)).", boot)
		case bootSet && bootN >= usernsMaxLow:
			return r.Detail("%s already sets %d at boot but it was not applied: sysctl --system applies it now.", boot.File, bootN)
		}
		return r
	}
	switch {
	case n <= 0:
		r = r.WithStatus(finding.Fail, "user namespaces are disabled (%s = %d)", usernsMaxKey, n).
			Detail("No user namespace can be created: rootlesskit fails with \"fork/exec /proc/self/exe: no space left on device\" "+
				"(\"invalid argument\" on RHEL 7 kernels), podman with \"cannot clone: Invalid argument\".").
			Detail("The fix sets %s, the value Docker's and Red Hat's documentation use.", usernsMaxFix)
		if e.Distro.ShipsMaxUserNamespacesZero() {
			r = r.Detail("%s sets it to 0 by default (access.redhat.com/solutions/6418011); its kernel may also need user_namespace.enable=1 (see kernel.version).", e.Distro.PrettyName)
		}
		return bootDetail(r).Fix(finding.SetSysctl(usernsMaxKey, usernsMaxFix, usernsMaxReason))
	case n < usernsMaxLow:
		r = r.WithStatus(finding.Warn, "only %d user namespaces allowed per user (%s); RootlessKit wants at least %d", n, usernsMaxKey, usernsMaxLow).
			Detail("Each rootlesskit, podman or buildah session and each browser sandbox uses one; once they are used up, creating another fails " +
				"with \"no space left on device\" (ENOSPC).")
		return bootDetail(r).Fix(finding.SetSysctl(usernsMaxKey, usernsMaxFix, usernsMaxReason))
	case bootN == 0:
		return r.WithStatus(finding.Warn, "%d user namespaces allowed now, but %s disables them at the next boot", n, boot.File).
			Detail("%s, and the last file that sets a key wins at boot (sysctl.d(5)): remove that line, or the fix must be applied after it.", boot).
			Fix(finding.SetSysctl(usernsMaxKey, usernsMaxFix, usernsMaxReason))
	case bootN > 0 && bootN < usernsMaxLow:
		return r.WithStatus(finding.Warn, "%d user namespaces allowed now, but %s lowers the limit to %d at the next boot", n, boot.File, bootN).
			Detail("%s, below the %d RootlessKit wants, and the last file that sets a key wins at boot (sysctl.d(5)).", boot, usernsMaxLow).
			Fix(finding.SetSysctl(usernsMaxKey, usernsMaxFix, usernsMaxReason))
	}
	return r.WithStatus(finding.Pass, "%d user namespaces allowed per user (%s)", n, usernsMaxKey)
}
