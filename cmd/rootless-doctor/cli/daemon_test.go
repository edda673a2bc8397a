package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
)

// daemonFactory plays a recorded host fixture as "this machine" and records the daemon start
// instead of exec()ing into it.
func daemonFactory(t *testing.T, fixture string, startErr error) (*Factory, *IOStreamsBuffers, *[]daemon.Options) {
	t.Helper()
	ios, _, out, errOut := TestIO()
	dir := filepath.Join("..", "..", "..", "fixtures", fixture)
	var started []daemon.Options
	f := &Factory{
		IO:     ios,
		Host:   func(string) (host.Host, error) { return host.OpenTree(dir) },
		Probes: checks.All,
		Now:    func() time.Time { return time.Unix(0, 0) },
		Daemon: func(o daemon.Options) error { started = append(started, o); return startErr },
	}
	return f, &IOStreamsBuffers{Out: out.String, Err: errOut.String}, &started
}

// IOStreamsBuffers reads what a command wrote.
type IOStreamsBuffers struct{ Out, Err func() string }

func TestDaemonStartsOnAHealthyHost(t *testing.T) {
	f, bufs, started := daemonFactory(t, "debian-12-ok", nil)
	code := Execute(context.Background(), f, []string{"daemon", "--static", "--net", "gvisor", "--", "true", "--flag"})
	if code != ExitOK {
		t.Fatalf("exit %d, want 0\n%s", code, bufs.Err())
	}
	if len(*started) != 1 {
		t.Fatalf("daemon started %d times, want 1", len(*started))
	}
	o := (*started)[0]
	if o.Net != "gvisor" || len(o.Engine) != 2 || filepath.Base(o.Engine[0]) != "true" || !filepath.IsAbs(o.Engine[0]) || o.Engine[1] != "--flag" {
		t.Errorf("started with %+v, want net gvisor and [/…/true --flag]", o)
	}
	if bufs.Out() != "" {
		t.Errorf("the daemon wrote on stdout (its messages go to stderr): %q", bufs.Out())
	}
}

func TestDaemonRefusesOnAFailingProbe(t *testing.T) {
	for _, force := range []bool{false, true} {
		f, bufs, started := daemonFactory(t, "missing-subuid", nil)
		args := []string{"daemon", "--static", "--", "true"}
		if force {
			args = slices.Insert(args, 1, "--force")
		}
		code := Execute(context.Background(), f, args)
		errOut := bufs.Err()
		if !strings.Contains(errOut, "idmap.subuid") || !strings.Contains(errOut, "usermod") {
			t.Errorf("force=%v: stderr lacks the failing probe and its fix:\n%s", force, errOut)
		}
		if force {
			if code != ExitOK || len(*started) != 1 || !strings.Contains(errOut, "--force: starting anyway") {
				t.Errorf("--force: exit %d, started %d times, want 0 and 1\n%s", code, len(*started), errOut)
			}
			continue
		}
		if code != ExitFindings || len(*started) != 0 || !strings.Contains(errOut, "not starting") {
			t.Errorf("exit %d, started %d times, want 1 and 0\n%s", code, len(*started), errOut)
		}
	}
}

func TestDaemonStartFailure(t *testing.T) {
	f, bufs, _ := daemonFactory(t, "debian-12-ok", errors.New("XDG_RUNTIME_DIR is not set"))
	if code := Execute(context.Background(), f, []string{"daemon", "--static", "--", "true"}); code != ExitFindings {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(bufs.Err(), "XDG_RUNTIME_DIR is not set") {
		t.Errorf("stderr lacks the reason: %s", bufs.Err())
	}
}

// An unsafe state dir (a symlink, someone else's directory) is a refusal with exit 2, like a
// usage error, not a failed start (exit 1).
func TestDaemonUnsafeStateDir(t *testing.T) {
	f, bufs, _ := daemonFactory(t, "debian-12-ok", fmt.Errorf("%w: refusing /run/user/1000/rootless-doctor: it is a symlink", daemon.ErrStateDir))
	if code := Execute(context.Background(), f, []string{"daemon", "--static", "--", "true"}); code != ExitError {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(bufs.Err(), "it is a symlink") {
		t.Errorf("stderr lacks the reason: %s", bufs.Err())
	}
}

func TestDaemonUsage(t *testing.T) {
	for _, args := range [][]string{
		{"daemon", "--net", "vpnkit", "--", "true"},
		{"daemon", "dockerd"},
		{"daemon", "x", "--", "true"},
		{"daemon", "--static", "--", "no-such-engine-rootless-doctor"},
	} {
		f, bufs, started := daemonFactory(t, "debian-12-ok", nil)
		if code := Execute(context.Background(), f, args); code != ExitError || len(*started) != 0 {
			t.Errorf("%v: exit %d, started %d, want 2 and 0\n%s", args, code, len(*started), bufs.Err())
		}
	}
}

// The daemon's preflight is the verdict of the engine it starts: dockerd is stopped by
// engine.docker and the runtime steps Docker needs, not by engine.podman; a command the doctor
// does not know is stopped by any failing generic probe and by no engine's verdict.
func TestDaemonGate(t *testing.T) {
	results := []finding.Result{
		{ID: "engine.podman", Status: finding.Fail},
		{ID: "engine.docker", Status: finding.Fail},
		{ID: "idmap.subuid", Status: finding.Fail},
		{ID: "session.linger", Status: finding.Warn},
	}
	ids := func(rs []finding.Result) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	for bin, want := range map[string]string{
		"/usr/sbin/dockerd": "engine.docker",
		"/bin/sh":           "idmap.subuid",
	} {
		if got := ids(daemonGate(results, bin)); got != want {
			t.Errorf("daemonGate(%s) = %q, want %q", bin, got, want)
		}
	}
}
