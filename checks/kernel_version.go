package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var kernelVersion = Probe{
	ID:    "kernel.version",
	Title: "Kernel version and user namespace support",
	Fails: "below 4.18; user namespaces compiled out or disabled",
	Why: "Rootless containers live in a user namespace, which the kernel must be built with " +
		"(CONFIG_USER_NS) and allow. Rootless Docker needs kernel 4.18 or later: that is where " +
		"FUSE mounts (fuse-overlayfs) became possible inside a user namespace. Kernel 5.11 lets " +
		"overlayfs itself be mounted there, so overlay2 works without fuse-overlayfs; 5.12 adds " +
		"mount_setattr(2), which crun uses.",
	Reads: []string{"uname -r", "/proc/self/ns/user", "/sys/module/user_namespace/parameters/enabled (RHEL/CentOS 7 kernels)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runKernelVersion,
}

// Kernel releases that matter for rootless containers. Sources: Docker's rootless docs
// (https://docs.docker.com/engine/security/rootless/: "fuse-overlayfs (only if running with kernel
// 4.18 or later)", "overlay2 (only if running with kernel 5.11 or later, or Ubuntu-flavored
// kernel)"); Linux 4.18 "fuse: Allow fully unprivileged mounts"; Linux 5.11 "ovl: allow
// unprivileged mounts" (92dbc9dedccb); Linux 5.12 mount_setattr(2).
const (
	kernelMinMajor, kernelMinMinor         = 4, 18
	kernelOverlayMajor, kernelOverlayMinor = 5, 11
	kernelSetattrMajor, kernelSetattrMinor = 5, 12
)

const (
	nsUserPath     = "/proc/self/ns/user"
	usernsParamRH7 = "/sys/module/user_namespace/parameters/enabled"
)

func runKernelVersion(_ context.Context, e *facts.Env) finding.Result {
	v, err := e.Kernel()
	if err != nil {
		return finding.Undecided(err, "cannot read the kernel version from uname -r %q", e.Host.KernelRelease()).
			With("uname -r", e.Host.KernelRelease())
	}
	r := finding.Result{}.With("uname -r", v.Release)
	var fails []string // summaries of what is wrong, first one leads

	// 1. Is the kernel built with user namespaces? /proc/self/ns/user is a magic link that
	// exists only with CONFIG_USER_NS=y (some ARM and vendor kernels lack it:
	// archlinuxarm/PKGBUILDs#2077). Lstat: its target "user:[4026531837]" is not a path.
	nsKnown := true
	var nsErr error
	_, err = e.Host.Lstat(nsUserPath)
	switch {
	case err == nil:
		r = r.With(nsUserPath, "present")
	case errors.Is(err, fs.ErrNotExist):
		// Without /proc/self/ns at all, /proc is not mounted (or not recorded): that says
		// nothing about the kernel.
		if fi, derr := e.Host.Lstat("/proc/self/ns"); derr == nil && fi.IsDir() {
			r = r.With(nsUserPath, "missing (other namespaces are listed in /proc/self/ns)")
			fails = append(fails, fmt.Sprintf("kernel %s is built without user namespaces (CONFIG_USER_NS)", v))
			r = r.Detail("/proc/self/ns has no \"user\" entry, so this kernel was built without CONFIG_USER_NS: " +
				"rootlesskit fails with \"fork/exec /proc/self/exe: invalid argument\" and podman with \"cannot clone: Invalid argument\" (moby/buildkit#1188).").
				Fix(finding.ManualStep("kernel-userns", "boot a kernel built with CONFIG_USER_NS=y (every major distribution's standard kernel has it)"))
		} else {
			nsKnown, nsErr = false, err
		}
	default:
		nsKnown, nsErr = false, err
	}

	// 2. RHEL/CentOS 7 kernels have user namespaces but keep them off unless booted with
	// user_namespace.enable=1 (and, before 7.4, namespace.unpriv_enable=1 for unprivileged
	// use); the module parameter exists only on those kernels.
	if data, err := e.Host.ReadFile(usernsParamRH7); err == nil {
		val := strings.TrimSpace(string(data))
		r = r.With(usernsParamRH7, val)
		if val == "N" || val == "n" || val == "0" {
			fails = append(fails, "user namespaces are switched off on the kernel command line (user_namespace.enable is N)")
			r = r.Detail("This RHEL/CentOS 7 kernel disables user namespaces unless it is booted with user_namespace.enable=1 " +
				"(and namespace.unpriv_enable=1 on older 7.x releases); user.max_user_namespaces must then be raised too (see userns.max).").
				Fix(finding.ManualStep("kernel-userns-enable",
					"add user_namespace.enable=1 namespace.unpriv_enable=1 to the kernel command line (grubby --update-kernel=ALL --args=…) and reboot"))
		}
	}

	// 3. The version itself.
	if !v.AtLeast(kernelMinMajor, kernelMinMinor) {
		fails = append([]string{fmt.Sprintf("kernel %s is older than %d.%d, the oldest rootless Docker supports", v, kernelMinMajor, kernelMinMinor)}, fails...)
		r = r.Detail("Before %d.%d FUSE cannot be mounted in a user namespace, so fuse-overlayfs does not work and, without overlayfs "+
			"(5.11, or Ubuntu's patch), only the vfs storage driver is left, which copies every layer in full.", kernelMinMajor, kernelMinMinor)
		if e.Distro.Is("rhel", "centos", "ol") && e.Distro.Major() == 7 {
			r = r.Detail("%s ships kernel 3.10: rootless containers need release 8 or later (kernel 4.18).", e.Distro.PrettyName)
		}
		r = r.Fix(finding.ManualStep("kernel-upgrade",
			fmt.Sprintf("upgrade to kernel %d.%d or later; %d.%d or later lets overlayfs work in user namespaces", kernelMinMajor, kernelMinMinor, kernelOverlayMajor, kernelOverlayMinor)))
	}
	if len(fails) > 0 {
		return r.WithStatus(finding.Fail, "%s", fails[0])
	}
	if !nsKnown {
		r.Err = nsErr
		r.Summary = fmt.Sprintf("cannot tell whether kernel %s has user namespaces: %s is not readable", v, nsUserPath)
		return r
	}
	return kernelFeatureNotes(e, r, v)
}

// kernelFeatureNotes passes and says what this kernel enables for rootless containers.
func kernelFeatureNotes(e *facts.Env, r finding.Result, v parse.KernelVersion) finding.Result {
	overlay := v.AtLeast(kernelOverlayMajor, kernelOverlayMinor)
	patched := !overlay && e.Distro.PatchedOverlayInUserNS(v.Release)
	switch {
	case overlay:
		r = r.WithStatus(finding.Pass, "kernel %s: user namespaces, overlayfs in user namespaces (%d.%d+)", v, kernelOverlayMajor, kernelOverlayMinor)
		r = r.Detail("Since %d.%d overlayfs can be mounted inside a user namespace, so rootless overlay2 needs no fuse-overlayfs.", kernelOverlayMajor, kernelOverlayMinor)
		if !v.AtLeast(5, 16) {
			r = r.Detail("Kernels 5.11–5.15 had bugs in rootless overlay (EINVAL with userxattr, failed renames, SELinux denials; moby/moby#42333): storage.driver decides which driver to use.")
		}
	case patched:
		r = r.WithStatus(finding.Pass, "kernel %s: user namespaces; Ubuntu's kernel allows overlayfs in them before %d.%d", v, kernelOverlayMajor, kernelOverlayMinor)
		r = r.Detail("Ubuntu has patched its kernels since 2015 to allow overlayfs in user namespaces, so overlay2 works on this %d.%d kernel.", v.Major, v.Minor)
	default:
		r = r.WithStatus(finding.Pass, "kernel %s: user namespaces; overlayfs in them needs %d.%d, use fuse-overlayfs", v, kernelOverlayMajor, kernelOverlayMinor)
		r = r.Detail("Before %d.%d (without Ubuntu's patch) overlayfs cannot be mounted in a user namespace: rootless engines need fuse-overlayfs, "+
			"which works since 4.18 (see storage.driver).", kernelOverlayMajor, kernelOverlayMinor)
	}
	if v.AtLeast(kernelSetattrMajor, kernelSetattrMinor) {
		r = r.Detail("Since %d.%d the kernel has mount_setattr(2) and idmapped mounts; crun uses mount_setattr, and idmap= volumes still need privilege outside the user namespace.",
			kernelSetattrMajor, kernelSetattrMinor)
	} else {
		r = r.Detail("Before %d.%d there is no mount_setattr(2): crun fails with \"mount_setattr …: Function not implemented\" where it needs it (podman#18941).",
			kernelSetattrMajor, kernelSetattrMinor)
	}
	return r
}
