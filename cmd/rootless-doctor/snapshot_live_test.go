package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestLiveSnapshotRoundTrip snapshots this machine for a throwaway account, replays the
// snapshot as another account (root) with check --root, and compares every probe's id, status
// and summary with check --static on the live host: once with the snapshot taken by the
// account itself (runuser), once by root with --user, and once as a .tar.gz.
func TestLiveSnapshotRoundTrip(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "runuser", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	dir, err := os.MkdirTemp("", "rdoctor-snap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	asUser := func(args ...string) []string { return append([]string{"runuser", "-u", user, "--", bin}, args...) }
	asRoot := func(args ...string) []string { return append([]string{bin}, args...) }

	t.Run("taken by the account", func(t *testing.T) {
		snap := filepath.Join(dir, "by-account")
		mustRun(t, asUser("snapshot", "-o", snap)...)
		live := report(t, asUser("check", "--static", "-o", "json")...)
		replay := report(t, asRoot("check", "--root", snap, "-o", "json")...)
		sameResults(t, live, replay)
		noOtherAccounts(t, snap, user)
	})
	t.Run("taken by root for the account", func(t *testing.T) {
		snap := filepath.Join(dir, "by-root")
		mustRun(t, asRoot("snapshot", "--user", user, "-o", snap)...)
		live := report(t, asRoot("check", "--static", "--user", user, "-o", "json")...)
		// The manifest says which account the snapshot was for: no --user needed.
		replay := report(t, asUser("check", "--root", snap, "-o", "json")...)
		sameResults(t, live, replay)
		noOtherAccounts(t, snap, user)
		// In process too: the snapshot through host.OpenTree and checks.Run.
		h, err := host.OpenTree(snap)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var inproc liveReport
		for _, r := range checks.Run(ctx, checks.All(), facts.NewEnv(ctx, h, user), checks.Options{}) {
			inproc.Results = append(inproc.Results, liveResult{ID: r.ID, Status: string(r.Status), Summary: r.Summary})
		}
		live.Results = slices.DeleteFunc(live.Results, func(r liveResult) bool { return strings.HasPrefix(r.ID, "runtime.") })
		inproc.OK = live.OK
		sameResults(t, live, inproc)
	})
	t.Run("tar.gz", func(t *testing.T) {
		snap := filepath.Join(dir, "host.tar.gz")
		mustRun(t, asRoot("snapshot", "--user", user, "-o", snap)...)
		live := report(t, asRoot("check", "--static", "--user", user, "-o", "json")...)
		replay := report(t, asRoot("check", "--root", snap, "-o", "json")...)
		sameResults(t, live, replay)
	})
}

func mustRun(t *testing.T, argv ...string) {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
}

// report runs argv (a check -o json) and decodes its report; exit 1 (findings) is fine.
func report(t *testing.T, argv ...string) liveReport {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("%v: %v\n%s", argv, err, stderr.String())
	}
	var rep liveReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v: decoding the report: %v\n%s", argv, err, stdout.String())
	}
	return rep
}

// sameResults compares every static probe's id, status and summary; the runtime.* steps are
// skipped on both sides, for different reasons.
func sameResults(t *testing.T, live, replay liveReport) {
	t.Helper()
	if len(live.Results) != len(replay.Results) || len(live.Results) == 0 {
		t.Fatalf("live has %d results, replay %d", len(live.Results), len(replay.Results))
	}
	for i, l := range live.Results {
		r := replay.Results[i]
		if l.ID != r.ID || l.Status != r.Status {
			t.Errorf("%s: live %s (%s), replay %s %s (%s)", l.ID, l.Status, l.Summary, r.ID, r.Status, r.Summary)
			continue
		}
		if !strings.HasPrefix(l.ID, "runtime.") && l.Summary != r.Summary {
			t.Errorf("%s: live summary %q, replay %q", l.ID, l.Summary, r.Summary)
		}
	}
	if live.OK != replay.OK {
		t.Errorf("live ok=%v, replay ok=%v", live.OK, replay.OK)
	}
}

// noOtherAccounts checks that the snapshot's passwd and group hold root and the account only
// (no range of /etc/subuid holds a real uid on this machine).
func noOtherAccounts(t *testing.T, snap, user string) {
	t.Helper()
	for _, f := range []string{"etc/passwd", "etc/group"} {
		data, err := os.ReadFile(filepath.Join(snap, f))
		if err != nil {
			t.Errorf("snapshot has no %s: %v", f, err)
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			name, _, _ := strings.Cut(line, ":")
			if name != "root" && name != user && !strings.Contains(line, ":"+user) {
				t.Errorf("%s keeps another account's line: %q", f, line)
			}
		}
	}
}
