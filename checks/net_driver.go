package checks

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
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

// netEnvKey selects the driver in dockerd-rootless.sh; Docker's docs set it in a drop-in of
// the user unit (~/.config/systemd/user/docker.service.d/override.conf).
const netEnvKey = "DOCKERD_ROOTLESS_ROOTLESSKIT_NET"

var netDriver = Probe{
	ID:    "net.driver",
	Title: "network driver",
	Fails: "no network driver; slirp4netns < 0.4.0; pasta < 2023_12_04 where it is used",
	Why: "A rootless engine's containers reach the network through a user-mode helper. " +
		"dockerd-rootless.sh takes slirp4netns (0.4.0 or later), else vpnkit, else pasta, else " +
		"(RootlessKit v3, Docker 29.5 and later) the built-in gvisor-tap-vsock; podman 5 uses pasta. " +
		"With none of them dockerd-rootless.sh stops with `Either slirp4netns (>= v0.4.0) or vpnkit " +
		"needs to be installed` (moby/moby#40931, moby/moby#41781); a pasta older than 2023_12_04 " +
		"breaks RootlessKit's pasta driver (rootlesskit#591, moby/moby#47076).",
	Reads: []string{"`slirp4netns --version` (then `--help`)", "`pasta --version`", "vpnkit on PATH",
		"`rootlesskit --version`", "`podman --version`", "containers.conf default_rootless_network_cmd",
		"$" + netEnvKey + " and ~/.config/systemd/user/docker.service{,.d/*.conf}"},
	Fixes: []finding.Kind{finding.Package, finding.Manual},
	Run:   runNetDriver,
}

// helperState is what we know about one helper binary.
type helperState int

const (
	helperAbsent helperState = iota
	// helperOK: new enough.
	helperOK
	// helperOld: too old for RootlessKit.
	helperOld
	// helperNoVersion: installed, version not known (not recorded, or the build does not say).
	helperNoVersion
	// helperBroken: installed but does not run.
	helperBroken
)

// helper is one network helper binary and what running it said.
type helper struct {
	path    string
	state   helperState
	version string // as printed, "" when unknown
	// source and value are the evidence.
	source, value string
	err           error
}

func (h helper) present() bool { return h.state != helperAbsent }

// usable: a driver that will most likely work. A version we could not read is given the
// benefit of the doubt: versions that old are from 2019 and nothing ships them any more.
func (h helper) usable() bool { return h.state == helperOK || h.state == helperNoVersion }

type driverFacts struct {
	slirp, pasta, vpnkit helper
	// rk is RootlessKit; rkMajor 0 when it is absent or its version unknown.
	rk      helper
	rkMajor uint64
	// podman and its major version (0 when absent or unknown); podmanCmd is
	// default_rootless_network_cmd from containers.conf ("" when unset) and podmanCmdFrom the file.
	podman                   helper
	podmanMajor              uint64
	podmanCmd, podmanCmdFrom string
	// requested is the driver DOCKERD_ROOTLESS_ROOTLESSKIT_NET names and requestedFrom where.
	requested, requestedFrom string
}

func runNetDriver(ctx context.Context, e *facts.Env) finding.Result {
	d := gatherDrivers(ctx, e)
	r := finding.Result{}
	for _, h := range []helper{d.slirp, d.vpnkit, d.pasta, d.rk, d.podman} {
		if h.source != "" {
			r = r.With(h.source, h.value)
		}
	}
	if d.requested != "" {
		r = r.With(d.requestedFrom, netEnvKey+"="+d.requested)
		r = judgeRequested(d, r)
	} else {
		r = judgeDefault(d, r)
	}
	return judgePodman(d, r)
}

