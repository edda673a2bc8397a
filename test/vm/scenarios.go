package vm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The scenarios. Each stages its state as root (undone by the cleanups it registers), observes,
// and where the state is broken runs `fix --apply` for the probes it trips and observes again.

func needCgroupV2(_ context.Context, l *Lab) string {
	if l.Guest.CgroupV1 {
		return "the guest boots cgroup v1"
	}
	return ""
}

func needUsernsClone(ctx context.Context, l *Lab) string {
	r, err := l.Root(ctx, "test -e /proc/sys/kernel/unprivileged_userns_clone")
	if err != nil {
		return err.Error()
	}
	if !r.OK() {
		return "this kernel has no kernel.unprivileged_userns_clone"
	}
	return ""
}

// unloadNetfilter unloads every netfilter module nothing uses, in rounds (a module's users go
// first), and fails when one of netfilterModules is still loaded.
var unloadNetfilter = `for round in 1 2 3 4 5 6 7 8; do
  for m in $(awk '$3 == 0 && $1 ~ /^(xt_|nft_|nf_|ipt_|iptable_|ip_tables$|x_tables$|nfnetlink)/ {print $1}' /proc/modules); do
    rmmod "$m" 2>/dev/null
  done
done
if grep -E '^(` + strings.Join(netfilterModules, "|") + `) ' /proc/modules; then echo "still loaded" >&2; exit 1; fi`

func runModules(ctx context.Context, l *Lab, rec *Recorder) error {
	// As booted: systemd loaded ip_tables, nothing loaded nf_tables (the rootful dockerd is
	// masked). The doctor's verdict is compared with rootless dockerd, which makes the kernel
	// load what its iptables needs on demand.
	r, err := l.MustRoot(ctx, "grep -E '^("+strings.Join(netfilterModules, "|")+") ' /proc/modules | cut -d' ' -f1 | tr '\\n' ' '")
	if err != nil {
		return err
	}
	if strings.Contains(r.Stdout, "nf_tables") {
		return fmt.Errorf("staging: nf_tables is loaded already (modules must run first, on a fresh boot): %s", r.Stdout)
	}
	const booted = "as booted"
	o, err := l.Observe(ctx, ViaLogin, Run("port"), Run())
	if err != nil {
		return err
	}
	rec.AddClaims(booted, o, nil, nil)
	if err := l.setuptoolRow(ctx, rec, booted, o.D); err != nil {
		return err
	}

	// Staged: an admin's blacklist of the netfilter modules, none loaded (dockerd stopped, its
	// rules gone, the modules unloaded), and Docker's user unit uninstalled, so that the account
	// installs rootless Docker anew on that host (the setup tool's own check applies again).
	// The kernel's requests by alias then load nothing; `modprobe NAME` — the fix — still
	// loads a blacklisted module (modprobe.d(5)).
	l.Cleanup(func(ctx context.Context) error {
		_, err := l.MustRoot(ctx, "rm -f /etc/modprobe.d/vmlab-blacklist.conf /etc/modules-load.d/rootless-doctor.conf")
		return err
	})
	if r, err := l.User(ctx, ViaLogin, "systemctl --user stop docker.service 2>/dev/null; dockerd-rootless-setuptool.sh uninstall -f >/dev/null 2>&1; podman rm -af >/dev/null 2>&1; systemctl --user cat docker.service >/dev/null 2>&1 && exit 1; true"); err != nil {
		return err
	} else if !r.OK() {
		return fmt.Errorf("staging: Docker's user unit is still installed after dockerd-rootless-setuptool.sh uninstall: %s", r.Combined())
	}
	var bl strings.Builder
	for _, m := range netfilterModules {
		fmt.Fprintf(&bl, "blacklist %s\n", m)
	}
	if _, err := l.MustRoot(ctx, "printf '"+bl.String()+"' >/etc/modprobe.d/vmlab-blacklist.conf && "+unloadNetfilter); err != nil {
		return err
	}
	targets := []string{"net.iptables"}
	const step = "blacklisted, not loaded"
	o, err = l.Observe(ctx, ViaLogin, Run("port", "restart"), Run())
	if err != nil {
		return err
	}
	rec.Add(FlagsClaim(step, o.D, targets, "netfilter modules blacklisted in modprobe.d and unloaded"), "")
	rec.AddClaims(step, o, nil, nil)
	if err := l.setuptoolRow(ctx, rec, step, o.D); err != nil {
		return err
	}

	if _, err := l.Fix(ctx, targets...); err != nil {
		return err
	}
	const after = "after fix"
	o, err = l.Observe(ctx, ViaLogin, Run("port", "restart"), Run())
	if err != nil {
		return err
	}
	rec.AddClaims(after, o, targets, nil)
	return l.setuptoolRow(ctx, rec, after, o.D)
}

