package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// The RootlessKit network drivers, by the names DOCKERD_ROOTLESS_ROOTLESSKIT_NET takes.
const (
	drvSlirp4netns = "slirp4netns"
	drvVPNKit      = "vpnkit"
	drvPasta       = "pasta"
	drvGvisor      = "gvisor-tap-vsock"
	drvLXCUserNIC  = "lxc-user-nic"
	drvHost        = "host"
)

// netEnvKey selects the driver in dockerd-rootless.sh (facts.DockerNetEnv).
const netEnvKey = facts.DockerNetEnv

var netDriver = Probe{
	ID:     "net.driver",
	Starts: true,
	Title:  "network driver",
	Fails:  "no network driver; slirp4netns < 0.4.0; pasta < 2023_12_04 where it is used",
	Why: "A rootless engine's containers reach the network through a user-mode helper. " +
		"dockerd-rootless.sh takes slirp4netns (0.4.0 or later), else vpnkit, else pasta, else " +
		"(RootlessKit v3, Docker 29.5 and later) the built-in gvisor-tap-vsock; podman 5 uses pasta. " +
		"With none of them dockerd-rootless.sh stops with `Either slirp4netns (>= v0.4.0) or vpnkit " +
		"needs to be installed` (moby/moby#40931, moby/moby#41781); a pasta older than 2023_12_04 " +
		"breaks RootlessKit's pasta driver (rootlesskit#591, moby/moby#47076).",
	Reads: []string{"`slirp4netns --version` (then `--help`)", "`pasta --version`", "vpnkit on PATH",
		"`rootlesskit --version`", "`podman --version`", "containers.conf default_rootless_network_cmd",
		"$" + netEnvKey + " and the docker.service user unit with its drop-ins (~/.config/systemd/user, /etc/systemd/user, /usr/lib/systemd/user)"},
	Fixes: []finding.Kind{finding.Package, finding.Manual},
	Run:   runNetDriver,
}

func runNetDriver(ctx context.Context, e *facts.Env) finding.Result {
	d := e.NetDrivers(ctx)
	r := finding.Result{}
	for _, h := range []facts.NetTool{d.Slirp, d.VPNKit, d.Pasta, d.RootlessKit, d.Podman} {
		if h.Source != "" {
			r = r.With(h.Source, h.Value)
		}
	}
	if d.Requested != "" {
		r = r.With(d.RequestedFrom, netEnvKey+"="+d.Requested)
		r = judgeRequested(d, r)
	} else {
		r = judgeDefault(d, r)
	}
	r = judgeDockerSlirp(ctx, e, d, r)
	return judgePodman(d, r, podmanOnly(e, d))
}

