package checks

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var engineDocker = Probe{
	ID:     "engine.docker",
	Starts: true,
	Title:  "Docker",
	Fails:  "rootless Docker will not start or run containers: no dockerd-rootless.sh or rootlesskit, dockerd ≤ 27 without rootlesskit-docker-proxy, the systemd cgroup driver without v2 or a bus, Docker 29's containerd store on a kernel before 5.11, runc missing or too old, userns-remap in daemon.json, a generic probe Docker needs fails; warns on Debian's setup tool and on the nvidia runtime without no-cgroups (GPU containers fail)",
	Why: "Rootless Docker is dockerd started by dockerd-rootless.sh inside RootlessKit, usually " +
		"from the user unit the setup tool writes, with that unit's PATH. dockerd 20.10 to 27 refuses " +
		"to start without rootlesskit-docker-proxy (`running with RootlessKit, but " +
		"rootlesskit-docker-proxy not installed`, moby/moby#49519), the systemd cgroup driver needs " +
		"cgroup v2 and a session bus, and Docker 29's containerd image store needs native rootless " +
		"overlay (moby/moby#53029). docs/engines.md §2 has the rules with their sources.",
	Reads: []string{"dockerd, rootlesskit, runc, containerd --version (or dpkg)", "~/.config/systemd/user/docker.service{,.d/*.conf} (Environment=PATH, DOCKERD_ROOTLESS_ROOTLESSKIT_*)",
		"dockerd-rootless.sh, dockerd-rootless-setuptool.sh, rootlesskit-docker-proxy on the unit's PATH, /usr/share/docker.io/contrib",
		"~/.config/docker/daemon.json", "/etc/nvidia-container-runtime/config.toml", "the kernel release", "/run/systemd/system", "$DBUS_SESSION_BUS_ADDRESS, $XDG_RUNTIME_DIR/bus"},
	Fixes: []finding.Kind{finding.Package, finding.UserFile, finding.Manual},
	Run:   runEngineDocker,
}

