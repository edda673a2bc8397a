package facts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/parse"
)

// Docker is what rootless Docker will run with for the account (docs/engines.md §2).
type Docker struct {
	Dockerd Binary
	// RootlessSh is dockerd-rootless.sh; OnPath says whether it is on the PATH the user and
	// the setup tool see (Debian keeps it in /usr/share/docker.io/contrib, off PATH).
	RootlessSh string
	OnPath     bool
	SetupTool  string
	// Unit is the user unit the setup tool writes, "" when absent; Dirs the PATH the daemon
	// starts with (the unit's Environment=PATH, else this PATH plus /sbin:/usr/sbin, as the
	// setup tool writes it, moby@v27.5.1 contrib/dockerd-rootless-setuptool.sh#L300);
	// PathFrom where it came from; Env the unit's environment.
	Unit     string
	Dirs     []string
	PathFrom string
	Env      map[string]string
	// Rootlesskit is docker-rootlesskit or rootlesskit on Dirs; Proxy is
	// rootlesskit-docker-proxy on Dirs ("" when missing).
	Rootlesskit Binary
	Proxy       string
	Runc        Binary
	Containerd  Binary
	// Config is daemon.json, ConfigFile its path, ConfigErr why it cannot be used.
	Config     parse.DockerDaemonConfig
	ConfigFile string
	ConfigErr  error
	// CLI is the docker client on Dirs.
	CLI string
}

// debianContrib is where Debian's docker.io keeps the rootless scripts (dpkg -L docker.io).
const debianContrib = "/usr/share/docker.io/contrib"

// Docker resolves rootless Docker's setup once per run; nil when neither dockerd nor
// dockerd-rootless.sh is installed.
func (e *Env) Docker(ctx context.Context) *Docker {
	return e.docker.get(func() *Docker {
		d := &Docker{}
		d.Dirs, d.PathFrom, d.Unit, d.Env = e.unitPath("docker.service")
		dockerd := e.FindIn(d.Dirs, "dockerd")
		d.RootlessSh = e.FindIn(d.Dirs, "dockerd-rootless.sh")
		d.OnPath = d.RootlessSh != ""
		if d.RootlessSh == "" {
			d.RootlessSh = e.FindIn([]string{debianContrib}, "dockerd-rootless.sh")
		}
		if dockerd == "" && d.RootlessSh == "" {
			return nil
		}
		d.SetupTool = e.FindIn(append(append([]string{}, d.Dirs...), debianContrib), "dockerd-rootless-setuptool.sh")
		d.Dockerd = e.Versioned(ctx, "dockerd", dockerd, "Docker", "docker.io", "docker-ce", "moby-engine", "docker")
		rk := e.FindIn(d.Dirs, "docker-rootlesskit")
		if rk == "" {
			rk = e.FindIn(d.Dirs, "rootlesskit")
		}
		d.Rootlesskit = e.Versioned(ctx, "rootlesskit", rk, "rootlesskit", "rootlesskit", "docker-ce-rootless-extras")
		d.Proxy = e.FindIn(d.Dirs, "rootlesskit-docker-proxy")
		// containerd.io ships runc but carries containerd's version: ask runc itself.
		d.Runc = e.Versioned(ctx, "runc", e.FindIn(d.Dirs, "runc"), "runc", "runc")
		d.Containerd = e.Versioned(ctx, "containerd", e.FindIn(d.Dirs, "containerd"), "containerd", "containerd", "containerd.io")
		d.CLI = e.FindIn(d.Dirs, "docker")
		root := e.DockerDataRoot()
		d.ConfigFile = root.ConfigFile
		if root.ConfigErr != nil {
			d.ConfigErr = root.ConfigErr
		} else if data, err := e.Host.ReadFile(d.ConfigFile); err == nil {
			d.Config, d.ConfigErr = parse.ParseDockerDaemonJSON(data)
		}
		return d
	})
}