// judgeDefault follows dockerd-rootless.sh's own order: slirp4netns ≥ 0.4.0, vpnkit, pasta,
// then RootlessKit v3's built-in gvisor-tap-vsock (Docker 29.5, moby/moby#52319).
func judgeDefault(d facts.NetDrivers, r finding.Result) finding.Result {
	installSlirp := finding.InstallTool(string(distro.ToolSlirp4netns), "rootless engines need slirp4netns 0.4.0 or later (or another user-mode network driver)")
	rkOld := d.RootlessKitMajor > 0 && d.RootlessKitMajor < 3
	switch {
	case d.Slirp.Usable():
		r = r.WithStatus(finding.Pass, "slirp4netns %s will be used (dockerd-rootless.sh's first choice)", versionOr(d.Slirp, "(version not recorded)"))
		return pastaAside(d, r)
	case d.VPNKit.Present():
		if d.Slirp.Present() {
			r = r.WithStatus(finding.Warn, "%s, so dockerd-rootless.sh falls back to vpnkit", slirpProblem(d.Slirp)).
				Fix(installSlirp)
		} else {
			r = r.WithStatus(finding.Pass, "vpnkit will be used (slirp4netns is not installed)")
		}
		return pastaAside(d, r.Detail("slirp4netns is dockerd-rootless.sh's first choice and faster than vpnkit; vpnkit is no longer shipped with Docker 29.5 and later."))
	case d.Pasta.Present() && !rkOld:
		r = judgePastaUsed(d, r, "dockerd-rootless.sh falls back to it")
		if d.Slirp.Present() && r.Status == finding.Pass {
			r = r.WithStatus(finding.Warn, "%s; %s will be used instead", slirpProblem(d.Slirp), strings.TrimSpace("pasta "+d.Pasta.Version)).
				Fix(installSlirp)
		}
		if d.RootlessKitMajor == 0 {
			r = r.Detail("dockerd-rootless.sh before Docker 29.5 does not fall back to pasta on its own: with an older Docker set %s=pasta (Docker 25 or later).", netEnvKey)
		}
		return r
	case d.RootlessKitMajor >= 3:
		r = r.WithStatus(finding.Pass, "gvisor-tap-vsock, built into RootlessKit %s, will be used", d.RootlessKit.Version).
			Detail("RootlessKit v3 (Docker 29.5 and later) needs no external network helper (moby/moby#52319); installing slirp4netns or pasta makes dockerd-rootless.sh prefer them.")
		if d.Slirp.Present() {
			r = r.Detail("%s and is skipped.", slirpProblem(d.Slirp))
		}
		return r
	case d.Pasta.Present():
		// RootlessKit below v3 comes with a dockerd-rootless.sh that never picks pasta by itself.
		r = r.WithStatus(finding.Warn, "only pasta is usable, and dockerd-rootless.sh of RootlessKit %s does not pick it by itself", d.RootlessKit.Version).
			Detail("dockerd-rootless.sh stops with `Either slirp4netns (>= v0.4.0) or vpnkit needs to be installed`. Install slirp4netns, or set %s=pasta in ~/.config/systemd/user/docker.service.d/override.conf (experimental, Docker 25 or later).", netEnvKey).
			Fix(installSlirp)
		if d.Pasta.State == facts.ToolOld {
			r = r.Detail("pasta %s is also older than %s, the oldest RootlessKit's pasta driver supports.", d.Pasta.Version, parse.PastaMinRootlesskit)
		}
		return r
	}
	if d.Slirp.Present() {
		r = r.WithStatus(finding.Fail, "%s and no other network driver is installed", slirpProblem(d.Slirp))
	} else {
		r = r.WithStatus(finding.Fail, "no rootless network driver: none of slirp4netns, vpnkit, pasta is installed")
	}
	r = r.Detail("dockerd-rootless.sh stops with `Either slirp4netns (>= v0.4.0) or vpnkit needs to be installed` (moby/moby#40931, moby/moby#41781).")
	if rkOld {
		r = r.Detail("RootlessKit %s is installed; RootlessKit v3 (Docker 29.5 and later) has a built-in driver and needs no helper.", d.RootlessKit.Version)
	} else {
		r = r.Detail("RootlessKit v3 (Docker 29.5 and later) has a built-in driver (gvisor-tap-vsock) and needs no helper; older ones need slirp4netns.")
	}
	return r.Fix(installSlirp)
}