// setuptoolRow: the doctor finds Docker ready ⇔ Docker's own installer finds its requirements
// met (`dockerd-rootless-setuptool.sh check`, what a new user runs first).
func (l *Lab) setuptoolRow(ctx context.Context, rec *Recorder, step string, d Doctor) error {
	r, err := l.User(ctx, ViaLogin, "dockerd-rootless-setuptool.sh check 2>&1")
	if err != nil {
		return err
	}
	what := "requirements met"
	if !r.OK() {
		// The instructions it prints, without the decoration.
		var lines []string
		for _, line := range strings.Split(r.Stdout, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(line, "EOF") && !strings.Contains(line, "[ERROR]") {
				lines = append(lines, line)
			}
		}
		what = fmt.Sprintf("refuses (exit %d): %s", r.Code, strings.Join(lines, "; "))
	}
	ready := d.ReadyFor("docker")
	rec.Add(Row{Step: step, Claim: "Docker's installer", Doctor: "docker " + map[bool]string{true: "ready", false: "NOT ready"}[ready],
		Engine: "dockerd-rootless-setuptool.sh check: " + clip(what, 120), Agree: ready == r.OK()}, "")
	return nil
}

func runStock(ctx context.Context, l *Lab, rec *Recorder) error {
	const step = "as installed"
	wants := Run("limits", "cpuset", "port")
	if l.Guest.CgroupV1 {
		// On v1 the doctor says containers run and limits cannot be applied: ready is judged
		// by a container without limits, the limits claim by the one with them (which rootless
		// Podman refuses there).
		wants = append(wants, "plain")
	}
	o, err := l.Observe(ctx, ViaLogin, wants, wants)
	if err != nil {
		return err
	}
	rec.AddClaims(step, o, nil, nil)
	row, ok := StorageClaim(step, o.D, o.Docker)
	rec.AddIf(row, ok, "")
	if !l.Guest.CgroupV1 {
		// Where runtime.cgroup does run: a user-manager scope with Delegate=yes, as the
		// proof's own hint says (systemd-run --user --scope -p Delegate=yes).
		p, err := l.ProveInScope(ctx)
		if err != nil {
			return err
		}
		row, ok = LimitsClaim("prove in a Delegate=yes scope", p, o.Engines()...)
		rec.AddIf(row, ok, knownLimits(p))
	}

	if s := o.D.Status("cgroup.delegation"); s != "warn" && s != "fail" {
		return nil
	}
	targets := []string{"cgroup.delegation"}
	rec.Add(FlagsClaim(step, o.D, targets, "user@.service delegates the systemd defaults only"), "")
	l.Cleanup(l.removeDelegation)
	if _, err := l.Fix(ctx, targets...); err != nil {
		return err
	}
	// The plan ends with "log out and log in again": the user manager reads Delegate= when
	// it starts.
	if err := l.Relogin(ctx); err != nil {
		return err
	}
	// The state the delegate scenario stages by hand (Docker's guide): limits and cpuset.
	o, err = l.Observe(ctx, ViaLogin, Run("limits", "cpuset"), Run("cpuset"))
	if err != nil {
		return err
	}
	rec.AddClaims("after fix + relogin", o, targets, nil)
	return nil
}

// removeDelegation removes every user@ drop-in (the stock guest has none) and logs in anew.
func (l *Lab) removeDelegation(ctx context.Context) error {
	if _, err := l.MustRoot(ctx, fmt.Sprintf("rm -rf /etc/systemd/system/user@.service.d /etc/systemd/system/user@%d.service.d && systemctl daemon-reload", l.UID)); err != nil {
		return err
	}
	return l.Relogin(ctx)
}

