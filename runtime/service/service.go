// Package service installs `rootless-doctor daemon` as a systemd user service: it writes the
// unit file with go-systemd's unit package and drives the user manager over D-Bus with
// go-systemd, on a bus address given explicitly: the library's own session-bus lookup can
// autolaunch dbus-launch (github.com/coreos/go-systemd dbus.NewUserConnectionContext).
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/coreos/go-systemd/v22/unit"
	"github.com/godbus/dbus/v5"

	"github.com/rootless-doctor/rootless-doctor/internal/safefs"
)

// Name is the unit's name.
const Name = "rootless-doctor.service"

// Spec is what the unit runs.
type Spec struct {
	// Exe is this binary's absolute path.
	Exe string
	// Net is the daemon's --net.
	Net string
	// Engine is the engine's argv (resolved); empty lets the daemon pick at each start.
	Engine []string
	// Path is the PATH the engine gets (the engine's helpers: slirp4netns, newuidmap,
	// rootlesskit-docker-proxy, containerd, runc).
	Path string
}

// UnitPath is ~/.config/systemd/user/rootless-doctor.service ($XDG_CONFIG_HOME honoured).
func UnitPath(home string) string {
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if cfg == "" || !filepath.IsAbs(cfg) {
		cfg = filepath.Join(home, ".config")
	}
	return filepath.Join(cfg, "systemd", "user", Name)
}

// execQuote quotes one ExecStart word for systemd: % and $ are escaped (specifiers and
// variable expansion) and a word with blanks, quotes or backslashes is double-quoted.
func execQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\;") {
		return s
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	return `"` + s + `"`
}

// Options are the unit's settings: what dockerd-rootless-setuptool.sh writes for
// docker.service (Delegate, KillMode=mixed, the limits), with our ExecStart.
func Options(s Spec) []*unit.UnitOption {
	argv := []string{s.Exe, "daemon"}
	if s.Net != "" {
		argv = append(argv, "--net", s.Net)
	}
	if len(s.Engine) > 0 {
		argv = append(append(argv, "--"), s.Engine...)
	}
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = execQuote(a)
	}
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "Rootless container engine, started by rootless-doctor after its checks"),
		unit.NewUnitOption("Unit", "Documentation", "https://github.com/rootless-doctor/rootless-doctor"),
		unit.NewUnitOption("Unit", "StartLimitBurst", "3"),
		unit.NewUnitOption("Unit", "StartLimitIntervalSec", "60s"),
		// notify: the daemon sends READY=1 once the engine answers on its API socket, so the
		// start job (and install, which waits for it) ends when the engine is up, or fails
		// when it dies first (issue 12: with Type=simple install reported success for a
		// service that died 2 s later). NotifyAccess=main: the daemon is the main process;
		// the engine does not get the socket.
		unit.NewUnitOption("Service", "Type", "notify"),
		unit.NewUnitOption("Service", "NotifyAccess", "main"),
		unit.NewUnitOption("Service", "ExecStart", strings.Join(words, " ")),
	}
	if s.Path != "" {
		opts = append(opts, unit.NewUnitOption("Service", "Environment", execQuote("PATH="+s.Path)))
	}
	opts = append(opts,
		unit.NewUnitOption("Service", "Restart", "on-failure"),
		// The start covers the checks, the live proof and the engine's own start; the stop
		// waits for the engine as long as it takes (dockerd-rootless-setuptool.sh: TimeoutSec=0).
		unit.NewUnitOption("Service", "TimeoutStartSec", "5min"),
		unit.NewUnitOption("Service", "TimeoutStopSec", "infinity"),
		unit.NewUnitOption("Service", "LimitNOFILE", "infinity"),
		unit.NewUnitOption("Service", "LimitNPROC", "infinity"),
		unit.NewUnitOption("Service", "LimitCORE", "infinity"),
		unit.NewUnitOption("Service", "TasksMax", "infinity"),
		// Delegate: the engine gets its own cgroup subtree (cgroup v2 limits for containers).
		unit.NewUnitOption("Service", "Delegate", "yes"),
		// mixed: SIGTERM to the daemon only (it forwards it to the engine), SIGKILL to what is
		// left after the timeout.
		unit.NewUnitOption("Service", "KillMode", "mixed"),
		unit.NewUnitOption("Install", "WantedBy", "default.target"),
	)
	return opts
}

// BusAddress is the user manager's bus: $DBUS_SESSION_BUS_ADDRESS, else
// $XDG_RUNTIME_DIR/bus when that socket exists. "" means no user bus was found.
func BusAddress() string {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && !strings.HasPrefix(a, "autolaunch:") {
		return a
	}
	if rd := os.Getenv("XDG_RUNTIME_DIR"); rd != "" {
		p := filepath.Join(rd, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + p
		}
	}
	return ""
}

// ErrNoManager says there is no systemd user manager to talk to.
var ErrNoManager = errors.New("no systemd user manager")

// connectTimeout bounds connecting to the bus and hearing the manager answer: the
// authentication, Hello and one property read take milliseconds on a working bus.
var connectTimeout = 10 * time.Second