// judgeRequested checks the driver DOCKERD_ROOTLESS_ROOTLESSKIT_NET asks for.
func judgeRequested(d facts.NetDrivers, r finding.Result) finding.Result {
	from := fmt.Sprintf("%s=%s in %s", netEnvKey, d.Requested, d.RequestedFrom)
	switch d.Requested {
	case drvSlirp4netns:
		if d.Slirp.Usable() {
			return pastaAside(d, r.WithStatus(finding.Pass, "slirp4netns %s will be used (%s)", versionOr(d.Slirp, "(version not recorded)"), from))
		}
		s := "slirp4netns is not installed"
		if d.Slirp.Present() {
			s = slirpProblem(d.Slirp)
		}
		return r.WithStatus(finding.Fail, "%s, but %s", from, s).
			Fix(finding.InstallTool(string(distro.ToolSlirp4netns), "the configured network driver is slirp4netns (0.4.0 or later)"))
	case drvVPNKit:
		if d.VPNKit.Present() {
			return r.WithStatus(finding.Pass, "vpnkit will be used (%s)", from)
		}
		return r.WithStatus(finding.Fail, "%s, but vpnkit is not installed", from).
			Detail("vpnkit came with docker-rootless-extras until Docker 29.5; distributions do not package it.").
			Fix(finding.ManualStep("net-driver", fmt.Sprintf("remove %s=vpnkit so dockerd-rootless.sh picks an installed driver, or install vpnkit", netEnvKey)))
	case drvPasta:
		if d.RootlessKitMajor == 1 {
			return r.WithStatus(finding.Fail, "%s, but RootlessKit %s has no pasta driver (added in RootlessKit 2.0, Docker 25)", from, d.RootlessKit.Version).
				Fix(finding.ManualStep("net-driver", fmt.Sprintf("remove %s=pasta, or upgrade Docker to 25 or later", netEnvKey)))
		}
		return judgePastaUsed(d, r, from)
	case drvGvisor:
		if d.RootlessKitMajor > 0 && d.RootlessKitMajor < 3 {
			return r.WithStatus(finding.Fail, "%s, but RootlessKit %s has no gvisor-tap-vsock driver (added in RootlessKit 3.0, Docker 29.5)", from, d.RootlessKit.Version).
				Fix(finding.ManualStep("net-driver", fmt.Sprintf("remove %s=%s, or upgrade Docker to 29.5 or later", netEnvKey, drvGvisor)))
		}
		return r.WithStatus(finding.Pass, "gvisor-tap-vsock, built into RootlessKit, will be used (%s)", from)
	case drvLXCUserNIC:
		return r.WithStatus(finding.Pass, "lxc-user-nic will be used (%s)", from).
			Detail("lxc-user-nic (setuid, from LXC) and its /etc/lxc/lxc-usernet quota are not checked.")
	case drvHost:
		return r.WithStatus(finding.Warn, "%s: host networking does not work with rootless Docker", from).
			Detail("dockerd-rootless.sh rejects it since moby/moby#51379; containers would share the host's namespace without the engine being able to configure it.").
			Fix(finding.ManualStep("net-driver", fmt.Sprintf("remove %s=host so dockerd-rootless.sh picks a real driver", netEnvKey)))
	}
	return r.WithStatus(finding.Warn, "%s names an unknown network driver", from).
		Detail("RootlessKit knows slirp4netns, vpnkit, pasta, lxc-user-nic and (v3) gvisor-tap-vsock.").
		Fix(finding.ManualStep("net-driver", fmt.Sprintf("set %s to slirp4netns, pasta or gvisor-tap-vsock, or remove it", netEnvKey)))
}

// judgePastaUsed judges pasta when it is the driver that will be used; why says so.
func judgePastaUsed(d facts.NetDrivers, r finding.Result, why string) finding.Result {
	upgrade := finding.InstallTool(string(distro.ToolPasta), fmt.Sprintf("RootlessKit's pasta driver needs pasta %s or later", parse.PastaMinRootlesskit))
	switch d.Pasta.State {
	case facts.ToolAbsent:
		return r.WithStatus(finding.Fail, "pasta will be used (%s), but it is not installed", why).
			Fix(finding.InstallTool(string(distro.ToolPasta), "the configured network driver is pasta"))
	case facts.ToolBroken:
		return r.WithStatus(finding.Fail, "pasta will be used (%s), but %s does not run", why, d.Pasta.Path).
			Detail("Running it failed: %v", d.Pasta.Err).
			Fix(upgrade)
	case facts.ToolOld:
		// docs/failures/catalogue.json#pasta-version-incompatible: RootlessKit passes options
		// older pastas do not know, and the daemon does not start.
		return r.WithStatus(finding.Fail, "pasta %s will be used (%s), but RootlessKit needs %s or later", d.Pasta.Version, why, parse.PastaMinRootlesskit).
			Detail("Older pasta releases fail under RootlessKit, e.g. `pasta failed with exit code 1` on forwarding options they do not know (rootlesskit#591, moby/moby#47076, docker/docs#19107).").
			Detail("Alternatively install slirp4netns: dockerd-rootless.sh prefers it.").
			Fix(upgrade)
	case facts.ToolNoVersion:
		if d.Pasta.Value == "version not recorded" {
			return r.WithStatus(finding.Pass, "pasta will be used (%s)", why).
				Detail("Its version was not recorded; RootlessKit's pasta driver needs %s or later.", parse.PastaMinRootlesskit)
		}
		return r.WithStatus(finding.Warn, "pasta will be used (%s), but it does not say its version (%q)", why, d.Pasta.Value).
			Detail("RootlessKit's pasta driver needs %s or later; builds that print no version are usually distribution packages from before 2024, which are older (rootlesskit#591).", parse.PastaMinRootlesskit).
			Fix(upgrade)
	}
	return r.WithStatus(finding.Pass, "pasta %s will be used (%s)", d.Pasta.Version, why)
}

