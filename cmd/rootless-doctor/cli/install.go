package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
	"github.com/rootless-doctor/rootless-doctor/runtime/service"
)

// serviceEnv is what install/uninstall need to know about the account.
type serviceEnv struct {
	Home, Name, Exe, Path, Bus string
}

// geteuid is os.Geteuid; tests (which run as root in CI) replace it.
var geteuid = os.Geteuid

func currentServiceEnv() (serviceEnv, error) {
	if geteuid() == 0 {
		return serviceEnv{}, usageErr("run install/uninstall as the account that runs the engine, not as root: the unit is a systemd user service")
	}
	u, err := user.Current()
	if err != nil {
		return serviceEnv{}, err
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = u.HomeDir
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return serviceEnv{}, fmt.Errorf("cannot find this binary: %w", err)
	}
	return serviceEnv{Home: home, Name: u.Username, Exe: exe, Path: os.Getenv("PATH"), Bus: service.BusAddress()}, nil
}

// InstallOptions are the flags and arguments of install.
type InstallOptions struct {
	IO      *IOStreams
	Factory *Factory

	Net    string
	Engine []string
}

// NewCmdInstall builds `install`: the daemon as a systemd user service. runF replaces the
// logic in tests.
func NewCmdInstall(f *Factory, runF func(context.Context, *InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "install [--net auto|slirp4netns|pasta|gvisor] [-- ENGINE ARGS...]",
		Short: "Install and start `rootless-doctor daemon` as a systemd user service",
		Long: `Write ~/.config/systemd/user/rootless-doctor.service (ExecStart: this binary's daemon
command with the engine; Delegate=yes, Restart=on-failure, KillMode=mixed, no task or file
limits), then, over the user manager's D-Bus connection ($DBUS_SESSION_BUS_ADDRESS, else
$XDG_RUNTIME_DIR/bus): reload, enable and start it. Says whether linger is on (without it the
service stops at logout). Without a user manager it says so and how to run the daemon directly.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains([]string{rootlesskit.NetAuto, rootlesskit.NetSlirp4netns, rootlesskit.NetPasta, rootlesskit.NetGvisor}, opts.Net) {
				return usageErr("--net %q: want one of auto, slirp4netns, pasta, gvisor", opts.Net)
			}
			if cmd.ArgsLenAtDash() != 0 && len(args) > 0 {
				return usageErr("unexpected arguments %q: put the engine's command after --", args)
			}
			opts.Engine = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return installRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Net, "net", rootlesskit.NetAuto, "network driver: auto|slirp4netns|pasta|gvisor")
	return cmd
}

// UninstallOptions are what uninstall needs.
type UninstallOptions struct {
	IO      *IOStreams
	Factory *Factory
}

// NewCmdUninstall builds `uninstall`. runF replaces the logic in tests.
func NewCmdUninstall(f *Factory, runF func(context.Context, *UninstallOptions) error) *cobra.Command {
	opts := &UninstallOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:   "uninstall",
		Short: "Stop, disable and remove the rootless-doctor user service (engine data is kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return uninstallRun(cmd.Context(), opts)
		},
	}
}

func noManager(f *Factory, err error, engine []string) error {
	fmt.Fprintf(f.IO.ErrOut, "rootless-doctor: %v\n", err)
	fmt.Fprintf(f.IO.ErrOut, "Run the engine directly instead (it stops when you log out):\n  rootless-doctor daemon -- %s\n", strings.Join(engine, " "))
	return findings()
}

// installEngine is defaultEngine on the live host (install runs no probes).
func installEngine(ctx context.Context, f *Factory) ([]string, error) {
	open := f.Host
	if open == nil {
		open = openHost
	}
	h, err := open("")
	if err != nil {
		return nil, err
	}
	return defaultEngine(ctx, facts.NewEnv(ctx, h, ""))
}

func installRun(ctx context.Context, opts *InstallOptions) error {
	f, netName, engineArgs := opts.Factory, opts.Net, opts.Engine
	env, err := currentServiceEnv()
	if err != nil {
		return err
	}
	var engine []string
	if len(engineArgs) > 0 {
		engine, err = daemon.FindEngine(engineArgs)
	} else {
		engine, err = installEngine(ctx, f)
	}
	if err != nil {
		return usageErr("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := service.Connect(ctx, env.Bus)
	if err != nil {
		return noManager(f, err, engine)
	}
	defer c.Close()
	path := service.UnitPath(env.Home)
	spec := service.Spec{Exe: env.Exe, Net: netName, Engine: engine, Path: env.Path}
	if err := service.Install(ctx, c, path, spec); err != nil {
		return &exitError{Code: ExitError, Err: err}
	}
	out := f.IO.Out
	fmt.Fprintf(out, "Installed %s and started %s.\n", path, service.Name)
	fmt.Fprintf(out, "Follow it with: journalctl --user -u %s -f\n", service.Name)
	if filepath.Base(engine[0]) == "dockerd" {
		if rd := os.Getenv("XDG_RUNTIME_DIR"); rd != "" {
			fmt.Fprintf(out, "Use it with: export DOCKER_HOST=unix://%s/docker.sock\n", rd)
		}
	}
	if service.Linger(env.Name) {
		fmt.Fprintf(out, "Linger is on for %s: the service keeps running after logout and starts at boot.\n", env.Name)
	} else {
		fmt.Fprintf(out, "Linger is off for %s: the service stops at logout. To keep it running: sudo loginctl enable-linger %s\n", env.Name, env.Name)
	}
	return nil
}

func uninstallRun(ctx context.Context, opts *UninstallOptions) error {
	f := opts.Factory
	env, err := currentServiceEnv()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := service.Connect(ctx, env.Bus)
	if err != nil {
		if errors.Is(err, service.ErrNoManager) {
			fmt.Fprintf(f.IO.ErrOut, "rootless-doctor: %v; nothing to stop\n", err)
			return findings()
		}
		return err
	}
	defer c.Close()
	path := service.UnitPath(env.Home)
	if err := service.Uninstall(ctx, c, path); err != nil {
		return &exitError{Code: ExitError, Err: err}
	}
	fmt.Fprintf(f.IO.Out, "Stopped, disabled and removed %s; the engine's data is left in place.\n", service.Name)
	return nil
}
