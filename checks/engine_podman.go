package checks

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var enginePodman = Probe{
	ID:    "engine.podman",
	Title: "Podman",
	Fails: "Podman will not run containers: crun on a hybrid hierarchy, runc too old for cgroup v2, no OCI runtime, conmon or policy.json, a containers.conf that does not decode, a network helper that cannot work, a generic probe Podman needs fails; warns without catatonit, a session bus for cgroup_manager=systemd, or on vfs",
	Why: "Podman resolves its own configuration (the containers.conf chain of its release, " +
		"storage.conf) and runs its own helpers (an OCI runtime, conmon, slirp4netns or pasta, " +
		"catatonit). A host that passes every generic check can still stop it: crun refuses a " +
		"hybrid cgroup hierarchy (`crun: cgroups in hybrid mode not supported, drop all " +
		"controllers from cgroupv2`, containers/crun commit 934c728), runc before 1.0.0-rc91 has " +
		"no rootless cgroup v2 support (opencontainers/runc#2163), conmon is mandatory " +
		"(`could not find a working conmon binary`), and Podman 5 runs pasta with options an old " +
		"build lacks. docs/engines.md §1 has the rules with their sources.",
	Reads: []string{"podman, crun, runc, conmon --version (or dpkg/pacman)", "/usr/share/containers/containers.conf, /etc/containers/containers.conf{,.d/*.conf}, ~/.config/containers/containers.conf{,.d/*.conf}, $CONTAINERS_CONF, $CONTAINERS_CONF_OVERRIDE",
		"storage.conf (user, /etc, /usr/share), $CONTAINERS_STORAGE_CONF", "policy.json", "/sys/fs/cgroup/unified/cgroup.controllers", "/proc/1/comm", "$DBUS_SESSION_BUS_ADDRESS", "`pasta --help`"},
	Fixes: []finding.Kind{finding.Package, finding.UserFile, finding.Manual},
	Run:   runEnginePodman,
}

// The user's containers.conf drop-in the fixes write (docs/engines.md §7): a name of its
// own, read after distribution drop-ins that use lower numbers.
const podmanDropIn = "containers.conf.d/60-rootless-doctor.conf"

func runEnginePodman(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	pm := e.Podman(ctx)
	if pm == nil {
		return notInstalled(e, facts.EnginePodman, distro.ToolPodman)
	}
	v := newVerdict(e, facts.EnginePodman)
	v.with(pm.Binary.Evidence())
	v.with(pm.ConfEvidence()...)
	if pm.ConfErr != nil {
		// config.go#L680: every podman command stops on it (docs/engines.md §8, measured).
		v.fail(fmt.Sprintf("%s does not decode: %s", homeRel(e, pm.ConfErrFile), finding.ClipLine(pm.ConfErr.Error(), 300)),
			finding.ManualStep("podman-containers-conf", fmt.Sprintf("fix %s (every podman command refuses it), or remove it", pm.ConfErrFile)))
		return v.result(pm.Binary.Raw)
	}
	v.eng.Runtime = pm.Runtime.Describe()
	v.eng.Network = pm.NetworkCmd
	v.eng.Storage = pm.Storage.Driver
	podmanRuntime(e, pm, v)
	podmanConmon(e, pm, v)
	podmanNetwork(ctx, e, pm, v)
	podmanStorage(e, pm, v)
	if pm.Policy == "" {
		v.fail("neither ~/.config/containers/policy.json nor /etc/containers/policy.json exists: `podman pull` and `podman load` stop with `open /etc/containers/policy.json: no such file or directory`",
			finding.SetUserJSON(e.User.Name, path.Join(xdgConfig(e), "containers/policy.json"), "default", `[{"type":"insecureAcceptAnything"}]`,
				"containers/image needs a signature policy (docs/failures/catalogue.json#containers-policy-json-missing)"))
	}
	if pm.CgroupManager == "systemd" && !pm.Bus {
		// CheckCgroupsAndAdjustConfig, podman@v4.3.1 …/config.go#L772: a warning and cgroupfs.
		v.warn("cgroup_manager is systemd (" + pm.CgroupManagerFrom + ") and there is no session bus: Podman warns and falls back to cgroupfs")
		v.detail("Podman prints `The cgroupv2 manager is set to systemd but there is no systemd user session available` and uses cgroupfs; resource limits need the systemd user session (enable lingering, or log in through pam_systemd).")
	}
	if pm.Catatonit == "" {
		v.warn("catatonit is not installed: `podman run --init` and pods stop with `container-init binary not found on the host`",
			finding.InstallTool(string(distro.ToolCatatonit), "Podman runs catatonit for --init and as the pause process of pods (docs/failures/catalogue.json#catatonit-missing)"))
		v.detail("Podman looked for it at %s.", strings.Join(pm.CatatonitTried, ", "))
	}
	v.needs(ctx, facts.EnginePodman)
	return v.result(pm.Binary.Raw)
}

