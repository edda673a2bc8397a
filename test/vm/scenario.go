package vm

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Scenario is one state of the guest: staged as root, observed (the doctor's verdict against
// what the engines do), fixed with `fix --apply` where it is broken, observed again, and undone
// by the cleanups it registers.
type Scenario struct {
	Name  string
	About string
	// Skip returns why the scenario cannot run on this guest, or "".
	Skip func(ctx context.Context, l *Lab) string
	Run  func(ctx context.Context, l *Lab, rec *Recorder) error
}

// Recorder adds a scenario's rows to the matrix and keeps them for the test's verdict.
type Recorder struct {
	Matrix          *Matrix
	Guest, Scenario string
	Rows            []Row
}

// Add records r. known names the problem of issue 12 expected to make r disagree until it is
// fixed; it is kept only when r does disagree.
func (rec *Recorder) Add(r Row, known string) {
	r.Guest, r.Scenario = rec.Guest, rec.Scenario
	if !r.Agree {
		r.Known = known
	}
	rec.Rows = append(rec.Rows, r)
	rec.Matrix.Add(r)
}

// AddIf records r when ok (a claim that had something to compare).
func (rec *Recorder) AddIf(r Row, ok bool, known string) {
	if ok {
		rec.Add(r, known)
	}
}

// AllScenarios are every scenario's name, in the order they run. modules comes first: it
// compares the guest as booted, before any engine made the kernel load a netfilter module.
var AllScenarios = []string{"modules", "stock", "delegate", "linger", "no-dbus-user-session", "su-sudo",
	"userns-clone", "no-subids", "install"}

// DefaultScenarios are what a guest runs unless VMLAB_SCENARIOS says otherwise: all but
// delegate, whose state (Delegate=cpu cpuset io memory pids in a user@.service drop-in) is the
// one stock reaches after its fix, where stock compares the same claims (limits, cpuset,
// green). Under TCG a scenario with two re-logins costs minutes, and CI has 90 of them.
var DefaultScenarios = []string{"modules", "stock", "linger", "no-dbus-user-session", "su-sudo",
	"userns-clone", "no-subids", "install"}

// ScenarioByName returns the scenario called name.
func ScenarioByName(name string) (Scenario, error) {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(AllScenarios, ", "))
}

// Order sorts scenario names into the order of AllScenarios and drops duplicates.
func Order(names []string) []string {
	var out []string
	for _, n := range AllScenarios {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out
}

// Scenarios returns every scenario.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "modules", About: "the netfilter modules as booted (loaded on demand), then blacklisted in modprobe.d and unloaded", Skip: needCgroupV2, Run: runModules},
		{Name: "stock", About: "Debian as installed: no Delegate= drop-in (cpuset and io not delegated), linger off; then fix --apply of cgroup.delegation", Run: runStock},
		{Name: "delegate", About: "the Delegate= drop-in of Docker's rootless guide in place", Skip: needCgroupV2, Run: runDelegate},
		{Name: "linger", About: "linger off, then on: does the engine outlive the last logout?", Run: runLinger},
		{Name: "no-dbus-user-session", About: "dbus-user-session removed: no session bus", Run: runNoDbus},
		{Name: "su-sudo", About: "a su - / sudo -i shell while the account has no session and no user manager", Run: runSuSudo},
		{Name: "userns-clone", About: "Debian's kernel.unprivileged_userns_clone=0", Skip: needUsernsClone, Run: runUsernsClone},
		{Name: "no-subids", About: "no /etc/subuid and /etc/subgid lines for the account", Run: runNoSubids},
		{Name: "install", About: "rootless-doctor install/uninstall as the account, against the engine that answers", Run: runInstall},
	}
}

// Obs is one observation: the doctor's report and what the engines did, at one step.
type Obs struct {
	D              Doctor
	Docker, Podman Engine
}

// Engines are the engines of the observation (those not run are ignored by the claims).
func (o Obs) Engines() []Engine { return []Engine{o.Docker, o.Podman} }

// Run is the wants of an engine that runs in an observation; a nil Run does not run it.
func Run(wants ...string) []string { return append([]string{}, wants...) }

// Observe runs `rootless-doctor check` as the account, reached via v, then the engines.
func (l *Lab) Observe(ctx context.Context, v Via, docker, podman []string) (Obs, error) {
	o := Obs{Docker: Engine{Name: "docker"}, Podman: Engine{Name: "podman"}}
	var err error
	if o.D, err = l.Check(ctx, v); err != nil {
		return o, err
	}
	if docker != nil {
		if o.Docker, err = l.Engine(ctx, v, "docker", docker...); err != nil {
			return o, err
		}
	}
	if podman != nil {
		if o.Podman, err = l.Engine(ctx, v, "podman", podman...); err != nil {
			return o, err
		}
	}
	return o, nil
}

// AddClaims records the claims that apply to o: ready (or green, when targets are given: after
// a fix), then limits, cpuset and -p where the engines measured them. known maps a claim to the
// problem expected to make it disagree.
func (rec *Recorder) AddClaims(step string, o Obs, targets []string, known map[string]string) {
	if targets != nil {
		rec.Add(GreenClaim(step, o.D, targets, o.Engines()...), known["ready"])
	} else {
		rec.Add(ReadyClaim(step, o.D, o.Engines()...), known["ready"])
	}
	row, ok := LimitsClaim(step, o.D, o.Engines()...)
	rec.AddIf(row, ok, knownLimits(o.D))
	row, ok = CpusetClaim(step, o.D, o.Engines()...)
	rec.AddIf(row, ok, "")
	row, ok = PortClaim(step, o.D, o.Engines()...)
	rec.AddIf(row, ok, "")
}

// knownLimits is the problem behind a limits row: #1 from a login shell (the proof skips),
// #4 where the proof ran in a delegated group and misread the kernel's refusal.
func knownLimits(d Doctor) string {
	if d.Status("runtime.cgroup") == "fail" {
		return "#4"
	}
	return "#1"
}