func gatherDrivers(ctx context.Context, e *facts.Env) driverFacts {
	var d driverFacts
	// The version commands run side by side: `podman --version` alone takes ~20 ms (it is a
	// large Go binary that sets itself up before printing), and in sequence the four of them
	// were most of a static check's time.
	var wg sync.WaitGroup
	wg.Go(func() { d.slirp = probeSlirp(ctx, e) })
	wg.Go(func() { d.pasta = probePasta(ctx, e) })
	wg.Go(func() { d.rk, d.rkMajor = probeVersioned(ctx, e, "rootlesskit") })
	wg.Go(func() { d.podman, d.podmanMajor = probeVersioned(ctx, e, "podman") })
	if p, err := e.Host.LookPath(drvVPNKit); err == nil {
		d.vpnkit = helper{path: p, state: helperOK, source: "PATH", value: "vpnkit at " + p}
	}
	wg.Wait()
	if d.podman.present() {
		d.podmanCmd, d.podmanCmdFrom = podmanNetworkCmd(ctx, e)
	}
	d.requested, d.requestedFrom = requestedDriver(e)
	return d
}

// probeSlirp finds slirp4netns and decides whether it is at least 0.4.0 the way RootlessKit
// does: the version when it prints one, else whether --help lists --netns-type.
func probeSlirp(ctx context.Context, e *facts.Env) helper {
	p, err := e.Host.LookPath(drvSlirp4netns)
	if err != nil {
		return helper{source: "PATH", value: "no slirp4netns"}
	}
	h := helper{path: p, source: p + " --version"}
	out, runErr := e.Host.Run(ctx, p, "--version")
	if errors.Is(runErr, host.ErrTimeout) {
		// Hung, not old: asking --help too would only wait as long again.
		h.state, h.err, h.value = helperBroken, runErr, "does not run: "+runErr.Error()
		return h
	}
	if runErr == nil && out.ExitCode == 0 {
		if v, err := parse.ParseSlirp4netnsVersion(out.Stdout); err == nil {
			h.version, h.value = v.Raw, "slirp4netns version "+v.Raw
			if v.AtLeast(parse.Slirp4netnsMin) {
				h.state = helperOK
				return h
			}
			// Below 0.4.0 by its version (or a 0.4.0 pre-release): let --help settle it.
		}
	}
	help, helpErr := e.Host.Run(ctx, p, "--help")
	helpText := append(append([]byte{}, help.Stdout...), help.Stderr...)
	switch {
	case helpErr == nil && parse.Slirp4netnsHasNetnsType(helpText):
		h.state = helperOK
		if h.value == "" {
			h.source, h.value = p+" --help", "lists --netns-type (0.4.0 or later)"
		}
	case helpErr == nil && len(strings.TrimSpace(string(helpText))) > 0 && help.ExitCode != 126 && help.ExitCode != 127:
		h.state = helperOld
		if h.value == "" {
			h.source, h.value = p+" --help", "does not list --netns-type (older than 0.4.0)"
		}
	case h.version != "":
		// --version said below 0.4.0 and --help could not say otherwise.
		h.state = helperOld
	case errors.Is(runErr, host.ErrNotRecorded) || errors.Is(helpErr, host.ErrNotRecorded):
		h.state = helperNoVersion
		h.value = "version not recorded"
	default:
		h.state, h.err = helperBroken, netFirstErr(runErr, helpErr)
		if h.err == nil {
			h.err = fmt.Errorf("exit status %d: %s", help.ExitCode, finding.ClipLine(strings.TrimSpace(string(help.Stderr)), 200))
		}
		h.value = "does not run: " + h.err.Error()
	}
	return h
}

// probePasta finds pasta and reads its release date.
func probePasta(ctx context.Context, e *facts.Env) helper {
	p, err := e.Host.LookPath(drvPasta)
	if err != nil {
		return helper{source: "PATH", value: "no pasta"}
	}
	h := helper{path: p, source: p + " --version"}
	out, err := e.Host.Run(ctx, p, "--version")
	switch {
	case errors.Is(err, host.ErrNotRecorded):
		h.state, h.value = helperNoVersion, "version not recorded"
		return h
	case err == nil && out.ExitCode != 0:
		err = fmt.Errorf("exit status %d: %s", out.ExitCode, finding.ClipLine(strings.TrimSpace(string(out.Stderr)), 200))
	}
	if err != nil {
		h.state, h.err, h.value = helperBroken, err, "does not run: "+err.Error()
		return h
	}
	h.value = finding.ClipLine(strings.TrimSpace(string(out.Stdout)), 200)
	v, err := parse.ParsePastaVersion(out.Stdout)
	if err != nil {
		h.state = helperNoVersion
		return h
	}
	h.version, h.state = v.Date.String(), helperOK
	if v.Date.Before(parse.PastaMinRootlesskit) {
		h.state = helperOld
	}
	return h
}