// xdgConfig is the account's configuration directory.
func xdgConfig(e *facts.Env) string {
	if v, ok := e.Getenv("XDG_CONFIG_HOME"); ok && path.IsAbs(v) {
		return path.Clean(v)
	}
	return path.Join(e.User.Home, ".config")
}

// podmanRuntime judges the OCI runtime Podman picks (docs/engines.md §1.2, §1.8, §7).
func podmanRuntime(e *facts.Env, pm *facts.Podman, v *verdict) {
	rt := pm.Runtime
	v.with(rt.Evidence())
	v.detail("OCI runtime: %s (%s).", rt.Describe(), pm.RuntimeFrom)
	if !rt.Found() {
		// libpod/runtime.go#L502 (podman@v4.3.1).
		v.fail(fmt.Sprintf("the OCI runtime %q is not installed: podman stops with `default OCI runtime %q not found: invalid argument`", pm.RuntimeName, pm.RuntimeName),
			finding.InstallTool(string(runtimeTool(pm.RuntimeName)), "Podman's OCI runtime"))
		return
	}
	useRunc := func() []finding.Intent {
		in := []finding.Intent{}
		if !pm.Runc.Found() || pm.Runc.Version != nil && !pm.Runc.AtLeast("1.0.0-rc91") {
			in = append(in, finding.InstallTool(string(distro.ToolRunc), "runc runs rootless containers on this cgroup hierarchy"))
		}
		if _, set := e.Getenv("CONTAINERS_CONF"); set {
			return append(in, finding.ManualStep("podman-runtime", `set runtime = "runc" under [engine] in the file $CONTAINERS_CONF names (it is the only containers.conf Podman reads)`))
		}
		return append(in, finding.SetUserTOML(e.User.Name, path.Join(xdgConfig(e), "containers", podmanDropIn), "engine.runtime", "runc",
			"crun refuses a hybrid cgroup hierarchy; runc runs there (docs/engines.md §1.8)"))
	}
	name := path.Base(pm.RuntimeName)
	switch {
	case name == "crun" && len(e.HybridControllers()) > 0:
		// crun@1.29 src/libcrun/cgroup.c#L314, since crun 0.4 (commit 934c728): every
		// release refuses a hybrid hierarchy whose cgroup2 mount has a controller.
		msg := fmt.Sprintf("%s cannot run containers on a hybrid cgroup hierarchy", rt.Describe())
		if pm.Runc.Found() && (pm.Runc.Version == nil || pm.Runc.AtLeast("1.0.0-rc91")) {
			msg += fmt.Sprintf("; %s is installed: use it", pm.Runc.Describe())
		} else {
			msg += "; install runc and use it"
		}
		v.fail(msg, useRunc()...)
		v.detail("crun stops every container with `crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2`: /sys/fs/cgroup/unified (cgroup v2) holds the controllers %s. runc has no such check.", strings.Join(e.HybridControllers(), " "))
		v.with(finding.Evidence{Source: "/sys/fs/cgroup/unified/cgroup.controllers", Value: strings.Join(e.HybridControllers(), " ")})
		v.detail("The fix is a drop-in of your own, ~/.config/containers/%s with [engine] runtime = \"runc\" (or boot with systemd.unified_cgroup_hierarchy=1).", podmanDropIn)
	case name == "runc" && e.Cgroup() == facts.CgroupUnified && rt.Version != nil && !rt.AtLeast("1.0.0-rc91"):
		// runc gained rootless cgroup v2 (systemd) support in 1.0.0-rc91 (commit bf15cc9,
		// opencontainers/runc#2163; containers/podman#3439).
		in := []finding.Intent{finding.InstallTool(string(distro.ToolCrun), "crun runs rootless containers on cgroup v2")}
		if _, set := e.Getenv("CONTAINERS_CONF"); !set {
			in = append(in, finding.SetUserTOML(e.User.Name, path.Join(xdgConfig(e), "containers", podmanDropIn), "engine.runtime", "crun",
				"runc before 1.0.0-rc91 cannot manage cgroups of rootless containers on cgroup v2"))
		}
		v.fail(fmt.Sprintf("%s is too old for rootless containers on cgroup v2 (1.0.0-rc91 or later)", rt.Describe()), in...)
		v.detail("Containers fail with `mkdir /sys/fs/cgroup/…: permission denied` or `systemd cgroup flag passed, but systemd support for managing cgroups is not available` (docs/failures/catalogue.json#runc-too-old-for-cgroup-v2).")
	}
}