// unitPath is the PATH a rootless daemon started from the user unit NAME sees, and the
// unit's environment: Environment= lines of ~/.config/systemd/user/NAME and its drop-ins.
func (e *Env) unitPath(name string) (dirs []string, from, unit string, env map[string]string) {
	env = map[string]string{}
	if e.UserErr == nil && e.User.Home != "" {
		u := path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "systemd/user", name)
		files := []string{u}
		files = append(files, e.dropIns(u+".d")...)
		for _, f := range files {
			data, err := e.Host.ReadFile(f)
			if err != nil {
				continue
			}
			if f == u {
				unit = u
			}
			for k, v := range parse.ParseUnitEnvironment(data) {
				env[k] = v
			}
		}
	}
	if p, ok := env["PATH"]; ok && p != "" {
		return strings.Split(p, ":"), "Environment=PATH in " + unit, unit, env
	}
	p, _ := e.Host.LookupEnv("PATH")
	if p == "" {
		p = "/usr/local/bin:/usr/bin:/bin"
	}
	// The setup tool writes PATH=$BIN:/sbin:/usr/sbin:$PATH into the unit.
	return append(strings.Split(p, ":"), "/sbin", "/usr/sbin"), "PATH plus /sbin:/usr/sbin (as the setup tool's unit)", unit, env
}

// Nerdctl is rootless nerdctl's setup: containerd-rootless.sh, nerdctl.toml, CNI plugins
// (docs/engines.md §3).
type Nerdctl struct {
	Nerdctl     Binary
	RootlessSh  string
	Containerd  Binary
	Rootlesskit Binary
	Runc        Binary
	// Conf is nerdctl.toml, ConfFile its path ("" none), ConfErr why nerdctl refuses it.
	Conf     parse.NerdctlConf
	ConfFile string
	ConfErr  error
	// ContainerdConfFile is ~/.config/containerd/config.toml when it exists, ContainerdErr
	// why containerd refuses it.
	ContainerdConfFile string
	ContainerdErr      error
	// CNIPath is the CNI plugin directory and where it came from; MissingPlugins the
	// plugins of the default network it lacks.
	CNIPath, CNIPathFrom string
	MissingPlugins       []string
	// ChildPID is $XDG_RUNTIME_DIR/containerd-rootless/child_pid; Running: it exists.
	ChildPID string
	Running  bool
	// Buildkitd is buildkitd on PATH (nerdctl build needs it).
	Buildkitd string
}

// nerdctlCNIPlugins are the plugins nerdctl's default network uses (docs/engines.md §3).
var nerdctlCNIPlugins = []string{"bridge", "portmap", "firewall", "tuning", "host-local"}

