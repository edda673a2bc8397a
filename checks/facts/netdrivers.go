package facts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// DockerNetEnv selects the network driver in dockerd-rootless.sh; Docker's docs set it in a
// drop-in of the user unit (~/.config/systemd/user/docker.service.d/override.conf).
const DockerNetEnv = "DOCKERD_ROOTLESS_ROOTLESSKIT_NET"

// ToolState is what is known about one helper binary.
type ToolState int

const (
	ToolAbsent ToolState = iota
	// ToolOK: new enough.
	ToolOK
	// ToolOld: too old for RootlessKit.
	ToolOld
	// ToolNoVersion: installed, version not known (not recorded, or the build does not say).
	ToolNoVersion
	// ToolBroken: installed but does not run.
	ToolBroken
)

// NetTool is one network helper binary (or engine) the network drivers depend on, and what
// running it said.
type NetTool struct {
	Path    string
	State   ToolState
	Version string // as printed, "" when unknown
	// Source and Value are the evidence.
	Source, Value string
	Err           error
}

// Present reports whether it is installed.
func (h NetTool) Present() bool { return h.State != ToolAbsent }

// Usable reports whether a driver will most likely work. A version that could not be read is
// given the benefit of the doubt: versions that old are from 2019 and nothing ships them any
// more.
func (h NetTool) Usable() bool { return h.State == ToolOK || h.State == ToolNoVersion }

// NetDrivers is what decides the network driver each rootless engine uses: the helpers
// installed and their versions, RootlessKit's and Podman's versions, Podman's
// default_rootless_network_cmd and the DOCKERD_ROOTLESS_ROOTLESSKIT_NET the daemon sees.
// net.driver judges it; net.dns, net.routes and net.proxy ask which driver carries the
// containers' traffic.
type NetDrivers struct {
	Slirp, Pasta, VPNKit NetTool
	// RootlessKit; RootlessKitMajor is 0 when it is absent or its version unknown.
	RootlessKit      NetTool
	RootlessKitMajor uint64
	// Podman and its major version (0 when absent or unknown); PodmanNetCmd is
	// default_rootless_network_cmd from containers.conf ("" when unset), PodmanNetCmdFrom the
	// file.
	Podman                         NetTool
	PodmanMajor                    uint64
	PodmanNetCmd, PodmanNetCmdFrom string
	// Requested is the driver DOCKERD_ROOTLESS_ROOTLESSKIT_NET names, RequestedFrom where.
	Requested, RequestedFrom string
}

// NetDrivers gathers the network driver facts once per run.
func (e *Env) NetDrivers(ctx context.Context) NetDrivers {
	return e.netDrivers.get(func() NetDrivers { return gatherDrivers(ctx, e) })
}

func gatherDrivers(ctx context.Context, e *Env) NetDrivers {
	var d NetDrivers
	// The version commands run side by side: `podman --version` alone takes ~20 ms (it is a
	// large Go binary that sets itself up before printing), and in sequence the four of them
	// were most of a static check's time.
	var wg sync.WaitGroup
	wg.Go(func() { d.Slirp = probeSlirp(ctx, e) })
	wg.Go(func() { d.Pasta = probePasta(ctx, e) })
	wg.Go(func() { d.RootlessKit, d.RootlessKitMajor = probeVersioned(ctx, e, "rootlesskit") })
	wg.Go(func() { d.Podman, d.PodmanMajor = probeVersioned(ctx, e, "podman") })
	if p, err := e.LookPath("vpnkit"); err == nil {
		d.VPNKit = NetTool{Path: p, State: ToolOK, Source: "PATH", Value: "vpnkit at " + p}
	}
	wg.Wait()
	if d.Podman.Present() {
		d.PodmanNetCmd, d.PodmanNetCmdFrom = podmanNetworkCmd(ctx, e)
	}
	d.Requested, d.RequestedFrom = requestedDriver(e)
	return d
}

// probeSlirp finds slirp4netns and decides whether it is at least 0.4.0 the way RootlessKit
// does: the version when it prints one, else whether --help lists --netns-type.
func probeSlirp(ctx context.Context, e *Env) NetTool {
	p, err := e.LookPath("slirp4netns")
	if err != nil {
		return NetTool{Source: "PATH", Value: "no slirp4netns"}
	}
	h := NetTool{Path: p, Source: p + " --version"}
	out, runErr := e.Host.Run(ctx, p, "--version")
	if errors.Is(runErr, host.ErrTimeout) {
		// Hung, not old: asking --help too would only wait as long again.
		h.State, h.Err, h.Value = ToolBroken, runErr, "does not run: "+runErr.Error()
		return h
	}
	if runErr == nil && out.ExitCode == 0 {
		if v, err := parse.ParseSlirp4netnsVersion(out.Stdout); err == nil {
			h.Version, h.Value = v.Raw, "slirp4netns version "+v.Raw
			if v.AtLeast(parse.Slirp4netnsMin) {
				h.State = ToolOK
				return h
			}
			// Below 0.4.0 by its version (or a 0.4.0 pre-release): let --help settle it.
		}
	}
	help, helpErr := e.Host.Run(ctx, p, "--help")
	helpText := append(append([]byte{}, help.Stdout...), help.Stderr...)
	switch {
	case helpErr == nil && parse.Slirp4netnsHasNetnsType(helpText):
		h.State = ToolOK
		if h.Value == "" {
			h.Source, h.Value = p+" --help", "lists --netns-type (0.4.0 or later)"
		}
	case helpErr == nil && len(strings.TrimSpace(string(helpText))) > 0 && help.ExitCode != 126 && help.ExitCode != 127:
		h.State = ToolOld
		if h.Value == "" {
			h.Source, h.Value = p+" --help", "does not list --netns-type (older than 0.4.0)"
		}
	case h.Version != "":
		// --version said below 0.4.0 and --help could not say otherwise.
		h.State = ToolOld
	case errors.Is(runErr, host.ErrNotRecorded) || errors.Is(helpErr, host.ErrNotRecorded):
		h.State = ToolNoVersion
		h.Value = "version not recorded"
	default:
		h.State, h.Err = ToolBroken, netFirstErr(runErr, helpErr)
		if h.Err == nil {
			h.Err = fmt.Errorf("exit status %d: %s", help.ExitCode, finding.ClipLine(strings.TrimSpace(string(help.Stderr)), 200))
		}
		h.Value = "does not run: " + h.Err.Error()
	}
	return h
}

