package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Lab is one booted guest with the doctor and engine.sh in it, and what scenarios use to drive
// it: commands as root and as the account (through a login, su or sudo), the doctor, the
// engines, logging out and in.
type Lab struct {
	M      *Machine
	Guest  Guest
	Matrix *Matrix
	// UID is the account's uid in the guest.
	UID int

	doctor   string
	cleanups []func(context.Context) error
}

// NewLab wraps a booted machine; Setup must run before scenarios.
func NewLab(m *Machine, doctorBinary string, matrix *Matrix) *Lab {
	return &Lab{M: m, Guest: m.Guest, Matrix: matrix, doctor: doctorBinary}
}

// Root runs a command as root (staging, `fix --apply`).
func (l *Lab) Root(ctx context.Context, cmd string) (Result, error) { return l.M.Run(ctx, "root", cmd) }

// MustRoot runs a staging command as root and turns a non-zero exit into an error.
func (l *Lab) MustRoot(ctx context.Context, cmd string) (Result, error) {
	r, err := l.Root(ctx, cmd)
	if err == nil && !r.OK() {
		err = fmt.Errorf("staging %q on %s: exit %d: %s", cmd, l.Guest.Name, r.Code, strings.TrimSpace(r.Combined()))
	}
	return r, err
}

// Via is how a command reaches the account.
type Via int

const (
	// ViaLogin is an ssh login: a PAM session with pam_systemd (XDG_RUNTIME_DIR, user manager,
	// session bus) — how a person at the machine runs commands.
	ViaLogin Via = iota
	// ViaSu is `su - ACCOUNT` from root's shell: a login shell, but no session of the account's
	// own, so no XDG_RUNTIME_DIR.
	ViaSu
	// ViaSudo is `sudo -iu ACCOUNT`: Debian's sudo PAM stack has no pam_systemd at all.
	ViaSudo
)

func (v Via) String() string { return [...]string{"ssh login", "su - shell", "sudo -i shell"}[v] }

// User runs cmd as the account, reached via v. su and sudo read the commands from a here
// document, as typed into the shell they open.
func (l *Lab) User(ctx context.Context, v Via, cmd string) (Result, error) {
	switch v {
	case ViaSu:
		return l.Root(ctx, fmt.Sprintf("su - %s <<'VMLAB_EOF'\n%s\nVMLAB_EOF", Account, cmd))
	case ViaSudo:
		return l.Root(ctx, fmt.Sprintf("sudo -iu %s <<'VMLAB_EOF'\n%s\nVMLAB_EOF", Account, cmd))
	}
	return l.M.Run(ctx, Account, cmd)
}

// BootCmdline is on every guest's kernel command line: Debian's docker.io enables the rootful
// daemon, and Docker's rootless guide has it disabled (`systemctl disable --now docker.service
// docker.socket`); masking it at boot is that, after a reboot. Nothing else is changed: systemd
// loads ip_tables at boot (src/core/kmod-setup.c: it "cannot be autoloaded"), and the kernel
// loads the rest of what rootless dockerd's iptables needs on demand, from its user namespace
// (the modules scenario compares that, then stages a host whose admin blacklisted them).
var BootCmdline = []string{"systemd.mask=docker.service", "systemd.mask=docker.socket", "systemd.mask=containerd.service"}

// netfilterModules are the modules dockerd's iptables rules need, either backend: the modules
// scenario blacklists and unloads them.
var netfilterModules = []string{"ip_tables", "iptable_filter", "iptable_nat", "nf_tables", "nft_chain_nat", "nft_compat"}

// Setup copies the doctor and engine.sh in, opens the account's anchor session and verifies it
// is a real logind session.
func (l *Lab) Setup(ctx context.Context) error {
	if _, err := l.MustRoot(ctx, "mkdir -p /usr/local/lib/vmlab"); err != nil {
		return err
	}
	if err := l.M.Copy(ctx, l.doctor, DoctorPath, 0o755); err != nil {
		return err
	}
	script, err := os.CreateTemp("", "vmlab-engine-*.sh")
	if err != nil {
		return err
	}
	defer os.Remove(script.Name())
	if _, err := script.Write(engineScript); err != nil {
		return err
	}
	script.Close()
	if err := l.M.Copy(ctx, script.Name(), EngineScriptPath, 0o755); err != nil {
		return err
	}
	r, err := l.MustRoot(ctx, "id -u "+Account)
	if err != nil {
		return err
	}
	if l.UID, err = strconv.Atoi(strings.TrimSpace(r.Stdout)); err != nil {
		return fmt.Errorf("uid of %s: %w", Account, err)
	}
	return l.Login(ctx)
}

// Session is what a login of the account got.
type Session struct {
	RuntimeDir, Bus, ID, Class, State, Manager string
}

