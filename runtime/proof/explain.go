package proof

import (
	"fmt"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// facts are what the parent role read on the host, as the account, before starting rootlesskit.
// They decide between explanations that share an errno (EPERM is the clone sysctl on Debian
// kernels but AppArmor on Ubuntu 24.04). A nil pointer means the key does not exist on this
// kernel; Unread lists keys that exist but could not be read.
type facts struct {
	User string `json:"user"`
	// Exe is the binary that creates the user namespace (the AppArmor profile must name it).
	Exe              string   `json:"exe"`
	UsernsClone      *int     `json:"userns_clone,omitempty"`        // kernel.unprivileged_userns_clone
	AppArmorRestrict *int     `json:"apparmor_restrict,omitempty"`   // kernel.apparmor_restrict_unprivileged_userns
	MaxUserNS        *int     `json:"max_user_namespaces,omitempty"` // user.max_user_namespaces
	Unread           []string `json:"unread,omitempty"`
	// TunErrno is the errno of opening /dev/net/tun read-write as the account ("" = it opened).
	TunErrno string `json:"tun_errno,omitempty"`
}

func (f facts) unread(key string) bool {
	for _, k := range f.Unread {
		if k == key {
			return true
		}
	}
	return false
}

// explanation maps a failure to the static probe that explains it and the fix.
type explanation struct {
	// Probe is the static probe id whose finding this is ("" when none fits).
	Probe   string
	Summary string
	Details []string
	Intents []finding.Intent
}

const (
	keyUsernsClone = "kernel.unprivileged_userns_clone"
	keyAppArmor    = "kernel.apparmor_restrict_unprivileged_userns"
	keyMaxUserNS   = "user.max_user_namespaces"
	// maxUserNSFix is the value Docker's rootless docs give
	// (https://docs.docker.com/engine/security/rootless/, "max_user_namespaces").
	maxUserNSFix = "28633"
	tunPath      = "/dev/net/tun"
)

// explain maps an error of one phase of the proof to its explanation. logs are the captured
// lines of output (nsenter and ip print the real reason, e.g. "open: Permission denied", while
// the error chain only says "exit status 1"). Each branch names the failure-catalogue entry it
// explains (docs/failures/catalogue.json#ID).
func explain(w wireError, f facts, logs []string) explanation {
	msg := strings.ToLower(w.Message)
	if w.Hung {
		return explainHung(w)
	}
	switch w.Phase {
	case phaseUserNS:
		return explainClone(w, f)
	case phaseIDMap:
		return explainIDMap(w, f, msg)
	case phaseNetwork:
		return explainNetwork(w, f, msg, logs)
	case phaseChild:
		return explainChild(w, f, msg, logs)
	case phasePort:
		return explanation{
			Summary: "publishing a port with the builtin port driver failed: " + clipMessage(w.Message),
			Details: []string{"The builtin port driver listens on the host and forwards each connection over a unix socket into the namespace; nothing else is needed, so this is unusual (a full state dir, or a port taken between choosing and publishing it)."},
		}
	case phaseTimeout:
		return explanation{
			Summary: "the proof did not finish in time: " + clipMessage(w.Message),
			Details: []string{"rootlesskit waits on its child without a timeout; a helper that hangs (newuidmap waiting on SSSD, slirp4netns stuck) stops it. The captured log below shows the last thing it did."},
		}
	}
	return explanation{Summary: clipMessage(w.Message)}
}

// explainHung explains a phase that did not finish: rootlesskit waits on its helpers without
// a timeout, so a hung helper stops the start where it is. The step of that phase is blamed;
// there is no fix step to ask for (a hung helper is not a setting), so the explanation names
// the static probe to look at and what to try, and asks for nothing (issue 15: it used to
// blame runtime.userns and send people to `rootless-doctor fix`, which had nothing for it).
func explainHung(w wireError) explanation {
	switch w.Phase {
	case phaseNetwork:
		return explanation{
			Probe:   "net.driver",
			Summary: "the network driver hung: " + clipMessage(firstLine(w.Message)),
			Details: []string{
				"The user namespace was created and the id maps were written (rootlesskit called the network driver only after that), but the driver never said the interface was up; rootless-doctor stopped it.",
				"Run the driver by hand to see why (slirp4netns --version, pasta --version), or prove another driver: rootless-doctor prove --net pasta, --net gvisor (in-process, no helper).",
			},
		}
	case phaseIDMap:
		return explanation{
			Probe:   "idmap.subuid",
			Summary: "mapping the subordinate ids did not finish: " + clipMessage(firstLine(w.Message)),
			Details: []string{"newuidmap and newgidmap hang when the subid source does (SSSD or LDAP named on the subid: line of /etc/nsswitch.conf); the child had started in its new namespaces."},
		}
	}
	return explanation{
		Summary: "the proof did not finish in time: " + clipMessage(w.Message),
		Details: []string{"rootlesskit waits on its child without a timeout; a helper that hangs stops it. The captured log below shows the last thing it did."},
	}
}

// explainClone explains a failed clone(CLONE_NEWUSER) ("failed to start the child:
// fork/exec /proc/self/exe: …").
func explainClone(w wireError, f facts) explanation {
	switch w.Errno {
	case "ENOSPC", "EUSERS":
		// docs/failures/catalogue.json#max-user-namespaces-zero
		return explanation{
			Probe:   "userns.max",
			Summary: fmt.Sprintf("creating a user namespace failed: %s (%s=%s)", errText(w.Errno), keyMaxUserNS, intOr(f.MaxUserNS, "?")),
			Details: []string{"The kernel refuses new user namespaces once user.max_user_namespaces is reached; 0 (RHEL 7, CIS/STIG hardening, Debian's hardening-runtime) forbids them."},
			Intents: []finding.Intent{finding.SetSysctl(keyMaxUserNS, maxUserNSFix, "rootless containers need user namespaces")},
		}
	case "EACCES":
		// docs/failures/catalogue.json#apparmor-userns-rootlesskit-path
		return appArmorExplanation(w, f)
	case "EPERM":
		if f.AppArmorRestrict != nil && *f.AppArmorRestrict == 1 {
			return appArmorExplanation(w, f)
		}
		// docs/failures/catalogue.json#userns-clone-disabled, docs/failures/catalogue.json#container-security-blocks-userns
		x := explanation{
			Probe:   "userns.clone",
			Summary: "creating a user namespace was refused: operation not permitted",
		}
		switch {
		case f.UsernsClone != nil && *f.UsernsClone != 1:
			x.Summary += fmt.Sprintf(" (%s=%d)", keyUsernsClone, *f.UsernsClone)
			x.Details = append(x.Details, "Debian and Arch kernels forbid unprivileged user namespaces while kernel.unprivileged_userns_clone is 0.")
			x.Intents = append(x.Intents, finding.SetSysctl(keyUsernsClone, "1", "let unprivileged users create user namespaces"))
		case f.unread(keyUsernsClone):
			// Cannot tell: ask for the sysctl, the usual cause.
			x.Intents = append(x.Intents, finding.SetSysctl(keyUsernsClone, "1", "let unprivileged users create user namespaces"))
		default:
			// No such sysctl on this kernel, or it is already 1: the refusal comes from
			// elsewhere.
			x.Details = append(x.Details, "kernel.unprivileged_userns_clone does not forbid it here, so the refusal comes from a seccomp filter or a security module: typically the container this runs in (Docker's default seccomp profile forbids unshare(CLONE_NEWUSER)).")
			x.Intents = append(x.Intents, finding.ManualStep("userns-blocked", "allow user namespaces where this runs: run the outer container with --security-opt seccomp=unconfined --security-opt apparmor=unconfined (or --privileged), or Kubernetes seccompProfile Unconfined"))
		}
		return x
	case "EINVAL":
		if f.MaxUserNS != nil && *f.MaxUserNS == 0 {
			// RHEL 7 kernels answer EINVAL instead of ENOSPC (docs/failures/catalogue.json#max-user-namespaces-zero).
			return explanation{
				Probe:   "userns.max",
				Summary: fmt.Sprintf("creating a user namespace failed: invalid argument (%s=0)", keyMaxUserNS),
				Intents: []finding.Intent{finding.SetSysctl(keyMaxUserNS, maxUserNSFix, "rootless containers need user namespaces")},
			}
		}
		// docs/failures/catalogue.json#kernel-userns-unavailable
		return explanation{
			Probe:   "kernel.version",
			Summary: "creating a user namespace failed: invalid argument (the kernel lacks usable user namespaces)",
			Details: []string{"Kernels built without CONFIG_USER_NS, and RHEL 7 kernels without user_namespace.enable=1 namespace.unpriv_enable=1 on the command line, answer EINVAL."},
			Intents: []finding.Intent{finding.ManualStep("kernel-userns", "boot a kernel with user namespaces enabled (CONFIG_USER_NS=y; on RHEL 7 add user_namespace.enable=1 namespace.unpriv_enable=1 to the kernel command line)")},
		}
	}
	if w.NotFound {
		return explanation{Summary: "starting the namespaced child failed: the binary is gone: " + clipMessage(w.Message)}
	}
	return explanation{Probe: "userns.clone", Summary: "creating a user namespace failed: " + clipMessage(w.Message)}
}

func appArmorExplanation(w wireError, f facts) explanation {
	x := explanation{
		Probe:   "userns.apparmor",
		Summary: fmt.Sprintf("creating a user namespace was refused by AppArmor: %s", errText(w.Errno)),
		Details: []string{
			"With kernel.apparmor_restrict_unprivileged_userns=1 (the default since Ubuntu 24.04) only binaries whose AppArmor profile grants `userns,` may create user namespaces; rootless-doctor embeds rootlesskit, so it needs that profile itself.",
			"Turning the restriction off globally (sysctl kernel.apparmor_restrict_unprivileged_userns=0) also works but weakens every program on the host; the profile is the narrow fix.",
		},
	}
	if f.Exe != "" {
		x.Intents = append(x.Intents, finding.AppArmorProfile(f.Exe, "allow user namespaces for the binary that creates them"))
	}
	return x
}

// explainIDMap explains "failed to setup UID/GID map: …".
func explainIDMap(w wireError, f facts, msg string) explanation {
	switch {
	case rootlesskit.NoSubuidRanges.In(msg), rootlesskit.NoSubgidRanges.In(msg):
		// docs/failures/catalogue.json#subuid-missing
		file, which, probe := "/etc/subuid", "uid", "idmap.subuid"
		if rootlesskit.NoSubgidRanges.In(msg) {
			file, which, probe = "/etc/subgid", "gid", "idmap.subgid"
		}
		return explanation{
			Probe:   probe,
			Summary: fmt.Sprintf("%s has no subordinate %s range: only one id could be mapped", f.User, which),
			Details: []string{fmt.Sprintf("rootlesskit found no line for the account (by name or uid) in %s, and getsubids returned none either.", file)},
			Intents: []finding.Intent{finding.AddSubIDs(f.User, "both", 65536, nil, "rootless containers map 65,536 subordinate ids")},
		}
	case strings.Contains(msg, "newuidmap") || strings.Contains(msg, "newgidmap"):
		tool := "newuidmap"
		if !strings.Contains(msg, "newuidmap") {
			tool = "newgidmap"
		}
		install := finding.InstallTool(string(distro.ToolNewuidmap), "rootless engines map subordinate ids through newuidmap and newgidmap")
		if w.NotFound || strings.Contains(msg, "executable file not found") {
			// docs/failures/catalogue.json#uidmap-missing
			return explanation{
				Probe:   "idmap.newuidmap",
				Summary: tool + " is not installed (or not on the PATH the proof used)",
				Intents: []finding.Intent{install},
			}
		}
		if strings.Contains(msg, "not allowed") {
			// "newuidmap: uid range [1-65537) -> [100000-165536) not allowed": the range in
			// the map is not delegated to the account.
			return explanation{
				Probe:   "idmap.subuid",
				Summary: tool + " refused the range: it is not delegated to " + f.User,
				Details: []string{"newuidmap only maps ranges /etc/subuid (or the nsswitch subid source) gives to the calling account."},
			}
		}
		// docs/failures/catalogue.json#newuidmap-not-privileged ("write to uid_map failed: Operation not
		// permitted", "Could not set caps")
		return explanation{
			Probe:   "idmap.newuidmap",
			Summary: tool + " could not write the map: it is neither setuid root nor has file capabilities",
			Details: []string{"newuidmap and newgidmap must be setuid root or carry cap_setuid/cap_setgid file capabilities; image builds, rsync without -X and rpm-ostree lose them. Reinstalling the package restores them."},
			// The same step idmap.newuidmap asks for: the package is installed, so an install
			// step would change nothing.
			Intents: []finding.Intent{finding.ManualStep("newuidmap-privilege",
				"restore the privilege of newuidmap and newgidmap: reinstall the package that provides them, or run chmod u+s on both")},
		}
	}
	return explanation{Probe: "idmap.subuid", Summary: "mapping the subordinate ids failed: " + clipMessage(w.Message)}
}

// explainNetwork explains a failed ConfigureNetwork of the network driver (or its constructor).
func explainNetwork(w wireError, f facts, msg string, logs []string) explanation {
	joined := strings.ToLower(strings.Join(logs, "\n"))
	aboutTun := strings.Contains(msg, "tap") || strings.Contains(msg, "tun") || strings.Contains(joined, "/dev/net/tun") || strings.Contains(joined, "tuntap")
	denied := strings.Contains(joined, "permission denied") || strings.Contains(joined, "operation not permitted") ||
		strings.Contains(msg, "permission denied") || strings.Contains(msg, "operation not permitted")
	missing := strings.Contains(joined, "no such device") || strings.Contains(msg, "no such device")
	switch {
	case rootlesskit.DriverNotInstalled.In(msg):
		// docs/failures/catalogue.json#slirp4netns-missing-or-old, docs/failures/catalogue.json#pasta-missing
		tool := distro.ToolSlirp4netns
		if strings.Contains(msg, "pasta") {
			tool = distro.ToolPasta
		}
		return explanation{
			Probe:   "net.driver",
			Summary: string(tool) + " is not installed",
			Intents: []finding.Intent{finding.InstallTool(string(tool), "rootless networking needs a user-mode network driver")},
		}
	case strings.Contains(joined, slirpSeccompFailed) || strings.Contains(joined, slirpSeccompLoad):
		// docs/failures/catalogue.json#slirp4netns-seccomp-fails: the filter slirp4netns
		// installs uses actions the running kernel rejects (distribution builds against a
		// newer libseccomp, old kernels); the engines enable it whenever slirp4netns offers it.
		return explanation{Probe: "net.driver", Summary: "slirp4netns could not install its seccomp filter (`enable_seccomp failed`)",
			Details: []string{"dockerd-rootless.sh's RootlessKit (--slirp4netns-seccomp=auto) and Podman turn slirp4netns's seccomp filter on whenever it is offered, so they fail the same way (slirp4netns#196, #221, #232)."},
			Intents: []finding.Intent{finding.ManualStep("docker-slirp-seccomp",
				"upgrade slirp4netns to an upstream release built against this kernel's libseccomp, or turn its filter off for rootless Docker: add Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SECCOMP=false under [Service] in ~/.config/systemd/user/docker.service.d/override.conf, then systemctl --user daemon-reload && systemctl --user restart docker")}}
	case strings.Contains(msg, `exec: "nsenter"`):
		return explanation{Probe: "net.driver", Summary: "nsenter is not installed: rootlesskit needs it to create the tap device",
			Intents: []finding.Intent{finding.InstallTool(string(distro.ToolNsenter), "rootlesskit enters the namespace with nsenter")}}
	case strings.Contains(msg, `exec: "ip"`):
		return explanation{Probe: "net.driver", Summary: "ip (iproute2) is not installed or not on PATH: rootlesskit needs it to create the tap device",
			Intents: []finding.Intent{finding.InstallTool(string(distro.ToolIproute), "rootlesskit configures the interface with ip")}}
	case aboutTun && (f.TunErrno == "EACCES" || f.TunErrno == "EPERM" || denied):
		// docs/failures/catalogue.json#tun-device-denied. `ip tuntap add` prints "open: Permission denied" on
		// stderr while the error chain only says "exit status 1"; the parent role also opened
		// /dev/net/tun itself as the account (facts.TunErrno).
		return explanation{
			Probe:   "net.tun",
			Summary: "creating the tap device failed: " + tunPath + " is not readable and writable by " + f.User,
			Details: []string{"Every rootless network driver (slirp4netns, pasta, gvisor-tap-vsock) opens /dev/net/tun inside the user namespace as the account; the device must be mode 0666."},
			Intents: []finding.Intent{finding.DeviceMode(tunPath, "0666", "rootless network drivers open /dev/net/tun as the account to create the tap device")},
		}
	case aboutTun && (f.TunErrno == "ENOENT" || f.TunErrno == "ENODEV" || f.TunErrno == "ENXIO" || missing):
		// docs/failures/catalogue.json#tun-device-missing
		return explanation{
			Probe:   "net.tun",
			Summary: "creating the tap device failed: " + tunPath + " is missing or the tun module is not loaded",
			Intents: []finding.Intent{finding.LoadModule("tun", "rootless network drivers create a tap device")},
		}
	case rootlesskit.Slirp4netnsOlderThan.In(msg):
		return explanation{Probe: "net.driver", Summary: "slirp4netns is older than v0.4.0",
			Intents: []finding.Intent{finding.InstallTool(string(distro.ToolSlirp4netns), "rootlesskit needs slirp4netns v0.4.0 or later")}}
	case strings.Contains(msg, "pasta"):
		// docs/failures/catalogue.json#pasta-version-incompatible
		return explanation{Probe: "net.driver", Summary: "pasta failed to configure the namespace: " + clipMessage(firstLine(w.Message)),
			Details: []string{"rootlesskit's pasta driver is experimental and needs passt 2023_12_04 or later; slirp4netns or the in-process gvisor driver (--net gvisor) are the alternatives."}}
	}
	return explanation{Probe: "net.driver", Summary: "setting up the network failed: " + clipMessage(firstLine(w.Message))}
}

// What slirp4netns prints when its seccomp filter cannot be installed (slirp4netns.c
// "enable_seccomp failed", seccompfilter.c "seccomp: seccomp_load(): …"), lower-cased as the
// logs are matched.
const (
	slirpSeccompFailed = "enable_seccomp failed"
	slirpSeccompLoad   = "seccomp: seccomp_load()"
)

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// explainChild explains a failure of the rootlesskit child after the maps were written.
func explainChild(w wireError, f facts, msg string, logs []string) explanation {
	switch {
	case rootlesskit.ChildGainCaps.In(msg):
		if f.AppArmorRestrict != nil && *f.AppArmorRestrict == 1 {
			return appArmorExplanation(w, f)
		}
		return explanation{Probe: "idmap.newuidmap", Summary: "the child gained no capabilities in its user namespace: the id maps were not applied"}
	case rootlesskit.ChildShareMount.In(msg), rootlesskit.ChildMount.In(msg):
		// docs/failures/catalogue.json#container-security-blocks-userns, docs/failures/catalogue.json#apparmor-unprivileged-userns-transition
		if w.Errno == "EACCES" || (f.AppArmorRestrict != nil && *f.AppArmorRestrict == 1) {
			return appArmorExplanation(w, f)
		}
		return explanation{Probe: "mount.propagation", Summary: "changing mounts inside the user namespace failed: " + clipMessage(w.Message),
			Details: []string{"A seccomp filter or security profile of an outer container, or a masked /proc or /sys, stops mounts inside user namespaces."}}
	case w.NotFound && strings.Contains(msg, `"ip"`), strings.Contains(msg, `exec: "ip"`):
		return explanation{Probe: "net.driver", Summary: "ip (iproute2) is not installed or not on PATH: rootlesskit needs it inside the namespace",
			Intents: []finding.Intent{finding.InstallTool(string(distro.ToolIproute), "rootlesskit configures the interface with ip")}}
	case rootlesskit.ChildExecuting.In(msg) && strings.Contains(msg, "ip"):
		return explanation{Probe: "net.driver", Summary: "configuring the interface inside the namespace failed: " + clipMessage(w.Message)}
	}
	return explanation{Summary: "the rootlesskit child failed: " + clipMessage(w.Message)}
}

func errText(errno string) string {
	switch errno {
	case "ENOSPC":
		return "no space left on device"
	case "EUSERS":
		return "too many users"
	case "EACCES":
		return "permission denied"
	case "EPERM":
		return "operation not permitted"
	case "EINVAL":
		return "invalid argument"
	case "":
		return "refused"
	}
	return errno
}

func intOr(p *int, dflt string) string {
	if p == nil {
		return dflt
	}
	return fmt.Sprint(*p)
}

// clipMessage keeps the end of a long rootlesskit message: they embed whole structs with %+v
// and end with the reason.
func clipMessage(s string) string { return finding.ClipTail(strings.TrimSpace(s), 240) }
