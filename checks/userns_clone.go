package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var usernsClone = Probe{
	ID:    "userns.clone",
	Title: "Unprivileged user namespace switch",
	Fails: "present and 0 (Debian ≤ 10, linux-hardened); a boot file that sets it to 0",
	Why: "Debian- and Ubuntu-patched kernels and linux-hardened add the sysctl " +
		"kernel.unprivileged_userns_clone; at 0 only root may create user namespaces, and " +
		"rootlesskit fails with \"fork/exec /proc/self/exe: operation not permitted\". Debian 10 " +
		"shipped it at 0. Upstream kernels have no such switch.",
	Reads: []string{facts.SysctlPath(usernsCloneKey), "/etc/sysctl.conf, /etc/sysctl.d, /run/sysctl.d, /usr/lib/sysctl.d (the value set at boot)",
		"/.dockerenv, /run/.containerenv, /proc/self/status (container hints)"},
	Fixes: []finding.Kind{finding.Sysctl},
	Run:   runUsernsClone,
}

const usernsCloneKey = "kernel.unprivileged_userns_clone"

// usernsCloneReason is the reason of the fix intent.
const usernsCloneReason = "allow unprivileged user namespaces: rootlesskit, podman and buildah create one"

func runUsernsClone(_ context.Context, e *facts.Env) finding.Result {
	p := facts.SysctlPath(usernsCloneKey)
	r, n, absent, stop := readSysctlInt(e, usernsCloneKey)
	if stop {
		return r
	}
	if absent {
		// Docker's troubleshooting page and RootlessKit's preflight (pkg/parent/warn.go) treat a
		// missing key the same way: the kernel does not gate user namespaces with it.
		r = finding.Passf("the kernel has no %s switch: nothing extra gates unprivileged user namespaces", usernsCloneKey).
			With(p, "absent").
			Detail("Only Debian- and Ubuntu-patched kernels and linux-hardened have this switch; upstream kernels limit user namespaces with user.max_user_namespaces (see userns.max).")
		if s, ok := e.SysctlBoot().Last(usernsCloneKey); ok {
			r = bootEvidence(r, s).
				Detail("%s at boot; this kernel has no such key, so the line does nothing here (it would on a Debian kernel).", s)
		}
		return containerHints(e, r)
	}
	r = withBootProblems(e, r)
	boot, bootSet := e.SysctlBoot().Last(usernsCloneKey)
	bootOff := false
	if bootSet {
		r = bootEvidence(r, boot)
		b, err := parse.ParseSysctlInt([]byte(boot.Value))
		bootOff = err == nil && b == 0
	}
	// The Debian patch (debian/patches/debian/add-sysctl-to-disallow-unprivileged-CLONE_NEWUSER-by-default.patch)
	// tests the value for non-zero, so any non-zero value allows.
	if n == 0 {
		r = r.WithStatus(finding.Fail, "unprivileged user namespaces are disabled (%s = 0)", usernsCloneKey).
			Detail("With it at 0 only root may create user namespaces: rootlesskit fails with \"fork/exec /proc/self/exe: operation not permitted\", " +
				"podman with \"cannot clone: Operation not permitted\" (docs.docker.com/engine/security/rootless/troubleshoot/).")
		if e.Distro.NeedsUnprivilegedUsernsClone() {
			r = r.Detail("%s ships this switch at 0; Debian 11 turned it on by default (Docker's rootless docs: \"This step is not required on Debian 11\").", e.Distro.PrettyName)
		}
		if strings.Contains(e.Host.KernelRelease(), "hardened") {
			r = r.Detail("linux-hardened turns it off on purpose to shrink the kernel attack surface; the alternative to turning it on is a standard kernel, or rootful containers.")
		}
		switch {
		case bootOff:
			r = r.Detail("%s at every boot: remove that line, or the fix must be applied after it (the last file that sets a key wins, sysctl.d(5)).", boot)
		case bootSet:
			r = r.Detail("%s already sets %s at boot but it was not applied: sysctl --system applies it now.", boot.File, boot.Value)
		}
		return r.Fix(finding.SetSysctl(usernsCloneKey, "1", usernsCloneReason))
	}
	if bootOff {
		r = r.WithStatus(finding.Warn, "unprivileged user namespaces are allowed now, but %s turns them off at the next boot", boot.File).
			Detail("%s, and the last file that sets a key wins at boot (sysctl.d(5)): remove that line, or the fix must be applied after it.", boot).
			Fix(finding.SetSysctl(usernsCloneKey, "1", usernsCloneReason))
		return containerHints(e, r)
	}
	r = r.WithStatus(finding.Pass, "unprivileged user namespaces are allowed (%s = %d)", usernsCloneKey, n)
	return containerHints(e, r)
}

