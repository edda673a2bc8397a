package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
)

// TestProveAsRootWithoutUser: root without --user is a usage error naming --user (and the
// account sudo came from), never a pass with every step skipped (issue 15).
func TestProveAsRootWithoutUser(t *testing.T) {
	for _, tt := range []struct {
		sudoUser string
		want     string
	}{
		{"", "pass --user NAME"},
		{"alice", "you ran sudo as alice: --user alice"},
	} {
		ios, _, out, errOut := TestIO()
		m := host.NewMemory().Self(host.Identity{UID: 0, Name: "root"})
		if tt.sudoUser != "" {
			m = m.Env("SUDO_USER", tt.sudoUser)
		}
		h := m.Host()
		proved := false
		f := &Factory{IO: ios, Probes: checks.All, Host: func(string) (host.Host, error) { return h, nil },
			Prove: func(context.Context, proof.Options) ([]finding.Result, error) { proved = true; return nil, nil }}
		if code := Execute(context.Background(), f, []string{"prove"}); code != ExitError || proved {
			t.Errorf("SUDO_USER=%q: exit %d, proved %v; want 2 before any proof", tt.sudoUser, code, proved)
		}
		if !strings.Contains(errOut.String(), tt.want) || out.Len() != 0 {
			t.Errorf("SUDO_USER=%q: stderr %q stdout %q, want %q", tt.sudoUser, errOut.String(), out.String(), tt.want)
		}
	}
}

// TestDaemonIgnore: --ignore lets the daemon start past the failures it names, and only those.
func TestDaemonIgnore(t *testing.T) {
	f, bufs, started := daemonFactory(t, "ubuntu-24.04-apparmor-restricted", nil)
	if code := Execute(context.Background(), f, []string{"daemon", "--static", "--", "true"}); code != ExitFindings || len(*started) != 0 {
		t.Fatalf("without --ignore: exit %d, started %d", code, len(*started))
	}
	f, bufs, started = daemonFactory(t, "ubuntu-24.04-apparmor-restricted", nil)
	if code := Execute(context.Background(), f, []string{"daemon", "--static", "--ignore", "userns.apparmor", "--", "true"}); code != ExitOK || len(*started) != 1 {
		t.Fatalf("--ignore userns.apparmor: exit %d, started %d\n%s", code, len(*started), bufs.Err())
	}
	if !strings.Contains(bufs.Err(), "userns.apparmor failed, ignored with --ignore") {
		t.Errorf("the waived failure is not said: %s", bufs.Err())
	}
}

// TestLiveProgressOnATerminal drives check's progress through a real pseudo-terminal with a
// proof whose steps end one by one: each step is on the terminal before the proof returns,
// the spinner names the step that runs, and everything is erased before the report.
func TestLiveProgressOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var screen bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	seen := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }

	ios, _, out, _ := TestIO()
	ios.Progress = tty
	ios.Size = func() (int, int) { return termSize(tty) }
	tree, err := host.OpenTree(filepath.Join("..", "..", "..", "fixtures", "debian-12-ok"))
	if err != nil {
		t.Fatal(err)
	}
	var shownBeforeEnd []bool
	f := &Factory{IO: ios, Probes: checks.All, Now: time.Now,
		Host: func(string) (host.Host, error) { return liveHost{tree}, nil },
		Prove: func(_ context.Context, o proof.Options) ([]finding.Result, error) {
			var res []finding.Result
			for _, id := range proof.StepIDs() {
				time.Sleep(150 * time.Millisecond) // the spinner turns
				r := finding.Passf("%s done", id)
				r.ID, r.Duration = id, 42*time.Millisecond
				o.Progress(proof.Event{ID: r.ID, Status: r.Status, Summary: r.Summary, Duration: r.Duration})
				res = append(res, r)
				deadline := time.Now().Add(2 * time.Second)
				for !strings.Contains(seen(), "✓ "+id) && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				shownBeforeEnd = append(shownBeforeEnd, strings.Contains(seen(), "✓ "+id))
			}
			return res, nil
		}}
	code := Execute(context.Background(), f, []string{"check"})
	tty.Close()
	<-readDone
	if code != ExitFindings && code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for i, ok := range shownBeforeEnd {
		if !ok {
			t.Errorf("%s was not on the terminal before the proof went on", proof.StepIDs()[i])
		}
	}
	s := seen()
	for _, want := range []string{"static probes", "42.0 ms  runtime.userns done", "\x1b[J"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal lacks %q:\n%q", want, s)
		}
	}
	if !regexp.MustCompile(`[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] runtime\.idmap`).MatchString(s) {
		t.Errorf("no spinner on a running step:\n%q", s)
	}
	// The erase at the end: back to the first line drawn, clear to the end of the screen.
	if !strings.HasSuffix(s, "\x1b[J") {
		t.Errorf("the progress was not erased last:\n%q", s[max(0, len(s)-200):])
	}
	if strings.Contains(out.String(), "\x1b") || !strings.HasPrefix(out.String(), "rootless-doctor on ") {
		t.Errorf("the report on stdout carries progress: %q", out.String())
	}
}

// liveHost plays a recorded tree as this machine, so check runs the (fake) live proof.
type liveHost struct{ host.Host }

func (liveHost) Live() bool { return true }

// TestBuildInfo reads the version, revision and time the go command stamps.
func TestBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}}
	b := buildInfoFrom(bi, true)
	if b.Version != "v1.4.0" || b.Revision != "0123456789abcdef" || !b.Modified || b.Go != "go1.26.8" || b.Time == "" {
		t.Fatalf("%+v", b)
	}
	var w bytes.Buffer
	if err := writeVersion(&w, b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.String(), "rootless-doctor v1.4.0\nrevision: 0123456789abcdef (modified), 2026-01-02T03:04:05Z\ngo: go1.26.8 ") {
		t.Errorf("%q", w.String())
	}
	f := &Factory{Build: func() BuildInfo { return b }}
	if tool := f.tool(); tool.Revision != "0123456789abcdef+dirty" || tool.Version != "v1.4.0" {
		t.Errorf("tool %+v", tool)
	}
	if b := buildInfoFrom(nil, false); b.Version != "(unknown)" || b.Go == "" {
		t.Errorf("no build info: %+v", b)
	}
}

// TestEveryFlagDocumented: every flag of every command appears in README.md or docs/cli.md,
// and every command has a Short and, unless trivial, a Long help.
func TestEveryFlagDocumented(t *testing.T) {
	var docs []byte
	for _, p := range []string{"README.md", "docs/cli.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b...)
	}
	ios, _, _, _ := TestIO()
	root := NewCmdRoot(&Factory{IO: ios, Probes: checks.All})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.CommandPath(), "rootless-doctor completion ") {
			return
		}
		if c.Short == "" {
			t.Errorf("%s has no Short help", c.CommandPath())
		}
		if !bytes.Contains(docs, []byte("`"+c.Name())) && c != root {
			t.Errorf("command %s is in neither README.md nor docs/cli.md", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			if fl.Name == "help" {
				return
			}
			if !bytes.Contains(docs, []byte("--"+fl.Name)) {
				t.Errorf("%s --%s is in neither README.md nor docs/cli.md", c.CommandPath(), fl.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
