package checks

import (
	"fmt"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

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

// containerHints adds what suggests that the doctor runs in a container whose security
// settings may block user namespaces. It changes neither status nor summary.
func containerHints(e *facts.Env, r finding.Result) finding.Result {
	kind := ""
	switch {
	case containerMarker(e, "/.dockerenv"):
		kind = "a Docker container (/.dockerenv)"
	case containerMarker(e, "/run/.containerenv"):
		kind = "a Podman container (/run/.containerenv)"
	default:
		if v, ok := e.Host.LookupEnv("container"); ok && v != "" {
			kind = fmt.Sprintf("a container (container=%s)", v)
		} else if v, ok := e.Host.LookupEnv("KUBERNETES_SERVICE_HOST"); ok && v != "" {
			kind = "a Kubernetes pod (KUBERNETES_SERVICE_HOST is set)"
		}
	}
	if kind == "" {
		return r
	}
	var signs []string
	if data, err := e.Host.ReadFile("/proc/self/status"); err == nil {
		st := parse.ParseProcStatus(data)
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