// pastaAside notes an installed pasta that is not the driver in use: an old pasta is worth
// knowing about (switching to it would break), not worth a warning.
func pastaAside(d facts.NetDrivers, r finding.Result) finding.Result {
	switch d.Pasta.State {
	case facts.ToolOld:
		return r.Detail("pasta %s is also installed but older than %s, the oldest RootlessKit's pasta driver supports; it is not used here. Upgrade passt before setting %s=pasta.", d.Pasta.Version, parse.PastaMinRootlesskit, netEnvKey)
	case facts.ToolNoVersion:
		return r.Detail("pasta is also installed (%s); RootlessKit's pasta driver needs %s or later, which cannot be confirmed. It is not used here unless %s=pasta.", d.Pasta.Value, parse.PastaMinRootlesskit, netEnvKey)
	case facts.ToolOK:
		return r.Detail("pasta %s is also installed (podman 5's default; RootlessKit uses it with %s=pasta).", d.Pasta.Version, netEnvKey)
	}
	return r
}

// judgePodman adds what podman needs: pasta for podman 5 (unless containers.conf picks
// slirp4netns), slirp4netns before. A podman-only problem never fails the probe: the report
// is about the engine as a whole, and Docker may be the one in use.
func judgePodman(d facts.NetDrivers, r finding.Result, only bool) finding.Result {
	if !d.Podman.Present() {
		return r
	}
	name := "podman"
	if d.Podman.Version != "" {
		name += " " + d.Podman.Version
	}
	usesPasta := d.PodmanMajor >= 5 && d.PodmanNetCmd != drvSlirp4netns || d.PodmanNetCmd == drvPasta
	if !usesPasta {
		if d.PodmanMajor == 0 && d.PodmanNetCmd == "" {
			return r.Detail("%s is installed; its version is unknown, so its network driver (pasta from podman 5, slirp4netns before) is not checked.", name)
		}
		if !d.Slirp.Usable() {
			return r.Detail("%s uses slirp4netns, which is not usable here (podman fails with `could not find slirp4netns`).", name)
		}
		return r
	}
	why := "its default network since podman 5"
	if d.PodmanNetCmd == drvPasta {
		why = "default_rootless_network_cmd in " + d.PodmanNetCmdFrom
	}
	switch d.Pasta.State {
	case facts.ToolAbsent:
		switch {
		case only:
			// docs/failures/catalogue.json#pasta-missing: Podman is the only engine here, and
			// every rootless container it starts fails.
			r = r.WithStatus(finding.Fail, "%s needs pasta (%s), which is not installed: Podman is the only rootless engine here", name, why)
		case r.Status == finding.Pass:
			r = r.WithStatus(finding.Warn, "%s; but %s needs pasta (%s), which is not installed", r.Summary, name, why)
		default:
			r = r.Detail("%s also needs pasta (%s), which is not installed.", name, why)
		}
		return r.Detail("podman fails with `could not find pasta, the network namespace can't be configured` (podman#25516); or set default_rootless_network_cmd = \"slirp4netns\" in ~/.config/containers/containers.conf.").
			Fix(finding.InstallTool(string(distro.ToolPasta), name+" uses pasta for rootless networking"))
	case facts.ToolOld:
		if r.Status == finding.Pass {
			r = r.WithStatus(finding.Warn, "%s; but %s uses pasta %s, older than %s", r.Summary, name, d.Pasta.Version, parse.PastaMinRootlesskit)
		}
		return r.Detail("%s uses pasta (%s).", name, why).
			Fix(finding.InstallTool(string(distro.ToolPasta), fmt.Sprintf("pasta older than %s has known incompatibilities", parse.PastaMinRootlesskit)))
	}
	return r.Detail("%s uses pasta (%s).", name, why)
}

