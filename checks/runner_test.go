package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestRunnerPolicies(t *testing.T) {
	probes := []Probe{
		{ID: "a.pass", Run: func(context.Context, *facts.Env) finding.Result { return finding.Passf("fine") }},
		{ID: "a.panic", Run: func(context.Context, *facts.Env) finding.Result { panic("boom") }},
		{ID: "b.undecided", Run: func(context.Context, *facts.Env) finding.Result {
			return finding.Undecided(errors.New("EACCES"), "cannot read /x")
		}},
		{ID: "b.hang", Run: func(ctx context.Context, _ *facts.Env) finding.Result {
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond)
			return finding.Passf("late")
		}},
		{ID: "c.invalid", Run: func(context.Context, *facts.Env) finding.Result { return finding.Result{Status: "maybe"} }},
		{ID: "c.nil"},
	}
	env := facts.NewEnv(context.Background(), alice().Host(), "")
	res := Run(context.Background(), probes, env, Options{Timeout: 50 * time.Millisecond})
	want := map[string]struct {
		status  finding.Status
		summary string
	}{
		"a.pass":      {finding.Pass, "fine"},
		"a.panic":     {finding.Warn, "could not check: the probe crashed"},
		"b.undecided": {finding.Warn, "could not check: cannot read /x"},
		"b.hang":      {finding.Warn, "could not check: the probe did not finish"},
		"c.invalid":   {finding.Warn, "could not check"},
		"c.nil":       {finding.Warn, "could not check"},
	}
	for i, r := range res {
		if r.ID != probes[i].ID {
			t.Fatalf("result %d is %s, want registry order", i, r.ID)
		}
		w := want[r.ID]
		if r.Status != w.status || !strings.HasPrefix(r.Summary, w.summary) {
			t.Errorf("%s: %s %q, want %s %q", r.ID, r.Status, r.Summary, w.status, w.summary)
		}
		if r.Status == finding.Warn && len(r.Details) == 0 {
			t.Errorf("%s: an undecided result must explain itself", r.ID)
		}
	}
	if strings.Contains(strings.Join(res[1].Details, "\n"), "goroutine") {
		t.Error("the panic's stack must not reach the details")
	}
}

func TestSelection(t *testing.T) {
	probes := []Probe{
		{ID: "idmap.subuid", Run: func(context.Context, *facts.Env) finding.Result { return finding.Passf("ok") }},
		{ID: "idmap.subgid", Run: func(context.Context, *facts.Env) finding.Result { return finding.Passf("ok") }},
		{ID: "net.tun", Run: func(context.Context, *facts.Env) finding.Result { return finding.Failf("no") }},
	}
	if err := Select(probes, []string{"idmap"}, []string{"net.tun", "idmap.*"}); err != nil {
		t.Fatal(err)
	}
	if err := Select(probes, []string{"nope"}, nil); !errors.Is(err, ErrUnknownProbe) {
		t.Fatalf("unknown id: %v", err)
	}
	env := facts.NewEnv(context.Background(), alice().Host(), "")
	res := Run(context.Background(), probes, env, Options{Only: []string{"idmap"}, Skip: []string{"idmap.subgid"}})
	got := []finding.Status{res[0].Status, res[1].Status, res[2].Status}
	if got[0] != finding.Pass || got[1] != finding.Skip || got[2] != finding.Skip {
		t.Fatalf("statuses = %v", got)
	}
	if res[1].Summary != "skipped with --skip" || res[2].Summary != "not selected by --only" {
		t.Errorf("skip reasons: %q, %q", res[1].Summary, res[2].Summary)
	}
	if s := finding.Summarize(res); s != (finding.Summary{Pass: 1, Skip: 2}) {
		t.Errorf("summary = %+v", s)
	}
}

// TestRegistry: every probe id ever published is still registered (docs/probes.md: ids never
// change and are never removed; TestProbeMetadata checks the rest).
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range All() {
		seen[p.ID] = true
	}
	for _, id := range []string{"identity.user", "idmap.newuidmap", "idmap.subuid", "idmap.subgid", "kernel.version",
		"userns.clone", "userns.max", "userns.apparmor", "cgroup.version", "cgroup.delegation",
		"session.xdg-runtime-dir", "session.dbus", "session.systemd", "session.linger", "net.driver", "net.tun",
		"net.iptables", "net.ping", "net.privileged-ports", "storage.driver", "storage.data-root",
		"conflict.rootful", "mount.propagation"} {
		if !seen[id] {
			t.Errorf("probe %s is not registered", id)
		}
	}
}

func TestCanReadWrite(t *testing.T) {
	env := facts.NewEnv(context.Background(), alice().Host(), "")
	for _, tt := range []struct {
		fi   host.FileInfo
		want bool
	}{
		{host.FileInfo{Mode: 0o600, UID: 0, GID: 0}, false},
		{host.FileInfo{Mode: 0o666, UID: 0, GID: 0}, true},
		{host.FileInfo{Mode: 0o660, UID: 0, GID: 104}, true}, // alice is in kvm (104)
		{host.FileInfo{Mode: 0o606, UID: 0, GID: 104}, false},
		{host.FileInfo{Mode: 0o600, UID: 1000, GID: 0}, true},
	} {
		if got := env.CanReadWrite(tt.fi); got != tt.want {
			t.Errorf("CanReadWrite(%+v) = %v", tt.fi, got)
		}
	}
}