func runEngineDocker(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	d := e.Docker(ctx)
	if d == nil {
		if e.Distro.Family == distro.FamilyDebian {
			return notInstalled(e, facts.EngineDocker, distro.ToolDocker, distro.ToolRootlesskit)
		}
		return notInstalled(e, facts.EngineDocker, distro.ToolDocker)
	}
	v := newVerdict(e, facts.EngineDocker)
	v.with(d.Dockerd.Evidence(), d.Rootlesskit.Evidence(), d.Runc.Evidence())
	v.with(finding.Evidence{Source: "PATH of the daemon", Value: d.PathFrom})
	v.eng.Runtime = d.Runc.Describe()
	if d.Config.DefaultRuntime != "" {
		v.eng.Runtime = d.Config.DefaultRuntime
	}
	v.eng.Network = dockerNet(e, d)
	v.eng.Storage = orDefault(d.Config.StorageDriver, "auto")
	daemonJSON := homeRel(e, d.ConfigFile)

	if !d.Dockerd.Found() {
		v.fail("dockerd-rootless.sh is installed but dockerd is not", finding.InstallTool(string(distro.ToolDocker), "rootless Docker runs dockerd"))
	}
	switch {
	case d.RootlessSh == "":
		// catalogue rootless-tooling-not-installed.
		v.fail("dockerd is installed without its rootless scripts (dockerd-rootless.sh): `dockerd-rootless-setuptool.sh: command not found`",
			finding.ManualStep("docker-rootless-extras", "install docker-ce-rootless-extras (Docker's repository) or your distribution's rootless Docker package, and put dockerd-rootless.sh on PATH"))
	case !d.OnPath:
		v.detail("dockerd-rootless.sh is %s, off PATH (Debian's docker.io keeps it in %s).", d.RootlessSh, path.Dir(d.RootlessSh))
		if !e.Executable(path.Join(path.Dir(d.RootlessSh), "docker")) {
			// catalogue debian-setuptool-wrong-docker-cli: the setup tool runs $BIN/docker.
			v.warn("Debian's dockerd-rootless-setuptool.sh runs $BIN/docker from its own directory, which has no docker: its context and version steps fail",
				finding.ManualStep("docker-context", "after the setup tool, create the context yourself: docker context create rootless --docker host=unix://$XDG_RUNTIME_DIR/docker.sock && docker context use rootless"))
		}
	}
	if !d.Rootlesskit.Found() {
		// moby@v20.10.24 contrib/dockerd-rootless.sh#L36-L46.
		v.fail("neither docker-rootlesskit nor rootlesskit is on the daemon's PATH: `rootlesskit needs to be installed`",
			finding.InstallTool(string(distro.ToolRootlesskit), "dockerd-rootless.sh starts dockerd inside RootlessKit"))
	}
	if d.Dockerd.Found() && facts.VersionBefore(d.Dockerd.Version, "28.0.0") && d.Proxy == "" && d.Config.UserlandProxyPath == "" {
		// moby@v20.10.24 cmd/dockerd/config_unix.go#L44-L51: dockerd ≤ 27 looks the proxy up at
		// start and exits; docker-ce-rootless-extras 28 no longer ships it (moby/moby#49519).
		fix := finding.ManualStep("docker-one-release", "install docker-ce, docker-ce-cli and docker-ce-rootless-extras of one release, then systemctl --user restart docker")
		if e.Distro.Family == distro.FamilyDebian {
			fix = finding.InstallTool(string(distro.ToolRootlesskit), "Debian's rootlesskit package ships rootlesskit-docker-proxy, which dockerd 20.10 to 27 needs")
		}
		v.fail(fmt.Sprintf("%s does not start without rootlesskit-docker-proxy, which is not on its PATH: `running with RootlessKit, but rootlesskit-docker-proxy not installed`", d.Dockerd.Describe()), fix)
		v.detail("Docker 28 does the proxy's work inside dockerd and its rootless extras stop shipping the binary; a daemon of 27 or older with the extras of 28 cannot start (docs/failures/catalogue.json#rootlesskit-docker-proxy-version-skew).")
	}
	if d.ConfigErr != nil {
		v.fail(fmt.Sprintf("%s is not valid (%s): dockerd refuses to start", daemonJSON, finding.ClipLine(d.ConfigErr.Error(), 200)),
			finding.ManualStep("fix-docker-daemon-json", fmt.Sprintf("fix the JSON in %s (or remove the file)", d.ConfigFile)))
	}
	if d.Config.UsernsRemap != "" {
		// userns-remap maps root's containers onto dockremap's subordinate ids; rootless dockerd
		// already runs in the account's user namespace and exits at start with it
		// (moby/moby#43129, moby/moby#48521; docs/failures/catalogue.json#rootless-daemon-json-userns-remap).
		v.fail(fmt.Sprintf("%s sets \"userns-remap\": %q, a rootful feature: rootless dockerd exits at start", daemonJSON, finding.ClipLine(d.Config.UsernsRemap, 60)),
			finding.ManualStep("docker-userns-remap", fmt.Sprintf("remove the \"userns-remap\" key from %s (rootless mode already maps container ids onto the account's subordinate ids), then systemctl --user restart docker", d.ConfigFile)))
	}
	dockerCgroups(e, d, v, daemonJSON)
	dockerSnapshotter(e, d, v, daemonJSON)
	if !d.Runc.Found() && d.Config.DefaultRuntime == "" {
		v.fail("runc is not on the daemon's PATH: containerd's runc shim cannot start containers",
			finding.InstallTool(string(distro.ToolRunc), "Docker runs containers with runc"))
	} else if e.Cgroup() == facts.CgroupUnified && facts.VersionBefore(d.Runc.Version, "1.0.0-rc91") {
		v.fail(fmt.Sprintf("%s is too old for rootless containers on cgroup v2 (1.0.0-rc91 or later)", d.Runc.Describe()),
			finding.InstallTool(string(distro.ToolRunc), "runc 1.0 or later manages cgroups of rootless containers on cgroup v2 (docs/failures/catalogue.json#runc-too-old-for-cgroup-v2)"))
	}
	dockerNvidia(e, d, v, daemonJSON)
	v.needs(ctx, facts.EngineDocker)
	return v.result(d.Dockerd.Raw)
}

// dockerNet is the RootlessKit network driver dockerd-rootless.sh will pick.
func dockerNet(e *facts.Env, d *facts.Docker) string {
	if n := d.Env[netEnvKey]; n != "" {
		return n
	}
	for _, n := range []string{drvSlirp4netns, drvVPNKit, drvPasta} {
		if e.FindIn(d.Dirs, n) != "" {
			return n
		}
	}
	return ""
}