// Nerdctl resolves rootless nerdctl once per run; nil when nerdctl is not installed.
func (e *Env) Nerdctl(ctx context.Context) *Nerdctl {
	return e.nerdctl.get(func() *Nerdctl {
		p, err := e.LookPath("nerdctl")
		if err != nil {
			return nil
		}
		n := &Nerdctl{Nerdctl: e.Versioned(ctx, "nerdctl", p, "nerdctl", "nerdctl")}
		dirs, _, _, _ := e.unitPath("containerd.service")
		n.RootlessSh = e.FindIn(dirs, "containerd-rootless.sh")
		n.Containerd = e.Versioned(ctx, "containerd", e.FindIn(dirs, "containerd"), "containerd", "containerd", "containerd.io")
		n.Rootlesskit = e.Versioned(ctx, "rootlesskit", e.FindIn(dirs, "rootlesskit"), "rootlesskit", "rootlesskit")
		n.Runc = e.Versioned(ctx, "runc", e.FindIn(dirs, "runc"), "runc", "runc")
		n.Buildkitd = e.FindIn(dirs, "buildkitd")
		cfg := path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "nerdctl/nerdctl.toml")
		if v, ok := e.Getenv("NERDCTL_TOML"); ok && v != "" {
			cfg = absUnder(e, v)
		}
		if data, err := e.Host.ReadFile(cfg); err == nil {
			n.ConfFile = cfg
			n.Conf, n.ConfErr = parse.ParseNerdctlConf(data)
		} else if !errors.Is(err, fs.ErrNotExist) {
			n.ConfFile, n.ConfErr = cfg, err
		}
		cc := path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "containerd/config.toml")
		if data, err := e.Host.ReadFile(cc); err == nil {
			n.ContainerdConfFile = cc
			_, n.ContainerdErr = parse.ParseContainerdConf(data)
		}
		// CNIPath(): CNI_PATH, cni_path, else the first existing directory of the list
		// (nerdctl@v2.3.5 pkg/defaults/defaults_linux.go#L48-L80).
		switch v, ok := e.Getenv("CNI_PATH"); {
		case ok && v != "":
			n.CNIPath, n.CNIPathFrom = v, "$CNI_PATH"
		case n.Conf.CNIPath != "":
			n.CNIPath, n.CNIPathFrom = n.Conf.CNIPath, "cni_path in "+n.ConfFile
		default:
			n.CNIPath, n.CNIPathFrom = "/opt/cni/bin", "nerdctl's default (no CNI directory exists)"
			h := e.User.Home
			for _, d := range []string{h + "/opt/cni/bin", h + "/.local/libexec/cni", h + "/.local/lib/cni", "/opt/cni/bin", "/usr/local/libexec/cni",
				"/usr/local/lib/cni", "/home/linuxbrew/.linuxbrew/opt/cni-plugins/bin", "/usr/libexec/cni", "/usr/lib/cni"} {
				if fi, err := e.Host.Stat(d); err == nil && fi.IsDir() {
					n.CNIPath, n.CNIPathFrom = d, "nerdctl's default: the first CNI directory that exists"
					break
				}
			}
		}
		for _, pl := range nerdctlCNIPlugins {
			if !e.Executable(path.Join(n.CNIPath, pl)) {
				n.MissingPlugins = append(n.MissingPlugins, pl)
			}
		}
		n.ChildPID = path.Join(e.RuntimeDir(), "containerd-rootless/child_pid")
		_, err = e.Host.Stat(n.ChildPID)
		n.Running = err == nil
		return n
	})
}

// Buildkit is rootless buildkitd's setup (docs/engines.md §4).
type Buildkit struct {
	Buildkitd   Binary
	Rootlesskit Binary
	// OCIRuntime is the runc the OCI worker runs ("" none); OCIRuntimeFrom how it was found.
	OCIRuntime     string
	OCIRuntimeFrom string
	Conf           parse.BuildkitdConf
	ConfFile       string
	ConfErr        error
}

// Buildkit resolves rootless buildkitd once per run; nil when buildkitd is not installed.
func (e *Env) Buildkit(ctx context.Context) *Buildkit {
	return e.buildkit.get(func() *Buildkit {
		p, err := e.LookPath("buildkitd")
		if err != nil {
			return nil
		}
		b := &Buildkit{Buildkitd: e.Versioned(ctx, "buildkitd", p, "buildkitd", "buildkit")}
		if rk, err := e.LookPath("rootlesskit"); err == nil {
			b.Rootlesskit = e.Versioned(ctx, "rootlesskit", rk, "rootlesskit", "rootlesskit")
		} else {
			b.Rootlesskit = Binary{Name: "rootlesskit"}
		}
		cfg := path.Join(xdgDir(e, "XDG_CONFIG_HOME", ".config"), "buildkit/buildkitd.toml")
		if data, err := e.Host.ReadFile(cfg); err == nil {
			b.ConfFile = cfg
			b.Conf, b.ConfErr = parse.ParseBuildkitdConf(data)
		}
		// validOCIBinary: worker.oci.binary, else runc, else buildkit-runc on $PATH
		// (buildkit@v0.32.2 cmd/buildkitd/main_oci_worker.go#L465).
		names := []string{"runc", "buildkit-runc"}
		if bin := b.Conf.Worker.OCI.Binary; bin != "" {
			names = []string{bin}
		}
		for _, n := range names {
			if rp, err := e.LookPath(n); err == nil {
				b.OCIRuntime, b.OCIRuntimeFrom = rp, fmt.Sprintf("%s on PATH", n)
				break
			}
		}
		return b
	})
}