// probePasta finds pasta and reads its release date.
func probePasta(ctx context.Context, e *Env) NetTool {
	p, err := e.LookPath("pasta")
	if err != nil {
		return NetTool{Source: "PATH", Value: "no pasta"}
	}
	h := NetTool{Path: p, Source: p + " --version"}
	out, err := e.Host.Run(ctx, p, "--version")
	switch {
	case errors.Is(err, host.ErrNotRecorded):
		h.State, h.Value = ToolNoVersion, "version not recorded"
		return h
	case err == nil && out.ExitCode != 0:
		err = fmt.Errorf("exit status %d: %s", out.ExitCode, finding.ClipLine(strings.TrimSpace(string(out.Stderr)), 200))
	}
	if err != nil {
		h.State, h.Err, h.Value = ToolBroken, err, "does not run: "+err.Error()
		return h
	}
	h.Value = finding.ClipLine(strings.TrimSpace(string(out.Stdout)), 200)
	if h.Value == "" {
		// passt since 2025 prints --version with stdio and leaves with _exit(): through a pipe
		// nothing arrives (pastaHelpCut). Debian's package version carries the release date
		// (0.0~git20250503.587980c-2 in Debian 13).
		h.Value = "`pasta --version` printed nothing"
		if full, ok := e.DpkgInstalledVersion("passt"); ok && e.Distro.Family == distro.FamilyDebian && p == "/usr/bin/pasta" {
			out.Stdout = []byte("pasta " + full)
			h.Source, h.Value = DpkgStatusPath, "passt "+full+" installed"
		}
	}
	v, err := parse.ParsePastaVersion(out.Stdout)
	if err != nil {
		h.State = ToolNoVersion
		return h
	}
	h.Version, h.State = v.Date.String(), ToolOK
	if v.Date.Before(parse.PastaMinRootlesskit) {
		h.State = ToolOld
	}
	return h
}

// probeVersioned finds a "NAME version X.Y.Z" tool and its major version (0 when unknown).
func probeVersioned(ctx context.Context, e *Env, name string) (NetTool, uint64) {
	p, err := e.LookPath(name)
	if err != nil {
		return NetTool{}, 0
	}
	if h, major, ok := dpkgVersioned(e, name, p); ok {
		return h, major
	}
	h := NetTool{Path: p, State: ToolNoVersion, Source: p + " --version", Value: "version unknown"}
	out, err := e.Host.Run(ctx, p, "--version")
	if errors.Is(err, host.ErrTimeout) {
		h.Value = "version unknown: " + err.Error()
		return h, 0
	}
	if err != nil || out.ExitCode != 0 {
		return h, 0
	}
	v, err := parse.ParseToolVersion(out.Stdout, name)
	if err != nil {
		return h, 0
	}
	h.State, h.Version, h.Value = ToolOK, v.String(), name+" version "+v.Original()
	return h, v.Major()
}

// dpkgVersioned reads the version of a Debian-packaged tool at /usr/bin from dpkg's status
// database instead of running it: `podman --version` takes ~20 ms (a large Go binary that sets
// itself up first), most of a static check. A binary elsewhere (/usr/local/bin) is not the
// package's, so it is asked.
func dpkgVersioned(e *Env, name, path string) (NetTool, uint64, bool) {
	if e.Distro.Family != distro.FamilyDebian || path != "/usr/bin/"+name {
		return NetTool{}, 0, false
	}
	full, ok := e.DpkgInstalledVersion(name)
	if !ok {
		return NetTool{}, 0, false
	}
	v, err := parse.NewVersion(parse.DebianUpstreamVersion(full))
	if err != nil {
		return NetTool{}, 0, false
	}
	return NetTool{Path: path, State: ToolOK, Version: v.String(), Source: DpkgStatusPath,
		Value: name + " " + full + " installed"}, v.Major(), true
}

// requestedDriver is DOCKERD_ROOTLESS_ROOTLESSKIT_NET as the daemon will see it: from the
// user unit and its drop-ins (where Docker's docs put it), else from this process's
// environment (someone starting dockerd-rootless.sh by hand).
func requestedDriver(e *Env) (value, from string) {
	if e.UserErr == nil {
		u := e.UserUnit("docker.service")
		if v, ok := u.Env[DockerNetEnv]; ok {
			return strings.TrimSpace(v), u.EnvFrom[DockerNetEnv]
		}
	}
	if v, ok := e.Getenv(DockerNetEnv); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), "$" + DockerNetEnv
	}
	return "", ""
}

// podmanNetworkCmd is default_rootless_network_cmd of the containers.conf chain Podman reads
// (Env.Podman, docs/engines.md §1.1), "" when no file sets it (or Podman is older than the
// key).
func podmanNetworkCmd(ctx context.Context, e *Env) (value, from string) {
	pm := e.Podman(ctx)
	if pm == nil || pm.NetworkCmdFile == "" {
		return "", ""
	}
	return pm.NetworkCmd, pm.NetworkCmdFile
}

func netFirstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