// dockerCgroups: the cgroup driver (moby@v27.5.1 daemon/daemon_unix.go#L577-L620, #L764).
func dockerCgroups(e *facts.Env, d *facts.Docker, v *verdict, daemonJSON string) {
	drv := d.Config.CgroupDriver()
	unified := e.Cgroup() == facts.CgroupUnified
	switch {
	case drv == "systemd" && !unified:
		v.fail(fmt.Sprintf("%s sets native.cgroupdriver=systemd on cgroup v1: `exec-opt native.cgroupdriver=systemd requires cgroup v2 for rootless mode`", daemonJSON),
			finding.ManualStep("docker-cgroupdriver", fmt.Sprintf(`remove "native.cgroupdriver=systemd" from "exec-opts" in %s`, d.ConfigFile)))
	case drv == "systemd" || drv == "" && unified && e.SystemdRunning():
		bus := e.SessionBus()
		if !bus {
			_, err := e.Host.Stat(path.Join(e.RuntimeDir(), "bus"))
			bus = err == nil
		}
		if !bus {
			// runc@v1.1.5 libcontainer/cgroups/systemd/user.go#L83-L97: runc finds no bus.
			v.fail("the systemd cgroup driver has no session bus: dockerd starts, but runc fails every container (`could not execute `systemctl --user --no-pager show-environment``)",
				finding.ManualStep("docker-cgroupdriver", fmt.Sprintf(`enable lingering and dbus-user-session, or set "exec-opts": ["native.cgroupdriver=cgroupfs"] in %s`, d.ConfigFile)))
		}
	}
}

// dockerSnapshotter: Docker 29 uses containerd's image store by default, whose overlayfs
// snapshotter needs native rootless overlay (moby/moby#53029).
func dockerSnapshotter(e *facts.Env, d *facts.Docker, v *verdict, daemonJSON string) {
	if d.Dockerd.Version == nil || facts.VersionBefore(d.Dockerd.Version, "29.0.0") {
		return
	}
	if d.Config.ContainerdSnapshotter != nil && !*d.Config.ContainerdSnapshotter {
		return
	}
	k, err := e.Kernel()
	if err != nil || k.AtLeast(5, 11) || e.Distro.PatchedOverlayInUserNS(k.Release) {
		return
	}
	v.fail(fmt.Sprintf("%s uses containerd's image store, whose overlayfs snapshotter needs kernel 5.11 or later (this is %d.%d) and has no fuse-overlayfs fallback", d.Dockerd.Describe(), k.Major, k.Minor),
		finding.SetUserJSON(e.User.Name, d.ConfigFile, "features.containerd-snapshotter", "false",
			"Docker 29's containerd store cannot stack layers rootless before kernel 5.11 (docs/failures/catalogue.json#docker29-containerd-snapshotter-old-kernel)"))
	v.detail("Setting \"features\": {\"containerd-snapshotter\": false} in %s brings back the classic storage drivers (fuse-overlayfs).", daemonJSON)
}

// dockerNvidia: the NVIDIA toolkit's prestart hook programs the device cgroup, which a
// rootless engine cannot do; rootless setups need no-cgroups = true
// (docs/failures/catalogue.json#nvidia-toolkit-cgroups-rootless). A warning: dockerd starts
// and containers that ask for no GPU run (the legacy hook acts only on --gpus or
// NVIDIA_VISIBLE_DEVICES), so only GPU containers fail.
func dockerNvidia(e *facts.Env, d *facts.Docker, v *verdict, daemonJSON string) {
	if !slices.Contains(d.Config.Runtimes, "nvidia") && d.Config.DefaultRuntime != "nvidia" {
		return
	}
	const conf = "/etc/nvidia-container-runtime/config.toml"
	data, err := e.Host.ReadFile(conf)
	if err != nil {
		v.detail("%s configures the nvidia runtime; %s could not be read (%v).", daemonJSON, conf, err)
		return
	}
	c, err := parse.ParseNvidiaContainerConf(data)
	if err == nil && c.CLI.NoCgroups {
		return
	}
	v.warn(fmt.Sprintf("%s configures the nvidia runtime, and %s does not set no-cgroups = true: GPU containers (--gpus) fail with `nvidia-container-cli: mount error: failed to add device rules`", daemonJSON, conf),
		finding.ManualStep("nvidia-no-cgroups", fmt.Sprintf("set no-cgroups = true under [nvidia-container-cli] in %s (as root)", conf)))
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