// probeVersioned finds a "NAME version X.Y.Z" tool and its major version (0 when unknown).
func probeVersioned(ctx context.Context, e *facts.Env, name string) (helper, uint64) {
	p, err := e.Host.LookPath(name)
	if err != nil {
		return helper{}, 0
	}
	if h, major, ok := dpkgVersioned(e, name, p); ok {
		return h, major
	}
	h := helper{path: p, state: helperNoVersion, source: p + " --version", value: "version unknown"}
	out, err := e.Host.Run(ctx, p, "--version")
	if errors.Is(err, host.ErrTimeout) {
		h.value = "version unknown: " + err.Error()
		return h, 0
	}
	if err != nil || out.ExitCode != 0 {
		return h, 0
	}
	v, err := parse.ParseToolVersion(out.Stdout, name)
	if err != nil {
		return h, 0
	}
	h.state, h.version, h.value = helperOK, v.String(), name+" version "+v.Original()
	return h, v.Major()
}

// dpkgVersioned reads the version of a Debian-packaged tool at /usr/bin from dpkg's status
// database instead of running it: `podman --version` takes ~20 ms (a large Go binary that sets
// itself up first), most of a static check. A binary elsewhere (/usr/local/bin) is not the
// package's, so it is asked.
func dpkgVersioned(e *facts.Env, name, path string) (helper, uint64, bool) {
	if e.Distro.Family != distro.FamilyDebian || path != "/usr/bin/"+name {
		return helper{}, 0, false
	}
	full, ok := e.DpkgInstalledVersion(name)
	if !ok {
		return helper{}, 0, false
	}
	v, err := semver.NewVersion(parse.DebianUpstreamVersion(full))
	if err != nil {
		return helper{}, 0, false
	}
	return helper{path: path, state: helperOK, version: v.String(), source: facts.DpkgStatusPath,
		value: name + " " + full + " installed"}, v.Major(), true
}

// requestedDriver is DOCKERD_ROOTLESS_ROOTLESSKIT_NET as the daemon will see it: from the
// user unit and its drop-ins (where Docker's docs put it), else from this process's
// environment (someone starting dockerd-rootless.sh by hand).
func requestedDriver(e *facts.Env) (value, from string) {
	if e.UserErr == nil && e.User.Home != "" {
		unit := path.Join(e.User.Home, ".config/systemd/user/docker.service")
		files := []string{unit}
		if ents, err := e.Host.ReadDir(unit + ".d"); err == nil {
			for _, de := range ents {
				if strings.HasSuffix(de.Name(), ".conf") {
					files = append(files, unit+".d/"+de.Name())
				}
			}
		}
		for _, f := range files {
			data, err := e.Host.ReadFile(f)
			if err != nil {
				continue
			}
			if v, ok := parse.ParseUnitEnvironment(data)[netEnvKey]; ok {
				value, from = v, f
			}
		}
		if from != "" {
			return strings.TrimSpace(value), from
		}
	}
	if v, ok := e.Getenv(netEnvKey); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), "$" + netEnvKey
	}
	return "", ""
}

// podmanNetworkCmd is default_rootless_network_cmd of the containers.conf chain Podman reads
// (facts.Env.Podman, docs/engines.md §1.1), "" when no file sets it (or Podman is older than
// the key).
func podmanNetworkCmd(ctx context.Context, e *facts.Env) (value, from string) {
	pm := e.Podman(ctx)
	if pm == nil || pm.NetworkCmdFile == "" {
		return "", ""
	}
	return pm.NetworkCmd, pm.NetworkCmdFile
}

