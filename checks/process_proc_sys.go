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

var processProcSys = Probe{
	ID:    "process.proc-sys",
	Title: "/proc/sys",
	Fails: "/proc/sys is mounted read-only while Podman sets default sysctls for every container",
	Why: "Podman sets the sysctls of default_sysctls in containers.conf for every container " +
		"(net.ipv4.ping_group_range by default, containers/common pkg/config). Inside an outer " +
		"container or Kubernetes pod /proc/sys is mounted read-only (the runtime's readonlyPaths), " +
		"so crun or runc cannot write them and every container with its own network fails with " +
		"\"open /proc/sys/net/ipv4/ping_group_range: Read-only file system\" " +
		"(podman-container-tools/podman#16209; docs/failures/catalogue.json#proc-sys-readonly-default-sysctls).",
	Reads: []string{
		"/proc/self/mountinfo (the mount of /proc/sys)",
		"the containers.conf chain Podman reads ([containers] default_sysctls)",
	},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runProcessProcSys,
}

// podmanDefaultSysctls is default_sysctls when no containers.conf sets it (containers/common
// pkg/config/default.go, DefaultSysctls since Podman 2).
var podmanDefaultSysctls = []string{"net.ipv4.ping_group_range=0 0"}

func runProcessProcSys(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	mt := e.Mounts()
	if errors.Is(mt.Err, fs.ErrNotExist) {
		return finding.Skipf("%s was not recorded", facts.MountinfoPath)
	}
	if mt.Err != nil {
		return finding.Undecided(mt.Err, "cannot read %s", facts.MountinfoPath)
	}
	m := parse.MountFor(mt.Mounts, "/proc/sys")
	if m == nil {
		return finding.Skipf("no mount holds /proc/sys in %s", facts.MountinfoPath)
	}
	r := finding.Result{}.With(facts.MountinfoPath, fmt.Sprintf("%s %s %s", m.Mountpoint, m.FSType, finding.Clip(m.Options, 80)))
	if !parse.HasMountOption(m.Options, "ro") && !parse.HasMountOption(m.VFSOptions, "ro") {
		return r.WithStatus(finding.Pass, "/proc/sys is mounted read-write")
	}
	pm := e.Podman(ctx)
	if pm == nil {
		return r.WithStatus(finding.Pass, "/proc/sys is mounted read-only (an outer container), but Podman, which sets default sysctls, is not installed").
			Detail("Docker, nerdctl and BuildKit set sysctls only when a container asks for them (--sysctl).")
	}
	if pm.ConfErr != nil {
		return r.WithStatus(finding.Skip, "/proc/sys is mounted read-only, and Podman's containers.conf does not decode (engine.podman says why)")
	}
	sysctls, from := pm.Conf.DefaultSysctls, "Podman's built-in default"
	if sysctls == nil {
		sysctls = podmanDefaultSysctls
	} else {
		from = "default_sysctls in " + strings.Join(pm.Files, ", ")
	}
	if len(sysctls) == 0 {
		return r.WithStatus(finding.Pass, "/proc/sys is mounted read-only, and Podman's default_sysctls is empty")
	}
	r = r.With("containers.conf default_sysctls", finding.Clip(strings.Join(sysctls, ", "), 120))
	return r.WithStatus(finding.Fail, "/proc/sys is mounted read-only, and Podman sets %s for every container", finding.Clip(strings.Join(sysctls, ", "), 80)).
		Detail("The sysctls come from %s. crun or runc writes them when it creates each container with its own network namespace and stops with \"open /proc/sys/...: Read-only file system\".", from).
		Detail("/proc/sys is read-only because this runs inside another container or pod: its runtime bind-mounts /proc/sys read-only (readonlyPaths) unless started with --security-opt unmask=/proc/* (Podman), --privileged, or procMount: Unmasked (Kubernetes).").
		Fix(finding.ManualStep("default-sysctls", fmt.Sprintf(
			"as %s, set default_sysctls = [] in the [containers] table of ~/.config/containers/containers.conf (what the quay.io/podman images ship), or start the outer container with --security-opt unmask=/proc/*",
			e.User.Name)))
}
