package checks

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var engineNerdctl = Probe{
	ID:     "engine.nerdctl",
	Starts: true,
	Title:  "nerdctl (containerd)",
	Fails:  "rootless nerdctl will not run containers: no containerd-rootless.sh, containerd, rootlesskit or runc, a nerdctl.toml nerdctl refuses, CNI plugins missing, a generic probe it needs fails; warns when rootless containerd is not running",
	Why: "nerdctl talks to a containerd started by containerd-rootless.sh inside RootlessKit, and " +
		"sets up its networks with CNI plugins. It refuses a nerdctl.toml with a key it does not " +
		"know, and stops with `needs CNI plugin \"bridge\" to be installed in CNI_PATH` without the " +
		"plugins (docs/engines.md §3).",
	Reads: []string{"nerdctl, containerd, rootlesskit, runc --version", "containerd-rootless.sh on PATH", "~/.config/nerdctl/nerdctl.toml, $NERDCTL_TOML",
		"~/.config/containerd/config.toml", "$CNI_PATH and the CNI directories", "$XDG_RUNTIME_DIR/containerd-rootless/child_pid"},
	Fixes: []finding.Kind{finding.Package, finding.UserFile, finding.Manual},
	Run:   runEngineNerdctl,
}

func runEngineNerdctl(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	n := e.Nerdctl(ctx)
	if n == nil {
		return notInstalled(e, facts.EngineNerdctl, distro.ToolNerdctl)
	}
	v := newVerdict(e, facts.EngineNerdctl)
	v.with(n.Nerdctl.Evidence(), n.Containerd.Evidence(), n.Rootlesskit.Evidence(), n.Runc.Evidence())
	v.eng.Runtime = n.Runc.Describe()
	v.eng.Storage = orDefault(n.Conf.Snapshotter, "overlayfs")
	v.eng.Network = "cni"
	if n.RootlessSh == "" {
		// catalogue rootless-tooling-not-installed.
		v.fail("containerd-rootless.sh is not on PATH: rootless containerd cannot be started",
			finding.ManualStep("nerdctl-rootless", "install nerdctl's rootless scripts (containerd-rootless.sh, containerd-rootless-setuptool.sh from nerdctl's extras/rootless or nerdctl-full) on PATH"))
	}
	if !n.Containerd.Found() {
		v.fail("containerd is not installed", finding.ManualStep("containerd", "install containerd (your distribution's containerd package, or nerdctl-full)"))
	}
	if !n.Rootlesskit.Found() {
		v.fail("rootlesskit is not installed: containerd-rootless.sh needs it", finding.InstallTool(string(distro.ToolRootlesskit), "containerd-rootless.sh starts containerd inside RootlessKit"))
	}
	if !n.Runc.Found() {
		v.fail("runc is not installed", finding.InstallTool(string(distro.ToolRunc), "containerd runs containers with runc"))
	} else if e.Cgroup() == facts.CgroupUnified && facts.VersionBefore(n.Runc.Version, "1.0.0-rc91") {
		v.fail(fmt.Sprintf("%s is too old for rootless containers on cgroup v2 (1.0.0-rc91 or later)", n.Runc.Describe()),
			finding.InstallTool(string(distro.ToolRunc), "runc 1.0 or later manages cgroups of rootless containers on cgroup v2"))
	}
	if n.ConfErr != nil {
		// nerdctl@v2.3.5 cmd/nerdctl/main.go#L160: strict decoding.
		v.fail(fmt.Sprintf("nerdctl refuses %s: %s", homeRel(e, n.ConfFile), finding.ClipLine(n.ConfErr.Error(), 200)),
			finding.ManualStep("nerdctl-toml", fmt.Sprintf("fix %s: it takes only nerdctl's own keys (not containerd's config.toml)", n.ConfFile)))
	}
	if n.ContainerdErr != nil {
		v.fail(fmt.Sprintf("containerd refuses %s: %s", homeRel(e, n.ContainerdConfFile), finding.ClipLine(n.ContainerdErr.Error(), 200)),
			finding.ManualStep("containerd-config", fmt.Sprintf("fix %s", n.ContainerdConfFile)))
	}
	if len(n.MissingPlugins) > 0 {
		// nerdctl@v2.3.5 pkg/netutil/netutil.go#L475; catalogue nerdctl-cni-plugins-missing.
		in := []finding.Intent{}
		if dir := cniDirWithAll(e); dir != "" && dir != n.CNIPath {
			in = append(in, finding.SetUserTOML(e.User.Name, path.Join(xdgConfig(e), "nerdctl/nerdctl.toml"), "cni_path", dir,
				"nerdctl looks for the CNI plugins in "+n.CNIPath+"; they are in "+dir))
		} else {
			in = append(in, finding.InstallTool(string(distro.ToolCNIPlugins), "nerdctl's default network needs the CNI plugins"))
		}
		v.fail(fmt.Sprintf("the CNI plugins %s are not in %s (%s): `needs CNI plugin %q to be installed in CNI_PATH`", strings.Join(n.MissingPlugins, ", "), n.CNIPath, n.CNIPathFrom, n.MissingPlugins[0]), in...)
	}
	if !n.Running {
		// nerdctl@v2.3.5 pkg/rootlessutil/parent_linux.go#L75; catalogue
		// nerdctl-rootless-containerd-not-running.
		v.warn("rootless containerd is not running for "+e.User.Name+" ("+n.ChildPID+" is missing): `rootless containerd not running?`",
			finding.ManualStep("containerd-rootless-setup", "run containerd-rootless-setuptool.sh install as the account (install-buildkit too for nerdctl build)"))
	}
	if n.Buildkitd == "" {
		v.detail("buildkitd is not installed: `nerdctl build` needs it (engine.buildkit).")
	}
	v.needs(ctx, facts.EngineNerdctl)
	return v.result(n.Nerdctl.Raw)
}

// cniDirWithAll is the first CNI directory that holds every plugin of nerdctl's default
// network, "" when none does.
func cniDirWithAll(e *facts.Env) string {
	for _, d := range []string{"/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin", "/usr/local/libexec/cni", "/usr/local/lib/cni"} {
		all := true
		for _, p := range []string{"bridge", "portmap", "firewall", "tuning", "host-local"} {
			all = all && e.Executable(path.Join(d, p))
		}
		if all {
			return d
		}
	}
	return ""
}