// judgeDefault follows dockerd-rootless.sh's own order: slirp4netns ≥ 0.4.0, vpnkit, pasta,
// then RootlessKit v3's built-in gvisor-tap-vsock (Docker 29.5, moby/moby#52319).
func judgeDefault(d driverFacts, r finding.Result) finding.Result {
	installSlirp := finding.InstallTool(string(distro.ToolSlirp4netns), "rootless engines need slirp4netns 0.4.0 or later (or another user-mode network driver)")
	rkOld := d.rkMajor > 0 && d.rkMajor < 3
	switch {
	case d.slirp.usable():
		r = r.WithStatus(finding.Pass, "slirp4netns %s will be used (dockerd-rootless.sh's first choice)", versionOr(d.slirp, "(version not recorded)"))
		return pastaAside(d, r)
	case d.vpnkit.present():
		if d.slirp.present() {
			r = r.WithStatus(finding.Warn, "%s, so dockerd-rootless.sh falls back to vpnkit", slirpProblem(d.slirp)).
				Fix(installSlirp)
		} else {
			r = r.WithStatus(finding.Pass, "vpnkit will be used (slirp4netns is not installed)")
		}
		return pastaAside(d, r.Detail("slirp4netns is dockerd-rootless.sh's first choice and faster than vpnkit; vpnkit is no longer shipped with Docker 29.5 and later."))
	case d.pasta.present() && !rkOld:
		r = judgePastaUsed(d, r, "dockerd-rootless.sh falls back to it")
		if d.slirp.present() && r.Status == finding.Pass {
			r = r.WithStatus(finding.Warn, "%s; %s will be used instead", slirpProblem(d.slirp), strings.TrimSpace("pasta "+d.pasta.version)).
				Fix(installSlirp)
		}
		if d.rkMajor == 0 {
			r = r.Detail("dockerd-rootless.sh before Docker 29.5 does not fall back to pasta on its own: with an older Docker set %s=pasta (Docker 25 or later).", netEnvKey)
		}
		return r
	case d.rkMajor >= 3:
		r = r.WithStatus(finding.Pass, "gvisor-tap-vsock, built into RootlessKit %s, will be used", d.rk.version).
			Detail("RootlessKit v3 (Docker 29.5 and later) needs no external network helper (moby/moby#52319); installing slirp4netns or pasta makes dockerd-rootless.sh prefer them.")
		if d.slirp.present() {
			r = r.Detail("%s and is skipped.", slirpProblem(d.slirp))
		}
		return r
	case d.pasta.present():
		// RootlessKit below v3 comes with a dockerd-rootless.sh that never picks pasta by itself.
		r = r.WithStatus(finding.Warn, "only pasta is usable, and dockerd-rootless.sh of RootlessKit %s does not pick it by itself", d.rk.version).
			Detail("dockerd-rootless.sh stops with `Either slirp4netns (>= v0.4.0) or vpnkit needs to be installed`. Install slirp4netns, or set %s=pasta in ~/.config/systemd/user/docker.service.d/override.conf (experimental, Docker 25 or later).", netEnvKey).
			Fix(installSlirp)
		if d.pasta.state == helperOld {
			r = r.Detail("pasta %s is also older than %s, the oldest RootlessKit's pasta driver supports.", d.pasta.version, parse.PastaMinRootlesskit)
		}
		return r
	}
	if d.slirp.present() {
		r = r.WithStatus(finding.Fail, "%s and no other network driver is installed", slirpProblem(d.slirp))
	} else {
		r = r.WithStatus(finding.Fail, "no rootless network driver: none of slirp4netns, vpnkit, pasta is installed")
	}
	r = r.Detail("dockerd-rootless.sh stops with `Either slirp4netns (>= v0.4.0) or vpnkit needs to be installed` (moby/moby#40931, moby/moby#41781).")
	if rkOld {
		r = r.Detail("RootlessKit %s is installed; RootlessKit v3 (Docker 29.5 and later) has a built-in driver and needs no helper.", d.rk.version)
	} else {
		r = r.Detail("RootlessKit v3 (Docker 29.5 and later) has a built-in driver (gvisor-tap-vsock) and needs no helper; older ones need slirp4netns.")
	}
	return r.Fix(installSlirp)
}