// slirpProblem says what is wrong with an installed slirp4netns, as a clause.
func slirpProblem(h facts.NetTool) string {
	switch h.State {
	case facts.ToolOld:
		return strings.TrimSpace("slirp4netns "+h.Version) + " is older than 0.4.0"
	case facts.ToolBroken:
		return fmt.Sprintf("slirp4netns at %s does not run (%v)", h.Path, h.Err)
	}
	return "slirp4netns is not usable"
}

func versionOr(h facts.NetTool, unknown string) string {
	if h.Version != "" {
		return h.Version
	}
	return unknown
}

// podmanOnly reports whether Podman is the only rootless engine installed: no dockerd (or its
// rootless script) and no RootlessKit for nerdctl or BuildKit. A network driver Podman lacks
// then breaks every rootless container on the host.
func podmanOnly(e *facts.Env, d facts.NetDrivers) bool {
	if !d.Podman.Present() || d.RootlessKit.Present() || e.DockerRootless().Script != "" {
		return false
	}
	_, err := e.LookPath("dockerd")
	return err != nil
}

// dockerSlirpSandboxOff is the step that turns slirp4netns's sandbox off for rootless
// Docker; net.dns asks for it too.
func dockerSlirpSandboxOff() finding.Intent {
	return finding.ManualStep("docker-slirp-sandbox", fmt.Sprintf(
		"turn slirp4netns's sandbox off for rootless Docker: add Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX=false under [Service] in %s, then systemctl --user daemon-reload && systemctl --user restart docker", dockerOverride))
}

// judgeDockerSlirp adds what rootless Docker's way of starting slirp4netns breaks: the
// sandbox on an initramfs root, and the MTU of a driver named explicitly.
func judgeDockerSlirp(ctx context.Context, e *facts.Env, d facts.NetDrivers, r finding.Result) finding.Result {
	if d.Driver() != drvSlirp4netns || !d.Slirp.Usable() || r.Status == finding.Fail {
		return r
	}
	dr := e.DockerRootless()
	if dr.Script == "" {
		return r
	}
	// docs/failures/catalogue.json#slirp4netns-sandbox-pivot-root: the sandbox pivot_roots
	// into a tmpfs, which the kernel refuses while / is the initial ramfs (rootfs has no
	// parent mount: pivot_root(2) EINVAL), as on diskless and RAM-booted nodes.
	if on, why := e.SlirpSandbox(ctx); on {
		if root := parse.MountAt(e.Mounts().Mounts, "/"); root != nil && root.FSType == "rootfs" {
			return r.With(facts.MountinfoPath, mountinfoLine(root.Mountpoint, root.Options, root.Optional, root.FSType, root.Source)).
				WithStatus(finding.Fail, "slirp4netns's sandbox cannot pivot_root here: / is the initial ramfs (rootfs), and %s", why).
				Detail("rootless Docker then fails to start: `cannot pivot_root to /tmp` / `create_sandbox failed`, `[rootlesskit:parent] error: failed to setup network … slirp4netns failed` (moby/moby#47803, rootlesskit#197, slirp4netns#348). Podman does not sandbox slirp4netns unless enable_sandbox=true.").
				Fix(dockerSlirpSandboxOff())
		}
	}
	// docs/failures/catalogue.json#slirp4netns-mtu-override-1500: before Docker 29 the script
	// picks MTU 65520 only when it chooses slirp4netns itself (moby/moby#47765, #51149).
	if d.Requested == drvSlirp4netns && !dr.Defaults.MTUForSetNet {
		if mtu, _ := dr.Setting(e, "MTU"); mtu == "" {
			return r.WithStatus(finding.Warn, "%s=slirp4netns without DOCKERD_ROOTLESS_ROOTLESSKIT_MTU: %s leaves RootlessKit at MTU 1500, and containers' network throughput collapses", netEnvKey, dr.Script).
				Detail("The script sets MTU 65520 only when it picks slirp4netns itself; naming the driver, as Docker's docs showed, drops that (moby/moby#47765, slirp4netns#284). Docker 29 sets it either way (moby/moby#51149).").
				Fix(finding.ManualStep("docker-slirp-mtu", fmt.Sprintf(
					"add Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=65520 under [Service] in %s, next to %s=slirp4netns, then systemctl --user daemon-reload && systemctl --user restart docker", dockerOverride, netEnvKey)))
		}
	}
	return r
}