// runtimeTool is the package tool of an OCI runtime name.
func runtimeTool(name string) distro.Tool {
	if path.Base(name) == "runc" {
		return distro.ToolRunc
	}
	return distro.ToolCrun
}

// podmanConmon: conmon is mandatory (findConmonPath, podman@v4.3.1 …/config.go#L950).
func podmanConmon(e *facts.Env, pm *facts.Podman, v *verdict) {
	if pm.Conmon.Found() {
		v.with(pm.Conmon.Evidence())
		return
	}
	why := "no conmon is installed"
	if pm.Conmon.Err != nil {
		why = pm.Conmon.Err.Error()
	}
	v.fail(fmt.Sprintf("%s: every podman command stops with `could not find a working conmon binary`", why),
		finding.InstallTool(string(distro.ToolConmon), "Podman runs every container under conmon (docs/failures/catalogue.json#conmon-missing)"))
	v.detail("Podman tried %s.", strings.Join(pm.ConmonTried, ", "))
}

// podmanNetwork judges the default rootless network (docs/engines.md §1.5).
func podmanNetwork(ctx context.Context, e *facts.Env, pm *facts.Podman, v *verdict) {
	cmd, bin := pm.NetworkCmd, pm.NetworkBin
	v.detail("Default rootless network: %s (%s).", cmd, pm.NetworkCmdFrom)
	switch cmd {
	case "slirp4netns", "pasta":
	default:
		// container_create.go#L205 (podman@v5.3.1).
		v.fail(fmt.Sprintf("default_rootless_network_cmd %q is neither slirp4netns nor pasta: `invalid default_rootless_network_cmd option`", cmd),
			finding.ManualStep("podman-network-cmd", fmt.Sprintf(`set default_rootless_network_cmd to "pasta" or "slirp4netns" in %s`, pm.NetworkCmdFile)))
		return
	}
	if !bin.Found() {
		tool := distro.ToolSlirp4netns
		if cmd == "pasta" {
			tool = distro.ToolPasta
		}
		v.fail(fmt.Sprintf("the default network needs %s, which is not installed: `could not find %s, the network namespace can't be configured`", cmd, cmd),
			finding.InstallTool(string(tool), "Podman's default rootless network")) // catalogue pasta-missing
		return
	}
	v.with(finding.Evidence{Source: "network helper", Value: bin.Path})
	if cmd == "pasta" && pm.AtLeast(5, 0) {
		podmanPasta(e, pm, v)
	}
	// Both open /dev/net/tun as the account (net.tun).
	v.covered["net.tun"] = true
	if r := e.ProbeResult("net.tun", func() finding.Result { return netTun.Run(ctx, e) }); r.Status == finding.Fail {
		// A per-container failure, not Podman's: `podman run --network none` works, so the
		// engine is ready with a limitation until net.tun is fixed (its own fix).
		v.warn(fmt.Sprintf("its default network (%s) cannot open /dev/net/tun (net.tun: %s): until that is fixed only `podman run --network none` works", cmd, strings.Join(strings.Fields(r.Summary), " ")))
	}
}

