package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
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
	return serviceEnv{Home: home, Name: u.Username, Exe: exe, Path: daemon.PathWithSbin(os.Getenv("PATH")), Bus: service.BusAddress()}, nil
}

// InstallOptions are the flags and arguments of install.
type InstallOptions struct {
	IO      *IOStreams
	Factory *Factory

	Net    string
	Engine []string
	// DryRun prints the unit instead of installing it; Wait bounds the wait for the engine.
	DryRun bool
	Wait   time.Duration
}

// NewCmdInstall builds `install`: the daemon as a systemd user service. runF replaces the
// logic in tests.
func NewCmdInstall(f *Factory, runF func(context.Context, *InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "install [--net auto|slirp4netns|pasta|gvisor] [--dry-run] [--wait DURATION] [-- ENGINE ARGS...]",
		Short: "Install and start `rootless-doctor daemon` as a systemd user service",
		Long: `Write ~/.config/systemd/user/rootless-doctor.service (ExecStart: this binary's daemon
command with the engine; Type=notify, Delegate=yes, Restart=on-failure, KillMode=mixed, no
task or file limits), then, over the user manager's D-Bus connection
($DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus): reload, enable and start it, and wait
(--wait, 3m) until the daemon says the engine answers on its API socket. When the service
fails or is not ready in time, print its state and its last journal lines (journalctl --user
-u rootless-doctor.service) and exit 1. Says whether linger is on (without it the service
stops at logout). Without a user manager it says so and how to run the daemon directly.
--dry-run prints the unit it would write and changes nothing.

The engine is the command after --, else the one daemon would pick (dockerd first, also in
/usr/sbin).`,
		Example: `  rootless-doctor install
  rootless-doctor install --dry-run -- dockerd --experimental`,
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
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the unit that would be written; install nothing")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 3*time.Minute, "how long to wait for the engine to answer")
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
	path := service.UnitPath(env.Home)
	spec := service.Spec{Exe: env.Exe, Net: netName, Engine: engine, Path: env.Path}
	out := f.IO.Out
	if opts.DryRun {
		b, err := service.Text(spec)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "# %s (not written: --dry-run)\n%s", path, b)
		return nil
	}
	if opts.Wait <= 0 {
		return usageErr("--wait %s: want a positive duration", opts.Wait)
	}
	// The connection outlives the wait, to read the unit's state when it was not ready.
	connCtx, cancel := context.WithTimeout(ctx, opts.Wait+time.Minute)
	defer cancel()
	c, err := service.Connect(connCtx, env.Bus)
	if err != nil {
		return noManager(f, err, engine)
	}
	defer c.Close()
	waitCtx, cancelWait := context.WithTimeout(connCtx, opts.Wait)
	defer cancelWait()
	if err := service.Install(waitCtx, c, path, spec); err != nil {
		if !errors.Is(err, service.ErrNotReady) || connCtx.Err() != nil {
			return &exitError{Code: ExitError, Err: err}
		}
		notReady(connCtx, f, c, path, err)
		return findings()
	}
	fmt.Fprintf(out, "Installed %s; %s is up.\n", path, service.Name)
	if r := daemon.ReadyOf(engine, os.Getenv("XDG_RUNTIME_DIR")); r.Env != "" {
		fmt.Fprintf(out, "Use it with: export %s=unix://%s\n", r.Env, r.Socket)
	}
	fmt.Fprintf(out, "Follow it with: journalctl --user -u %s -f\n", service.Name)
	if service.Linger(env.Name) {
		fmt.Fprintf(out, "Linger is on for %s: the service keeps running after logout and starts at boot.\n", env.Name)
	} else {
		fmt.Fprintf(out, "Linger is off for %s: the service stops at logout. To keep it running: sudo loginctl enable-linger %s\n", env.Name, env.Name)
	}
	return nil
}

// journalLines is how much of the unit's journal a failed install shows.
const journalLines = 20

// notReady reports a service that did not come up: the start job's end, the unit's state and
// the last lines of its journal.
func notReady(ctx context.Context, f *Factory, c *sd.Conn, path string, err error) {
	w := f.IO.ErrOut
	fmt.Fprintf(w, "rootless-doctor: installed %s, but the engine did not come up: %v\n", path, err)
	fmt.Fprintf(w, "%s: %s\n", service.Name, service.State(ctx, c, service.Name))
	argv := []string{"journalctl", "--user", "-u", service.Name, "-n", strconv.Itoa(journalLines), "--no-pager", "-o", "cat"}
	var buf strings.Builder
	jerr := host.RunCommand(ctx, 10*time.Second, true, argv, func(cmd *exec.Cmd) { cmd.Stdout, cmd.Stderr = &buf, &buf })
	fmt.Fprintf(w, "Last lines of its journal (%s):\n", strings.Join(argv, " "))
	text := strings.TrimRight(finding.ClipTail(buf.String(), 8192), "\n")
	switch {
	case text == "" && jerr != nil:
		text = jerr.Error()
	case text == "":
		text = "(no entries: is systemd-journald running?)"
	}
	for _, l := range strings.Split(text, "\n") {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "The unit stays installed and retries (Restart=on-failure): fix the cause (rootless-doctor check) and run install again, or uninstall.\n")
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