// VerifySession logs in as the account and checks that the login is a real logind session: a
// user-class session, XDG_RUNTIME_DIR=/run/user/UID, and a running user manager.
func (l *Lab) VerifySession(ctx context.Context) (Session, error) {
	r, err := l.User(ctx, ViaLogin, `echo "xdg=$XDG_RUNTIME_DIR"; echo "bus=$DBUS_SESSION_BUS_ADDRESS"; echo "id=$XDG_SESSION_ID"
loginctl show-session "$XDG_SESSION_ID" -p Class -p State | tr 'A-Z' 'a-z'
echo "manager=$(timeout 90 systemctl --user is-system-running --wait 2>&1)"`)
	if err != nil {
		return Session{}, err
	}
	kv := map[string]string{}
	for _, line := range strings.Split(r.Stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	s := Session{RuntimeDir: kv["xdg"], Bus: kv["bus"], ID: kv["id"], Class: kv["class"], State: kv["state"], Manager: kv["manager"]}
	var problems []string
	if want := fmt.Sprintf("/run/user/%d", l.UID); s.RuntimeDir != want {
		problems = append(problems, fmt.Sprintf("XDG_RUNTIME_DIR=%q, want %s", s.RuntimeDir, want))
	}
	if s.ID == "" || s.Class != "user" || (s.State != "active" && s.State != "online") {
		problems = append(problems, fmt.Sprintf("logind session %q class %q state %q, want an active user session", s.ID, s.Class, s.State))
	}
	if s.Manager != "running" {
		failed, _ := l.User(ctx, ViaLogin, "systemctl --user --failed --no-pager")
		problems = append(problems, fmt.Sprintf("systemctl --user is-system-running: %q (failed units: %s)", s.Manager, strings.TrimSpace(failed.Stdout)))
	}
	if len(problems) > 0 {
		return s, fmt.Errorf("%w: %s", ErrNoSession, strings.Join(problems, "; "))
	}
	return s, nil
}

// ErrNoSession says a login of the account did not get a real logind session.
var ErrNoSession = errors.New("no real login session")

// Login opens the anchor session (the account stays logged in) and verifies the session.
func (l *Lab) Login(ctx context.Context) error {
	if err := l.M.OpenAnchor(ctx); err != nil {
		return err
	}
	_, err := l.VerifySession(ctx)
	return err
}

// userSessions is a shell command printing the account's logind sessions other than its user
// manager's own: since systemd 256 (Debian 13) user@.service registers a session of class
// "manager" (or "manager-early"), which stays while lingering keeps the manager running.
var userSessions = fmt.Sprintf(`loginctl list-sessions --no-legend | awk '$3 == "%s" { print $1 }' | while read -r s; do case $(loginctl show-session "$s" -p Class --value 2>/dev/null) in manager*) ;; *) echo "$s" ;; esac; done`, Account)

// noSessions is a shell condition: the account has no logind session left (but its manager's).
var noSessions = "[ -z \"$(" + userSessions + ")\" ]"

// waitUntil polls a shell condition in the guest every second, up to timeout; it says whether
// the condition came true.
func (l *Lab) waitUntil(ctx context.Context, cond string, timeout time.Duration) (bool, error) {
	r, err := l.Root(ctx, fmt.Sprintf(`end=$(( $(date +%%s) + %d )); while [ $(date +%%s) -lt $end ]; do if %s; then echo yes; exit 0; fi; sleep 1; done; echo no`,
		int(timeout.Seconds()), cond))
	return strings.TrimSpace(r.Stdout) == "yes", err
}

// endSessions closes the anchor and waits for the account's sessions to end. A session still
// there after 20 s is shown in the transcript and its processes killed: with Debian's
// KillUserProcesses=no a process that outlives the login — Podman's pause process when there
// is no session bus to move it into a scope of its own — keeps the session "closing" for good,
// and systemd 252's terminate-session does not end such a session.
func (l *Lab) endSessions(ctx context.Context) error {
	l.M.CloseAnchor()
	if ok, err := l.waitUntil(ctx, noSessions, 20*time.Second); err != nil || ok {
		return err
	}
	if _, err := l.Root(ctx, userSessions+` | while read -r s; do loginctl session-status "$s" --no-pager; loginctl kill-session "$s" --signal=SIGKILL; done`); err != nil {
		return err
	}
	if ok, err := l.waitUntil(ctx, noSessions, 20*time.Second); err != nil || ok {
		return err
	}
	return fmt.Errorf("sessions of %s still open 40 s after logging out", Account)
}

// Logout ends every session of the account, as logging out everywhere does, and waits up to
// timeout for the user manager to stop (it does after logind's UserStopDelaySec, 10 s, unless
// lingering keeps it). It reports whether the manager stopped.
func (l *Lab) Logout(ctx context.Context, timeout time.Duration) (managerStopped bool, err error) {
	if err := l.endSessions(ctx); err != nil {
		return false, err
	}
	return l.waitUntil(ctx, stoppedCond(l.UID), timeout)
}

// stoppedCond is a shell condition: the user manager has stopped, not merely begun to.
func stoppedCond(uid int) string {
	return fmt.Sprintf(`case $(systemctl is-active user@%d.service) in inactive|failed) true ;; *) false ;; esac`, uid)
}

// Relogin logs the account out completely — every session and the user manager, as the fix
// plans' "log out and log in again" needs for a new Delegate= — and in again. It waits until
// logind has let go of the account (its runtime directory removed), so the next login starts
// from nothing: a new user manager, a new /run/user/UID.
func (l *Lab) Relogin(ctx context.Context) error {
	if err := l.endSessions(ctx); err != nil {
		return err
	}
	if _, err := l.MustRoot(ctx, "loginctl terminate-user "+Account+" 2>/dev/null; true"); err != nil {
		return err
	}
	gone := fmt.Sprintf("%s && ! loginctl show-user %s >/dev/null 2>&1 && ! test -e /run/user/%d", stoppedCond(l.UID), Account, l.UID)
	ok, err := l.waitUntil(ctx, gone, 90*time.Second)
	if err != nil {
		return err
	}
	if !ok {
		// The engine's unit waits for the engine as long as it takes to stop (TimeoutStopSec=
		// infinity, runtime/service), so a dockerd still closing under TCG holds the manager
		// until user@.service's own TimeoutStopSec=120s kills it, beyond the wait above. What
		// follows only needs a fresh login: end the manager as that timeout would, and wait again.
		if _, err := l.Root(ctx, fmt.Sprintf("systemctl kill --signal=SIGKILL user@%d.service; true", l.UID)); err != nil {
			return err
		}
		if ok, err = l.waitUntil(ctx, gone, 60*time.Second); err != nil {
			return err
		}
	}
	if !ok {
		r, _ := l.Root(ctx, fmt.Sprintf("loginctl user-status %s --no-pager; ls -la /run/user/%d", Account, l.UID))
		return fmt.Errorf("%s still logged in, or /run/user/%d left, 150 s after loginctl terminate-user (SIGKILL to the user manager at 90 s): %s", Account, l.UID, r.Stdout)
	}
	return l.Login(ctx)
}

// Check runs `rootless-doctor check -o json` as the account, reached via v.
func (l *Lab) Check(ctx context.Context, v Via) (Doctor, error) {
	return l.doctorJSON(ctx, v, DoctorPath+" check -o json")
}

// ProveInScope runs `rootless-doctor prove -o json` in a transient scope of the user manager
// with Delegate=yes, where runtime.cgroup has a delegated group to prove a limit in.
func (l *Lab) ProveInScope(ctx context.Context) (Doctor, error) {
	return l.doctorJSON(ctx, ViaLogin, "systemd-run --user --scope -q -p Delegate=yes "+DoctorPath+" prove -o json")
}

func (l *Lab) doctorJSON(ctx context.Context, v Via, cmd string) (Doctor, error) {
	r, err := l.User(ctx, v, cmd)
	if err != nil {
		return Doctor{}, err
	}
	d, err := ParseDoctor(r.Stdout, r.Code)
	if err != nil {
		return Doctor{}, fmt.Errorf("%s (%s): %w; stderr: %s", cmd, v, err, strings.TrimSpace(r.Stderr))
	}
	return d, nil
}

// Fix runs `rootless-doctor fix --apply --yes --user ACCOUNT --only ONLY` as root: the plan for
// the scenario's probes only, so one scenario's fix does not change the next one's host.
func (l *Lab) Fix(ctx context.Context, only ...string) (Result, error) {
	return l.Root(ctx, fmt.Sprintf("%s fix --apply --yes --user %s --only %s", DoctorPath, Account, strings.Join(only, ",")))
}

// Engine runs engine.sh for engine with the given wants as the account, reached via v.
func (l *Lab) Engine(ctx context.Context, v Via, engine string, wants ...string) (Engine, error) {
	r, err := l.User(ctx, v, strings.Join(append([]string{"sh", EngineScriptPath, engine}, wants...), " "))
	if err != nil {
		return Engine{}, err
	}
	return ParseEngine(engine, r.Stdout), nil
}

// Cleanup registers a step that undoes a scenario's staging; the runner runs them, last first,
// when the scenario ends, whether it passed or not.
func (l *Lab) Cleanup(f func(context.Context) error) { l.cleanups = append(l.cleanups, f) }

// RunCleanups runs and forgets the registered cleanups.
func (l *Lab) RunCleanups(ctx context.Context) error {
	var errs []error
	for i := len(l.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, l.cleanups[i](ctx))
	}
	l.cleanups = nil
	return errors.Join(errs...)
}
