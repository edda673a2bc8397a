package checks

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var enginePodman = Probe{
	ID:     "engine.podman",
	Starts: true,
	Title:  "Podman",
	Fails:  "Podman will not run containers: crun on a hybrid hierarchy, runc too old for cgroup v2, no OCI runtime, conmon or policy.json, a containers.conf that does not decode, a network helper that cannot work, a netavark network backend without netavark, a generic probe Podman needs fails; warns without catatonit, a session bus for cgroup_manager=systemd, on vfs, a storage driver the database did not record, the CNI network backend, or netavark on nftables without nf_tables",
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
	podmanNetworkBackend(e, pm, v)
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
		in := []finding.Intent{}
		if pm.Crun == "" {
			in = append(in, finding.InstallTool(string(distro.ToolCrun), "crun runs rootless containers on cgroup v2"))
		}
		if _, set := e.Getenv("CONTAINERS_CONF"); set {
			in = append(in, finding.ManualStep("podman-runtime", `set runtime = "crun" under [engine] in the file $CONTAINERS_CONF names (it is the only containers.conf Podman reads)`))
		} else {
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
	if len(missing) > 0 && pm.PastaHelpCut {
		// Only a head of the help arrived (facts.pastaHelpCut): what it lists is there, what
		// it does not list may follow in the lost tail, so nothing is concluded.
		v.detail("`%s --help` printed only the head of its help through a pipe (passt leaves with _exit() before flushing stdout), so %s could not be confirmed.",
			pm.NetworkBin.Path, strings.Join(missing, ", "))
		return
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
	if pm.AtLeast(5, 3) && !pm.PastaHelpCut && !pastaLists(pm.PastaHelp, "--map-guest-addr") {
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
	podmanDriverRecorded(e, pm, v)
	if s.Driver == "vfs" {
		v.warn("its storage driver is vfs: every layer is a full copy, slow and disk-hungry")
		v.detail("To move to overlay, set driver = \"overlay\" in ~/.config/containers/storage.conf before the first container (later, `podman system reset` first: the driver is recorded in the database).")
	}
	if slices.Contains([]string{"btrfs", "zfs"}, s.Driver) {
		v.detail("The %s driver needs the graph root on %s.", s.Driver, s.Driver)
	}
}

// podmanNetworkBackend judges Podman's network backend: network_backend in containers.conf,
// else the backend Podman recorded in the graph root at its first start (defaultNetworkBackend,
// containers/common libnetwork/network/interface.go), else the one it will pick and record.
//
// netavark without its binary fails every `podman run`, `--network none` too: Podman sets up
// its network backend before the container and looks for netavark in the helper directories
// only (`could not find "netavark" in one of [/usr/local/libexec/podman …]`; measured with
// Debian 12's Podman 4.3.1, where netavark is a package of its own that podman does not
// depend on). Podman 4 picks netavark at its first start only when it finds it (CNI
// otherwise, containers/common v0.50.1 defaultNetworkBackend). Podman 5 has no other backend,
// but before its first start nothing says so in the graph root, and every distribution's
// Podman 5 package depends on netavark: a recorded host from before this probe looked for
// netavark holds no helper binary at all, so the inference would turn those red. Only a
// backend that is set or recorded is judged.
//
// CNI warns: it stays "cni" on machines upgraded from Podman 3 with CNI plugins or networks.
// Podman 5 has no CNI backend, and netavark and aardvark-dns features are missing until the
// networks move (podman-container-tools/podman#11719;
// docs/failures/catalogue.json#podman-cni-backend-after-upgrade). Its fix sets netavark only
// where netavark is installed: set without it, Podman stops (the fix broke Podman until this
// was measured in the engine matrix, Dec 2026).
func podmanNetworkBackend(e *facts.Env, pm *facts.Podman, v *verdict) {
	backend, from := pm.Conf.NetworkBackend, ""
	if backend != "" {
		from = "network_backend in " + pm.ConfSetBy(func(c parse.ContainersConf) string { return c.NetworkBackend })
	} else if pm.Storage.GraphRoot != "" {
		f := path.Join(pm.Storage.GraphRoot, "defaultNetworkBackend")
		if data, err := e.Host.ReadFile(f); err == nil {
			backend, from = strings.TrimSpace(finding.ClipLine(string(data), 40)), homeRel(e, f)+", recorded at Podman's first start"
		}
	}
	major, _, known := pm.Version()
	switch {
	case backend == "netavark" && pm.Netavark == "" && (!known || major >= 4):
		v.with(finding.Evidence{Source: from, Value: "netavark"}, finding.Evidence{Source: strings.Join(pm.HelperDirs, ":"), Value: "no netavark"})
		v.fail(fmt.Sprintf("Podman's network backend is netavark (%s), but netavark is not installed in its helper directories: every podman run stops with `could not find \"netavark\"`", from),
			finding.InstallTool(string(distro.ToolNetavark), "Podman sets up its network backend before every container, --network none too"))
		v.detail("Podman looks for netavark in %s (helper_binaries_dir), not on $PATH.", strings.Join(pm.HelperDirs, ", "))
		return
	case backend != "cni":
		podmanFirewall(e, pm, v)
		return
	}
	v.with(finding.Evidence{Source: from, Value: "cni"})
	msg := fmt.Sprintf("Podman's networks use the CNI backend (%s): Podman 5 has no CNI backend, and netavark's features (DNS between containers with aardvark-dns, IPv6) are missing", from)
	if pm.Netavark == "" {
		pkg := "netavark"
		if p, ok := e.Distro.Package(distro.ToolNetavark); ok {
			pkg = p
		}
		v.warn(msg, finding.ManualStep("podman-netavark", fmt.Sprintf("install netavark and aardvark-dns (package %s) first: Podman stops on a netavark backend it cannot find; then set network_backend = \"netavark\" under [network] in ~/.config/containers/%s and run `podman system reset` (networks must be recreated; it deletes containers and images)", pkg, podmanDropIn)))
		return
	}
	v.warn(msg, finding.SetUserTOML(e.User.Name, path.Join(xdgConfig(e), "containers", podmanDropIn), "network.network_backend", "netavark",
		"netavark replaces CNI; then `podman system reset` (networks must be recreated; it deletes containers and images)"))
}

// graphDrivers are the storage drivers whose <driver>-images directories a graph root may hold.
var graphDrivers = []string{"overlay", "vfs", "btrfs", "zfs", "devicemapper", "aufs"}

// podmanDriverRecorded warns when storage.conf (or $STORAGE_DRIVER) names a driver while the
// graph root holds another driver's images and a libpod database: the database records the
// driver of the first start, and Podman keeps that one (`User-selected graph driver "overlay"
// overwritten by graph driver "vfs" from database`) or, where the recorded driver is empty,
// stops (`database configuration mismatch`) (podman-container-tools/podman#24738,
// podman-container-tools/podman#7396; docs/failures/catalogue.json#podman-graph-driver-mismatch).
func podmanDriverRecorded(e *facts.Env, pm *facts.Podman, v *verdict) {
	s := pm.Storage
	if s.GraphRoot == "" || s.Driver == "" || !strings.HasPrefix(s.DriverFrom, "driver in ") && s.DriverFrom != "$STORAGE_DRIVER" {
		return
	}
	exists := func(p string) bool { _, err := e.Host.Stat(path.Join(s.GraphRoot, p)); return err == nil }
	if exists(s.Driver + "-images") {
		return
	}
	db := ""
	for _, f := range []string{"libpod/bolt_state.db", "db.sql"} {
		if exists(f) {
			db = path.Join(s.GraphRoot, f)
			break
		}
	}
	if db == "" {
		return
	}
	for _, other := range graphDrivers {
		if other == s.Driver || !exists(other+"-images") {
			continue
		}
		v.with(finding.Evidence{Source: path.Join(s.GraphRoot, other+"-images"), Value: "exists"}, finding.Evidence{Source: db, Value: "exists"})
		v.warn(fmt.Sprintf("%s asks for the %s driver, but Podman's database in %s was made with %s: Podman keeps %s (`User-selected graph driver %q overwritten by graph driver %q from database`) or stops with `database configuration mismatch`", s.DriverFrom, s.Driver, homeRel(e, s.GraphRoot), other, other, s.Driver, other),
			finding.ManualStep("podman-reset", fmt.Sprintf("as %s: podman system reset (deletes every container, image and volume of %s) so Podman starts over with %s, or set driver = %q again in %s", e.User.Name, e.User.Name, s.Driver, other, homeRel(e, s.File))))
		return
	}
}

// podmanFirewall warns when netavark will write its rules with nftables and this kernel has no
// nf_tables or nft is missing: firewall_driver = "nftables" in containers.conf, or unset on
// Fedora 41 and later, whose netavark is built with nftables as its default. Every network
// made with `podman network create` (compose) then fails to start its containers with
// `netavark: nftables error: nft did not return successfully`; an account cannot load the
// module (containers/netavark#1054, podman-container-tools/podman#25201;
// docs/failures/catalogue.json#netavark-nftables-unsupported). Podman's default rootless
// network (pasta or slirp4netns) does not use netavark's firewall.
func podmanFirewall(e *facts.Env, pm *facts.Podman, v *verdict) {
	fw, from := pm.Conf.FirewallDriver, ""
	switch {
	case fw != "":
		from = "firewall_driver in " + pm.ConfSetBy(func(c parse.ContainersConf) string { return c.FirewallDriver })
	case e.Distro.ID == "fedora" && fedoraAtLeast(e.Distro.VersionID, 41):
		fw, from = "nftables", "netavark's default on Fedora 41 and later"
	}
	if fw != "nftables" {
		return
	}
	var missing []string
	m := e.Module(modNFTables)
	if m.State == facts.ModuleMissing {
		missing = append(missing, "the kernel has no nf_tables")
		v.with(m.Evidence)
	}
	// Fedora's netavark package requires nftables: only a configured driver can lack nft.
	if _, err := e.LookPath("nft"); err != nil && pm.Conf.FirewallDriver != "" {
		missing = append(missing, "nft is not installed")
		v.with(finding.Evidence{Source: "PATH", Value: "no nft"})
	}
	if len(missing) == 0 {
		return
	}
	v.warn(fmt.Sprintf("netavark writes its firewall rules with nftables (%s), and %s: containers on Podman's own networks (podman network create, compose) fail with `netavark: nftables error`", from, strings.Join(missing, " and ")),
		finding.SetUserTOML(e.User.Name, path.Join(xdgConfig(e), "containers", podmanDropIn), "network.firewall_driver", "iptables",
			"netavark's iptables driver works where nf_tables does not (an account cannot load kernel modules)"))
}

// fedoraAtLeast reports whether a Fedora VERSION_ID ("41") is n or later; rawhide is.
func fedoraAtLeast(id string, n int) bool {
	v, err := strconv.Atoi(id)
	return id == "rawhide" || err == nil && v >= n
}