func runDelegate(ctx context.Context, l *Lab, rec *Recorder) error {
	// The drop-in of https://docs.docker.com/engine/security/rootless/#limiting-resources.
	l.Cleanup(l.removeDelegation)
	if _, err := l.MustRoot(ctx, `mkdir -p /etc/systemd/system/user@.service.d && cat >/etc/systemd/system/user@.service.d/delegate.conf <<'EOF'
[Service]
Delegate=cpu cpuset io memory pids
EOF
systemctl daemon-reload`); err != nil {
		return err
	}
	if err := l.Relogin(ctx); err != nil {
		return err
	}
	o, err := l.Observe(ctx, ViaLogin, Run("limits", "cpuset"), Run("cpuset"))
	if err != nil {
		return err
	}
	rec.AddClaims("with drop-in", o, []string{"cgroup.delegation"}, nil)
	return nil
}

// lingerRow: session.linger passes ⇔ dockerd (Docker's user unit) still runs once the account's
// last session has ended and the user manager had the time to stop.
func (l *Lab) lingerRow(ctx context.Context, step string, d Doctor) (Row, error) {
	stopped, err := l.Logout(ctx, 40*time.Second)
	if err != nil {
		return Row{}, err
	}
	r, err := l.Root(ctx, "pgrep -u "+Account+" -x dockerd")
	if err != nil {
		return Row{}, err
	}
	alive := r.OK()
	return Row{Step: step, Claim: "engine outlives logout", Doctor: d.Describe("session.linger"),
		Engine: fmt.Sprintf("after the last logout: user manager stopped %v, dockerd running %v", stopped, alive),
		Agree:  (d.Status("session.linger") == "pass") == alive}, nil
}

func runLinger(ctx context.Context, l *Lab, rec *Recorder) error {
	targets := []string{"session.linger"}
	const step = "linger off"
	o, err := l.Observe(ctx, ViaLogin, Run(), nil)
	if err != nil {
		return err
	}
	rec.Add(FlagsClaim(step, o.D, targets, "linger off"), "")
	rec.AddClaims(step, o, nil, nil)
	row, err := l.lingerRow(ctx, step, o.D)
	if err != nil {
		return err
	}
	rec.Add(row, "")

	l.Cleanup(func(ctx context.Context) error {
		if _, err := l.MustRoot(ctx, "loginctl disable-linger "+Account); err != nil {
			return err
		}
		return l.Relogin(ctx)
	})
	if _, err := l.Fix(ctx, targets...); err != nil {
		return err
	}
	if err := l.Login(ctx); err != nil {
		return err
	}
	const after = "after fix"
	o, err = l.Observe(ctx, ViaLogin, Run(), nil)
	if err != nil {
		return err
	}
	rec.AddClaims(after, o, targets, nil)
	row, err = l.lingerRow(ctx, after, o.D)
	if err != nil {
		return err
	}
	rec.Add(row, "")
	return nil
}

func runNoDbus(ctx context.Context, l *Lab, rec *Recorder) error {
	l.Cleanup(func(ctx context.Context) error {
		if _, err := l.MustRoot(ctx, "dpkg -s dbus-user-session >/dev/null 2>&1 || dpkg -i /var/cache/vmlab/dbus-user-session_*.deb"); err != nil {
			return err
		}
		return l.Relogin(ctx)
	})
	// --force-depends: only this package goes, as on a host that never had it.
	if _, err := l.MustRoot(ctx, "dpkg -r --force-depends dbus-user-session"); err != nil {
		return err
	}
	if err := l.Relogin(ctx); err != nil {
		return err
	}
	targets := []string{"session.dbus"}
	const step = "no session bus"
	o, err := l.Observe(ctx, ViaLogin, Run("limits"), Run("limits"))
	if err != nil {
		return err
	}
	rec.Add(FlagsClaim(step, o.D, targets, "dbus-user-session removed, logged in anew"), "")
	rec.AddClaims(step, o, nil, nil)

	if _, err := l.Fix(ctx, targets...); err != nil {
		return err
	}
	if err := l.Relogin(ctx); err != nil {
		return err
	}
	o, err = l.Observe(ctx, ViaLogin, Run("limits"), Run("limits"))
	if err != nil {
		return err
	}
	rec.AddClaims("after fix + relogin", o, targets, nil)
	return nil
}

// sessionProbes are the probes about the login session.
var sessionProbes = []string{"session.xdg-runtime-dir", "session.dbus", "session.systemd"}