// Connect opens go-systemd's connection to the user manager at addr and checks that a
// manager answers (a bus without systemd gives ServiceUnknown). The connections live until
// ctx ends (or Close); connecting, authenticating, Hello and the check take at most
// connectTimeout. Before issue 10 a bus that accepted and never answered hung install for
// good: dbus.Connect and GetManagerProperty take no context. Here dbus.WithContext ties each
// connection to a context whose end closes its socket, which fails every pending read and
// call, and the timer below ends that context if the manager has not answered in time.
func Connect(ctx context.Context, addr string) (*sd.Conn, error) {
	if addr == "" {
		return nil, fmt.Errorf("%w: no user bus (DBUS_SESSION_BUS_ADDRESS unset, no $XDG_RUNTIME_DIR/bus)", ErrNoManager)
	}
	connCtx, closeConn := context.WithCancel(ctx)
	timer := time.AfterFunc(connectTimeout, closeConn)
	fail := func(format string, err error) (*sd.Conn, error) {
		closeConn()
		if !timer.Stop() && ctx.Err() == nil {
			err = fmt.Errorf("%w: no answer within %s", context.DeadlineExceeded, connectTimeout)
		} else if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf(format, ErrNoManager, addr, err)
	}
	c, err := sd.NewConnection(func() (*dbus.Conn, error) { return dbus.Connect(addr, dbus.WithContext(connCtx)) })
	if err != nil {
		return fail("%w: bus %s: %w", err)
	}
	if _, err := c.GetManagerProperty("Version"); err != nil {
		c.Close()
		return fail("%w on bus %s: %w", err)
	}
	if !timer.Stop() {
		// The timer fired as the answer came: the connections are closed.
		c.Close()
		return fail("%w on bus %s: %w", context.DeadlineExceeded)
	}
	return c, nil
}

// Text is the unit file Install writes for s.
func Text(s Spec) ([]byte, error) {
	return io.ReadAll(unit.Serialize(Options(s)))
}

// ErrNotReady says the unit's start job did not end with the engine answering.
var ErrNotReady = errors.New("the service did not become ready")

// Install writes the unit to path and has the manager reload, enable and start it, then
// waits for the start job: with Type=notify it ends "done" when the daemon says the engine
// answers, "failed" when the service dies first, "timeout" after TimeoutStartSec. Anything
// but "done", or ctx ending first, is ErrNotReady (wrapped, with the job's result).
func Install(ctx context.Context, c *sd.Conn, path string, s Spec) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := Text(s)
	if err != nil {
		return err
	}
	// A new file of a random name, O_EXCL|O_NOFOLLOW, renamed over the unit: a symlink at
	// either name is never written through (docs/security.md, "Files"; issue 10).
	dir, err := safefs.OpenDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = safefs.WriteFileAtomic(dir, filepath.Base(path), b, 0o644)
	dir.Close()
	if err != nil {
		return err
	}
	if err := c.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	if _, _, err := c.EnableUnitFilesContext(ctx, []string{Name}, false, true); err != nil {
		return fmt.Errorf("enabling %s: %w", Name, err)
	}
	done := make(chan string, 1)
	if _, err := c.StartUnitContext(ctx, Name, "replace", done); err != nil {
		return fmt.Errorf("starting %s: %w", Name, err)
	}
	return waitJob(ctx, done, ErrNotReady, Name)
}

// waitJob waits for the end of name's start job on done: nil when it is "done", else
// errKind wrapped with the job's result, or with ctx's error when ctx ends first.
func waitJob(ctx context.Context, done <-chan string, errKind error, name string) error {
	select {
	case r := <-done:
		if r != "done" {
			return fmt.Errorf("%w: the start job of %s ended %q", errKind, name, r)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %s was still starting: %w", errKind, name, ctx.Err())
	}
}

// State is the unit's state as `systemctl --user status` shows it: "activating
// (auto-restart), result exit-code, main process exited with status 1, restarted 2 times".
func State(ctx context.Context, c *sd.Conn, name string) string {
	props, err := c.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return fmt.Sprintf("unknown: %v", err)
	}
	st := fmt.Sprintf("%v (%v)", props["ActiveState"], props["SubState"])
	get := func(p string) any {
		v, err := c.GetServicePropertyContext(ctx, name, p)
		if err != nil {
			return nil
		}
		return v.Value.Value()
	}
	if r := get("Result"); r != nil {
		st += fmt.Sprintf(", result %v", r)
	}
	if code, ok := get("ExecMainCode").(int32); ok && code != 0 {
		// CLD_EXITED is 1: ExecMainStatus is an exit status; otherwise a signal number.
		if code == 1 {
			st += fmt.Sprintf(", main process exited with status %v", get("ExecMainStatus"))
		} else {
			st += fmt.Sprintf(", main process killed by signal %v", get("ExecMainStatus"))
		}
	}
	if n, ok := get("NRestarts").(uint32); ok && n > 0 {
		st += fmt.Sprintf(", restarted %d times", n)
	}
	return st
}

// Uninstall stops and disables the unit and removes its file. Engine data is left alone.
func Uninstall(ctx context.Context, c *sd.Conn, path string) error {
	if err := StopUnit(ctx, c, Name); err != nil {
		return err
	}
	if _, err := c.DisableUnitFilesContext(ctx, []string{Name}, false); err != nil {
		return fmt.Errorf("disabling %s: %w", Name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := c.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

// Linger reports whether systemd keeps the account's user manager running without a login
// (loginctl enable-linger), from /var/lib/systemd/linger/NAME.
func Linger(name string) bool {
	_, err := os.Stat(filepath.Join("/var/lib/systemd/linger", name))
	return err == nil
}
