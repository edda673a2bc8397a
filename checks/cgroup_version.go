package checks

import (
	"context"
	"errors"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var cgroupVersion = Probe{
	ID:    "cgroup.version",
	Title: "cgroup version",
	Fails: "v1 or hybrid: resource limits are ignored (warn)",
	Why: "Rootless engines can only apply resource limits through cgroup v2, where systemd " +
		"delegates a subtree to the account. On cgroup v1 (legacy or hybrid) an ordinary account " +
		"gets no controllers, so docker run --memory, --cpus and --pids-limit are ignored " +
		"(Docker prints \"Running in rootless-mode without cgroups\"; podman refuses limits).",
	Reads: []string{"statfs of /sys/fs/cgroup and /sys/fs/cgroup/unified", "/sys/fs/cgroup/cgroup.controllers", "/proc/cmdline"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runCgroupVersion,
}

// cgroupV1Summary is the one-line consequence of a v1 host;
// docs/failures/catalogue.json#cgroup-v1-host collects the variants (moby/moby#41157, containers/podman#6368,
// rootless-containers/usernetes#241).
const cgroupV1Summary = "resource limits (docker run --memory, --cpus, --pids-limit) are ignored in rootless mode on cgroup v1"

func runCgroupVersion(_ context.Context, e *facts.Env) finding.Result {
	mode := e.Cgroup()
	r := finding.Result{}
	if t, err := e.Host.FSType("/sys/fs/cgroup"); err == nil {
		r = r.With("statfs /sys/fs/cgroup", t)
	}
	switch mode {
	case facts.CgroupUnified:
		if data, err := e.Host.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			r = r.With("/sys/fs/cgroup/cgroup.controllers", strings.TrimSpace(finding.ClipLine(string(data), 200)))
		}
		return r.WithStatus(finding.Pass, "cgroup v2 (unified hierarchy)")
	case facts.CgroupUnavailable:
		_, err := e.Host.FSType("/sys/fs/cgroup")
		if err == nil {
			err = errors.New("the cgroup mode is unavailable")
		}
		return finding.Undecided(err, "cannot tell the cgroup version: /sys/fs/cgroup is not mounted or cannot be examined")
	}

	word := "legacy"
	if mode == facts.CgroupHybrid {
		word = "hybrid"
		if t, err := e.Host.FSType("/sys/fs/cgroup/unified"); err == nil {
			r = r.With("statfs /sys/fs/cgroup/unified", t)
		}
	}
	r = r.WithStatus(finding.Warn, "%s (%s hierarchy)", cgroupV1Summary, word)
	// Not "only the limits are lost": rootless Podman (crun and runc alike) refuses a container
	// that asks for a limit instead of dropping it, as the VM lab (test/vm) saw on Debian 11
	// booted with systemd.unified_cgroup_hierarchy=0 (containers/podman#6368).
	r = r.Detail("An ordinary account cannot be given cgroup v1 controllers, so rootless engines cannot apply resource limits. Containers without limits run; Docker runs one that asks for limits without them (\"Running in rootless-mode without cgroups\"), while rootless Podman refuses it (`cannot set memory limit: container could not join or create cgroup`, exit 126).")
	if mode == facts.CgroupHybrid {
		r = r.Detail("In hybrid mode cgroup v2 is mounted at /sys/fs/cgroup/unified but holds no controllers: the controllers are all bound to the v1 hierarchies.")
	}

	cmdline := "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line (add it to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub or grub2-mkconfig, reboot)"
	if data, err := e.Host.ReadFile("/proc/cmdline"); err == nil {
		params := parse.ParseCmdline(data)
		for _, key := range []string{"systemd.unified_cgroup_hierarchy", "systemd.legacy_systemd_cgroup_controller", "cgroup_no_v1", "SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE"} {
			if v, ok := parse.CmdlineValue(params, key); ok {
				r = r.With("/proc/cmdline", key+"="+v)
			}
		}
		if v, ok := parse.CmdlineValue(params, "systemd.unified_cgroup_hierarchy"); ok {
			if on, err := parse.ParseSystemdBool(v); v != "" && err == nil && !on {
				cmdline = "remove systemd.unified_cgroup_hierarchy=" + v + " from the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub or grub2-mkconfig) and reboot"
				r = r.Detail("The kernel command line forces cgroup v1 with systemd.unified_cgroup_hierarchy=%s.", v)
			}
		}
	}

	if e.SystemdRunning() {
		r = r.Detail("Fix: %s. systemd 256 refuses to boot on cgroup v1 unless forced, and systemd 258 dropped v1 support, so v2 is the way forward (https://rootlesscontaine.rs/getting-started/common/cgroup2/).", cmdline)
		return r.Fix(finding.ManualStep("cgroup-v2", cmdline))
	}
	r = r.Detail("systemd is not PID 1 here: whoever starts this system (another init, or the container runtime of the host this runs in) mounts /sys/fs/cgroup. A container sees its host's cgroup mode, so the host must boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1 on a systemd host).")
	return r.Fix(finding.ManualStep("cgroup-v2", "mount cgroup v2 at /sys/fs/cgroup: on a systemd host "+cmdline+"; in a container, do that on the host"))
}