// podmanPasta checks that the pasta Podman 5 runs knows the options Podman passes: Podman has
// no version check, and an unknown option makes pasta exit 1 (createPastaArgs,
// podman@v5.3.1 …/libnetwork/pasta/pasta_linux.go#L151-L278; passt commits 89678c5, aae2a9b).
func podmanPasta(e *facts.Env, pm *facts.Podman, v *verdict) {
	if pm.PastaHelpErr != nil || strings.TrimSpace(pm.PastaHelp) == "" {
		v.detail("`%s --help` did not say which options it knows (%v), so they were not checked.", pm.NetworkBin.Path, pm.PastaHelpErr)
		return
	}
	// In the order Podman passes them: getopt names the first unknown one.
	dns := "--dns"
	if pm.AtLeast(5, 1) {
		dns = "--dns-forward"
	}
	need := []string{"--config-net", dns, "--no-map-gw", "--netns"}
	var missing []string
	for _, o := range need {
		if !pastaLists(pm.PastaHelp, o) {
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 {
		var fix finding.Intent
		if pm.NetworkBin.Path != "/usr/bin/pasta" && e.Executable("/usr/bin/pasta") {
			fix = finding.ManualStep("stale-pasta", fmt.Sprintf("remove %s: it shadows the distribution's /usr/bin/pasta on PATH and is too old for Podman %s", pm.NetworkBin.Path, pm.Binary.Raw))
		} else {
			fix = finding.InstallTool(string(distro.ToolPasta), fmt.Sprintf("Podman %s passes %s to pasta", pm.Binary.Raw, strings.Join(missing, ", ")))
		}
		v.fail(fmt.Sprintf("%s lacks %s, which Podman %s passes: `pasta failed with exit code 1: … unrecognized option '%s'`", pm.NetworkBin.Path, strings.Join(missing, ", "), pm.Binary.Raw, missing[0]), fix)
		return
	}
	if pm.AtLeast(5, 3) && !pastaLists(pm.PastaHelp, "--map-guest-addr") {
		// pasta_linux.go#L76-L86: Podman retries without it.
		v.warn(fmt.Sprintf("%s lacks --map-guest-addr (passt 2024_08_14 or later): host.containers.internal does not reach the host", pm.NetworkBin.Path),
			finding.InstallTool(string(distro.ToolPasta), "pasta with --map-guest-addr maps host.containers.internal to the host"))
	}
}

// pastaLists reports whether pasta's --help lists the long option o.
func pastaLists(help, o string) bool {
	for _, f := range strings.FieldsFunc(help, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == ',' }) {
		if f == o {
			return true
		}
	}
	return false
}

// podmanStorage judges containers/storage's driver (docs/engines.md §1.6).
func podmanStorage(e *facts.Env, pm *facts.Podman, v *verdict) {
	s := pm.Storage
	if s.Err != nil {
		v.fail(fmt.Sprintf("%s does not decode: %s", homeRel(e, s.File), finding.ClipLine(s.Err.Error(), 300)),
			finding.ManualStep("podman-storage-conf", fmt.Sprintf("fix %s, or remove it", s.File)))
		return
	}
	v.detail("Storage: %s (%s), graph root %s.", s.Driver, s.DriverFrom, s.GraphRoot)
	if s.MountProgram != "" && !e.Executable(s.MountProgram) {
		v.fail(fmt.Sprintf("mount_program %s in %s does not exist: every container fails", s.MountProgram, homeRel(e, s.File)),
			finding.InstallTool(string(distro.ToolFuseOverlayfs), "storage.conf names fuse-overlayfs as the overlay mount program (docs/failures/catalogue.json#storage-conf-mount-program-missing)"))
	}
	if s.Driver == "vfs" {
		v.warn("its storage driver is vfs: every layer is a full copy, slow and disk-hungry")
		v.detail("To move to overlay, set driver = \"overlay\" in ~/.config/containers/storage.conf before the first container (later, `podman system reset` first: the driver is recorded in the database).")
	}
	if slices.Contains([]string{"btrfs", "zfs"}, s.Driver) {
		v.detail("The %s driver needs the graph root on %s.", s.Driver, s.Driver)
	}
}