func runSuSudo(ctx context.Context, l *Lab, rec *Recorder) error {
	// No session and no user manager: the account is not logged in anywhere.
	l.Cleanup(func(ctx context.Context) error { return l.Login(ctx) })
	if stopped, err := l.Logout(ctx, 60*time.Second); err != nil {
		return err
	} else if !stopped {
		return fmt.Errorf("user@%d.service still active a minute after the account's sessions ended", l.UID)
	}
	var flagged []string
	for _, v := range []Via{ViaSu, ViaSudo} {
		step := v.String()
		o, err := l.Observe(ctx, v, Run("limits"), Run("limits"))
		if err != nil {
			return err
		}
		rec.Add(FlagsClaim(step, o.D, []string{"session.xdg-runtime-dir"}, "no XDG_RUNTIME_DIR, no user manager"), "")
		rec.AddClaims(step, o, nil, nil)
		for _, id := range sessionProbes {
			if s := o.D.Status(id); (s == "fail" || s == "warn") && !slices.Contains(flagged, id) {
				flagged = append(flagged, id)
			}
		}
	}
	if len(flagged) == 0 {
		return nil
	}
	// What the plan asks for, as root; then, as its "by hand" step says, a real login.
	if _, err := l.Fix(ctx, flagged...); err != nil {
		return err
	}
	if err := l.Login(ctx); err != nil {
		return err
	}
	o, err := l.Observe(ctx, ViaLogin, Run(), Run())
	if err != nil {
		return err
	}
	rec.AddClaims("after fix, ssh login", o, flagged, nil)
	return nil
}

func runUsernsClone(ctx context.Context, l *Lab, rec *Recorder) error {
	l.Cleanup(func(ctx context.Context) error {
		_, err := l.MustRoot(ctx, "rm -f /etc/sysctl.d/60-rootless-doctor.conf && sysctl -qw kernel.unprivileged_userns_clone=1")
		return err
	})
	if _, err := l.MustRoot(ctx, "sysctl -qw kernel.unprivileged_userns_clone=0"); err != nil {
		return err
	}
	return brokenThenFixed(ctx, l, rec, "userns_clone=0", []string{"userns.clone"}, "kernel.unprivileged_userns_clone=0", "")
}

func runNoSubids(ctx context.Context, l *Lab, rec *Recorder) error {
	l.Cleanup(func(ctx context.Context) error {
		_, err := l.MustRoot(ctx, "cp -p /etc/subuid.vmlab /etc/subuid && cp -p /etc/subgid.vmlab /etc/subgid && rm /etc/subuid.vmlab /etc/subgid.vmlab")
		return err
	})
	if _, err := l.MustRoot(ctx, fmt.Sprintf("cp -p /etc/subuid /etc/subuid.vmlab && cp -p /etc/subgid /etc/subgid.vmlab && sed -i '/^%s:/d' /etc/subuid /etc/subgid", Account)); err != nil {
		return err
	}
	// The plan's step says "afterwards restart rootless engines so they map the new range
	// (podman system migrate; systemctl --user restart docker)": the account's part.
	return brokenThenFixed(ctx, l, rec, "no subids", []string{"idmap.subuid", "idmap.subgid"}, "no subordinate ids",
		"podman system migrate; systemctl --user restart docker.service")
}

// brokenThenFixed is the common shape: observe the staged state (the engines restarted so they
// meet it), fix --apply the targets as root, run the account's own part of the fix (userSteps,
// when the plan names one), observe again. Limits are not what these states break, so the
// engines only run a container.
func brokenThenFixed(ctx context.Context, l *Lab, rec *Recorder, step string, targets []string, staged, userSteps string) error {
	o, err := l.Observe(ctx, ViaLogin, Run("restart"), Run("restart"))
	if err != nil {
		return err
	}
	rec.Add(FlagsClaim(step, o.D, targets, staged), "")
	rec.AddClaims(step, o, nil, nil)
	if _, err := l.Fix(ctx, targets...); err != nil {
		return err
	}
	if userSteps != "" {
		if _, err := l.User(ctx, ViaLogin, userSteps); err != nil {
			return err
		}
	}
	o, err = l.Observe(ctx, ViaLogin, Run("restart"), Run("restart"))
	if err != nil {
		return err
	}
	rec.AddClaims("after fix", o, targets, nil)
	return nil
}