// judgeRequested checks the driver DOCKERD_ROOTLESS_ROOTLESSKIT_NET asks for.
func judgeRequested(d driverFacts, r finding.Result) finding.Result {
	from := fmt.Sprintf("%s=%s in %s", netEnvKey, d.requested, d.requestedFrom)
	switch d.requested {
	case drvSlirp4netns:
		if d.slirp.usable() {
			return pastaAside(d, r.WithStatus(finding.Pass, "slirp4netns %s will be used (%s)", versionOr(d.slirp, "(version not recorded)"), from))
		}
		s := "slirp4netns is not installed"
		if d.slirp.present() {
			s = slirpProblem(d.slirp)
		}
		return r.WithStatus(finding.Fail, "%s, but %s", from, s).
			Fix(finding.InstallTool(string(distro.ToolSlirp4netns), "the configured network driver is slirp4netns (0.4.0 or later)"))
	case drvVPNKit:
		if d.vpnkit.present() {
			return r.WithStatus(finding.Pass, "vpnkit will be used (%s)", from)
		}
		return r.WithStatus(finding.Fail, "%s, but vpnkit is not installed", from).
			Detail("vpnkit came with docker-rootless-extras until Docker 29.5; distributions do not package it.").
			Fix(finding.ManualStep("net-driver", fmt.Sprintf("remove %s=vpnkit so dockerd-rootless.sh picks an installed driver, or install vpnkit", netEnvKey)))
	case drvPasta:
		if d.rkMajor == 1 {
			return r.WithStatus(finding.Fail, "%s, but RootlessKit %s has no pasta driver (added in RootlessKit 2.0, Docker 25)", from, d.rk.version).
				Fix(finding.ManualStep("net-driver", fmt.Sprintf("remove %s=pasta, or upgrade Docker to 25 or later", netEnvKey)))
		}
		return judgePastaUsed(d, r, from)
	case drvGvisor:
		if d.rkMajor > 0 && d.rkMajor < 3 {
			return r.WithStatus(finding.Fail, "%s, but RootlessKit %s has no gvisor-tap-vsock driver (added in RootlessKit 3.0, Docker 29.5)", from, d.rk.version).
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
func judgePastaUsed(d driverFacts, r finding.Result, why string) finding.Result {
	upgrade := finding.InstallTool(string(distro.ToolPasta), fmt.Sprintf("RootlessKit's pasta driver needs pasta %s or later", parse.PastaMinRootlesskit))
	switch d.pasta.state {
	case helperAbsent:
		return r.WithStatus(finding.Fail, "pasta will be used (%s), but it is not installed", why).
			Fix(finding.InstallTool(string(distro.ToolPasta), "the configured network driver is pasta"))
	case helperBroken:
		return r.WithStatus(finding.Fail, "pasta will be used (%s), but %s does not run", why, d.pasta.path).
			Detail("Running it failed: %v", d.pasta.err).
			Fix(upgrade)
	case helperOld:
		return r.WithStatus(finding.Warn, "pasta %s will be used (%s), but RootlessKit needs %s or later", d.pasta.version, why, parse.PastaMinRootlesskit).
			Detail("Older pasta releases fail under RootlessKit, e.g. `pasta failed with exit code 1` on forwarding options they do not know (rootlesskit#591, moby/moby#47076, docker/docs#19107).").
			Detail("Alternatively install slirp4netns: dockerd-rootless.sh prefers it.").
			Fix(upgrade)
	case helperNoVersion:
		if d.pasta.value == "version not recorded" {
			return r.WithStatus(finding.Pass, "pasta will be used (%s)", why).
				Detail("Its version was not recorded; RootlessKit's pasta driver needs %s or later.", parse.PastaMinRootlesskit)
		}
		return r.WithStatus(finding.Warn, "pasta will be used (%s), but it does not say its version (%q)", why, d.pasta.value).
			Detail("RootlessKit's pasta driver needs %s or later; builds that print no version are usually distribution packages from before 2024, which are older (rootlesskit#591).", parse.PastaMinRootlesskit).
			Fix(upgrade)
	}
	return r.WithStatus(finding.Pass, "pasta %s will be used (%s)", d.pasta.version, why)
}

// pastaAside notes an installed pasta that is not the driver in use: an old pasta is worth
// knowing about (switching to it would break), not worth a warning.
func pastaAside(d driverFacts, r finding.Result) finding.Result {
	switch d.pasta.state {
	case helperOld:
		return r.Detail("pasta %s is also installed but older than %s, the oldest RootlessKit's pasta driver supports; it is not used here. Upgrade passt before setting %s=pasta.", d.pasta.version, parse.PastaMinRootlesskit, netEnvKey)
	case helperNoVersion:
		return r.Detail("pasta is also installed (%s); RootlessKit's pasta driver needs %s or later, which cannot be confirmed. It is not used here unless %s=pasta.", d.pasta.value, parse.PastaMinRootlesskit, netEnvKey)
	case helperOK:
		return r.Detail("pasta %s is also installed (podman 5's default; RootlessKit uses it with %s=pasta).", d.pasta.version, netEnvKey)
	}
	return r
}

// judgePodman adds what podman needs: pasta for podman 5 (unless containers.conf picks
// slirp4netns), slirp4netns before. A podman-only problem never fails the probe: the report
// is about the engine as a whole, and Docker may be the one in use.
func judgePodman(d driverFacts, r finding.Result) finding.Result {
	if !d.podman.present() {
		return r
	}
	name := "podman"
	if d.podman.version != "" {
		name += " " + d.podman.version
	}
	usesPasta := d.podmanMajor >= 5 && d.podmanCmd != drvSlirp4netns || d.podmanCmd == drvPasta
	if !usesPasta {
		if d.podmanMajor == 0 && d.podmanCmd == "" {
			return r.Detail("%s is installed; its version is unknown, so its network driver (pasta from podman 5, slirp4netns before) is not checked.", name)
		}
		if !d.slirp.usable() {
			return r.Detail("%s uses slirp4netns, which is not usable here (podman fails with `could not find slirp4netns`).", name)
		}
		return r
	}
	why := "its default network since podman 5"
	if d.podmanCmd == drvPasta {
		why = "default_rootless_network_cmd in " + d.podmanCmdFrom
	}
	switch d.pasta.state {
	case helperAbsent:
		if r.Status == finding.Pass {
			r = r.WithStatus(finding.Warn, "%s; but %s needs pasta (%s), which is not installed", r.Summary, name, why)
		} else {
			r = r.Detail("%s also needs pasta (%s), which is not installed.", name, why)
		}
		return r.Detail("podman fails with `could not find pasta, the network namespace can't be configured` (podman#25516); or set default_rootless_network_cmd = \"slirp4netns\" in ~/.config/containers/containers.conf.").
			Fix(finding.InstallTool(string(distro.ToolPasta), name+" uses pasta for rootless networking"))
	case helperOld:
		if r.Status == finding.Pass {
			r = r.WithStatus(finding.Warn, "%s; but %s uses pasta %s, older than %s", r.Summary, name, d.pasta.version, parse.PastaMinRootlesskit)
		}
		return r.Detail("%s uses pasta (%s).", name, why).
			Fix(finding.InstallTool(string(distro.ToolPasta), fmt.Sprintf("pasta older than %s has known incompatibilities", parse.PastaMinRootlesskit)))
	}
	return r.Detail("%s uses pasta (%s).", name, why)
}

// slirpProblem says what is wrong with an installed slirp4netns, as a clause.
func slirpProblem(h helper) string {
	switch h.state {
	case helperOld:
		return strings.TrimSpace("slirp4netns "+h.version) + " is older than 0.4.0"
	case helperBroken:
		return fmt.Sprintf("slirp4netns at %s does not run (%v)", h.path, h.err)
	}
	return "slirp4netns is not usable"
}

func versionOr(h helper, unknown string) string {
	if h.version != "" {
		return h.version
	}
	return unknown
}

func netFirstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
