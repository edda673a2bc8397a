package facts

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
)

// DebianRootlessScript is where Debian's and Ubuntu's docker.io package keeps
// dockerd-rootless.sh, off PATH.
const DebianRootlessScript = "/usr/share/docker.io/contrib/dockerd-rootless.sh"

// DockerRootless is the account's rootless Docker setup as dockerd-rootless.sh will run it:
// the script (the one the docker.service user unit starts, else the one on PATH, in ~/bin or
// in Debian's docker.io), what it does by default, and the user unit that carries its
// DOCKERD_ROOTLESS_ROOTLESSKIT_* settings.
type DockerRootless struct {
	// Script is the path of dockerd-rootless.sh, "" when none was found; Defaults what it does
	// by default, read from it (zero when it could not be read).
	Script   string
	Defaults parse.DockerRootlessScript
	// Unit is docker.service of the account (Unit.Main is "" when there is none).
	Unit UserUnit
	// Dockerd is the dockerd on PATH, "" when there is none.
	Dockerd string
	// DaemonFile is the account's daemon.json, Daemon its network settings; DaemonErr is set
	// when it exists but cannot be read or parsed.
	DaemonFile string
	Daemon     parse.DockerDaemonNet
	DaemonErr  error
}

// Installed reports whether rootless Docker can be started here: its script, or dockerd.
func (d DockerRootless) Installed() bool { return d.Script != "" || d.Dockerd != "" }

// DockerRootless finds and reads the account's rootless Docker setup once per run.
func (e *Env) DockerRootless() DockerRootless {
	return e.dockerRootless.get(func() DockerRootless {
		d := DockerRootless{}
		if e.UserErr == nil {
			d.Unit = e.UserUnit("docker.service")
		}
		var candidates []string
		if len(d.Unit.ExecStart) > 0 && path.Base(d.Unit.ExecStart[0]) == "dockerd-rootless.sh" {
			candidates = append(candidates, d.Unit.ExecStart[0])
		}
		if p, err := e.LookPath("dockerd-rootless.sh"); err == nil {
			candidates = append(candidates, p)
		}
		if e.UserErr == nil && e.User.Home != "" {
			candidates = append(candidates, path.Join(e.User.Home, "bin", "dockerd-rootless.sh"))
		}
		candidates = append(candidates, DebianRootlessScript)
		if p, err := e.LookPath("dockerd"); err == nil {
			d.Dockerd = p
		}
		if e.UserErr == nil && path.IsAbs(e.User.Home) {
			d.DaemonFile = e.DockerDataRoot().ConfigFile
			if data, err := e.Host.ReadFile(d.DaemonFile); err == nil {
				d.Daemon, d.DaemonErr = parse.ParseDockerDaemonNet(data)
			} else if !errors.Is(err, fs.ErrNotExist) {
				d.DaemonErr = err
			}
		}
		for _, c := range candidates {
			if !path.IsAbs(c) {
				continue
			}
			if fi, err := e.Host.Stat(c); err != nil || fi.IsDir() {
				continue
			}
			d.Script = c
			if data, err := e.Host.ReadFile(c); err == nil {
				d.Defaults = parse.ParseDockerRootlessScript(data)
			}
			break
		}
		return d
	})
}

// Setting is DOCKERD_ROOTLESS_ROOTLESSKIT_<name> as dockerd-rootless.sh will see it: from the
// user unit and its drop-ins, else from this process's environment (the script started by
// hand); from says where ("" when unset).
func (d DockerRootless) Setting(e *Env, name string) (value, from string) {
	key := "DOCKERD_ROOTLESS_ROOTLESSKIT_" + name
	if v, ok := d.Unit.Env[key]; ok {
		return strings.TrimSpace(v), d.Unit.EnvFrom[key]
	}
	if v, ok := e.Getenv(key); ok {
		return strings.TrimSpace(v), "$" + key
	}
	return "", ""
}

// Driver is the network driver dockerd-rootless.sh will start RootlessKit with, in
// net.driver's reading of its choice (DOCKERD_ROOTLESS_ROOTLESSKIT_NET, else slirp4netns
// 0.4.0 or later, vpnkit, pasta where RootlessKit is not older than v3's script,
// gvisor-tap-vsock with RootlessKit v3); "" when there is none.
func (n NetDrivers) Driver() string {
	rkOld := n.RootlessKitMajor > 0 && n.RootlessKitMajor < 3
	switch {
	case n.Requested != "":
		return n.Requested
	case n.Slirp.Usable():
		return "slirp4netns"
	case n.VPNKit.Present():
		return "vpnkit"
	case n.Pasta.Present() && !rkOld:
		return "pasta"
	case n.RootlessKitMajor >= 3:
		return "gvisor-tap-vsock"
	}
	return ""
}

// PodmanUsesPasta reports whether Podman's rootless containers use pasta: its default since
// Podman 5, unless containers.conf picks slirp4netns.
func (n NetDrivers) PodmanUsesPasta() bool {
	return n.Podman.Present() && (n.PodmanMajor >= 5 && n.PodmanNetCmd != "slirp4netns" || n.PodmanNetCmd == "pasta")
}

// PodmanUsesSlirp reports whether Podman's rootless containers use slirp4netns: before Podman
// 5 by default, or when containers.conf picks it.
func (n NetDrivers) PodmanUsesSlirp() bool {
	return n.Podman.Present() && (n.PodmanNetCmd == "slirp4netns" || n.PodmanMajor > 0 && n.PodmanMajor < 5 && n.PodmanNetCmd == "")
}

// SlirpSandbox reports whether rootless Docker will start slirp4netns with --enable-sandbox,
// and why: RootlessKit's --slirp4netns-sandbox is "auto" by default (dockerd-rootless.sh's
// DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX), which turns the sandbox on wherever
// slirp4netns supports it (0.4.0 and later), except with --detach-netns (RootlessKit
// cmd/rootlesskit/main.go). The sandbox keeps only /etc and /run of the host
// (slirp4netns sandbox.c), pivot_roots into a tmpfs and reads /etc/resolv.conf from there.
func (e *Env) SlirpSandbox(ctx context.Context) (on bool, why string) {
	d := e.DockerRootless()
	if d.Script == "" {
		return false, "rootless Docker is not installed"
	}
	n := e.NetDrivers(ctx)
	if n.Driver() != "slirp4netns" || !n.Slirp.Usable() {
		return false, "rootless Docker does not use slirp4netns here"
	}
	mode, from := d.Setting(e, "SLIRP4NETNS_SANDBOX")
	switch mode {
	case "false":
		return false, "DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX=false in " + from
	case "true":
		return true, "DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX=true in " + from
	}
	detach, dfrom := d.Setting(e, "DETACH_NETNS")
	switch {
	case detach == "true" || detach == "1":
		return false, "DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS=" + detach + " in " + dfrom + ": RootlessKit's --detach-netns leaves the sandbox off"
	case detach == "" && d.Defaults.DetachNetnsDefault:
		return false, d.Script + " starts RootlessKit with --detach-netns, which leaves the sandbox off"
	}
	return true, d.Script + " lets RootlessKit turn slirp4netns's sandbox on (--slirp4netns-sandbox=auto)"
}