// Rootless engines run inside containers too (docker:dind-rootless, CI runners, Kubernetes
// pods). There the outer container's seccomp filter, AppArmor profile, no_new_privs or
// bounding set can refuse what the kernel itself allows: "fork/exec /proc/self/exe:
// permission denied", "failed to share mount point: /: permission denied", "newuidmap: Could
// not set caps" (rootless-containers/rootlesskit#68, moby/buildkit#2441,
// docker-library/docker#296). Only an attempt proves it (the live proof does), so the
// userns probes add these as hints in their details and never fail on them.

// Capability numbers (linux/capability.h).
const (
	capSetgid = 6
	capSetuid = 7
)

// outerContainer names the container the doctor runs in, from the markers the runtimes leave
// (/.dockerenv, /run/.containerenv, $container, $KUBERNETES_SERVICE_HOST); "" when none.
func outerContainer(e *facts.Env) string {
	switch {
	case containerMarker(e, "/.dockerenv"):
		return "a Docker container (/.dockerenv)"
	case containerMarker(e, "/run/.containerenv"):
		return "a Podman container (/run/.containerenv)"
	}
	if v, ok := e.Host.LookupEnv("container"); ok && v != "" {
		return fmt.Sprintf("a container (container=%s)", v)
	}
	if v, ok := e.Host.LookupEnv("KUBERNETES_SERVICE_HOST"); ok && v != "" {
		return "a Kubernetes pod (KUBERNETES_SERVICE_HOST is set)"
	}
	return ""
}

// containerHints adds what suggests that the doctor runs in a container whose security
// settings may block user namespaces. It changes neither status nor summary.
func containerHints(e *facts.Env, r finding.Result) finding.Result {
	kind := outerContainer(e)
	if kind == "" {
		return r
	}
	var signs []string
	if st, err := e.ProcStatus(); err == nil {
		if st["Seccomp"] == "2" {
			r = r.With("/proc/self/status", "Seccomp: 2")
			signs = append(signs, "a seccomp filter is active (Docker's and containerd's default profiles refuse unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN)")
		}
		if st["NoNewPrivs"] == "1" {
			r = r.With("/proc/self/status", "NoNewPrivs: 1")
			signs = append(signs, "no_new_privs is set, so the setuid newuidmap/newgidmap cannot gain privileges (allowPrivilegeEscalation: false, --security-opt no-new-privileges)")
		}
		if c, err := parse.ParseCapMask(st["CapBnd"]); err == nil && (c&(1<<capSetuid) == 0 || c&(1<<capSetgid) == 0) {
			r = r.With("/proc/self/status", "CapBnd: "+st["CapBnd"])
			signs = append(signs, "the bounding set lacks CAP_SETUID or CAP_SETGID, so newuidmap cannot set caps")
		}
	}
	label := ""
	for _, p := range []string{"/proc/self/attr/apparmor/current", "/proc/self/attr/current"} {
		if data, err := e.Host.ReadFile(p); err == nil {
			label = strings.TrimSpace(strings.TrimRight(string(data), "\x00"))
			if label != "" {
				r = r.With(p, label)
				break
			}
		}
	}
	if label != "" && label != "unconfined" && !strings.Contains(label, ":") && len(label) < 256 {
		signs = append(signs, fmt.Sprintf("the process is confined by the AppArmor profile %q, which may deny mount and userns", label))
	}
	if len(signs) == 0 {
		return r.Detail("The doctor runs in %s; no seccomp filter, no_new_privs or reduced bounding set was seen, so the container should not block user namespaces.", kind)
	}
	r = r.Detail("The doctor runs in %s where user namespaces may be blocked even though the kernel allows them: %s.", kind, strings.Join(signs, "; "))
	return r.Detail("If the live proof fails with \"permission denied\", run the outer container with --privileged " +
		"(or --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined); " +
		"in Kubernetes: seccompProfile Unconfined, AppArmor unconfined, procMount Unmasked.")
}

// containerMarker reports whether a marker file exists (without following a final symlink).
func containerMarker(e *facts.Env, p string) bool {
	_, err := e.Host.Lstat(p)
	return err == nil
}
