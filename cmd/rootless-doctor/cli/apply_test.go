package cli

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/fixes/apply"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// recordSys is a apply.System that records what it is asked and changes nothing: files are
// missing, commands succeed.
type recordSys struct{ calls []string }

func (r *recordSys) Run(_ context.Context, c string) (string, error) {
	r.calls = append(r.calls, "run "+c)
	return "", nil
}
func (r *recordSys) ReadFile(p string) ([]byte, fs.FileMode, error) {
	return nil, 0, fs.ErrNotExist
}
func (r *recordSys) WriteFile(p string, _ []byte, _ fs.FileMode) error {
	r.calls = append(r.calls, "write "+p)
	return nil
}
func (r *recordSys) Backup(string) (string, error) { return "", nil }
func (r *recordSys) Discard(string) error          { return nil }

// applyFactory plays the recorded host tree fixture as "this machine" (uid 1000: not root).
func applyFactory(t *testing.T, fixture string) (*Factory, *IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer, *recordSys, *bool) {
	t.Helper()
	ios, in, out, errOut := TestIO()
	dir := filepath.Join("..", "..", "..", "fixtures", fixture)
	sys := &recordSys{}
	created, asRootSeen := false, true
	f := &Factory{
		IO:     ios,
		Host:   func(string) (host.Host, error) { return host.OpenTree(dir) },
		Probes: checks.All,
		Now:    func() time.Time { return time.Unix(0, 0) },
		System: func(asRoot bool, _ func(string)) (apply.System, func() error, error) {
			created, asRootSeen = true, asRoot
			return sys, func() error { return nil }, nil
		},
	}
	t.Cleanup(func() {
		if created && asRootSeen {
			t.Error("uid 1000 must go through sudo, not run as root")
		}
	})
	return f, ios, in, out, errOut, sys, &created
}

func TestApplyPromptNo(t *testing.T) {
	f, ios, in, out, _, sys, created := applyFactory(t, "missing-subuid")
	ios.InIsTTY = true
	in.WriteString("n\n")
	code := Execute(context.Background(), f, []string{"fix", "--apply", "--static"})
	if code != ExitFindings {
		t.Errorf("exit %d, want 1 (the findings stand)", code)
	}
	if *created || len(sys.calls) > 0 {
		t.Errorf("answering no changed something: %v", sys.calls)
	}
	for _, s := range []string{"Fix plan: 1 step.", "You are not root: the steps will run through sudo", "Apply these steps now? [y/N]", "Not applied: nothing was changed."} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestApplyNoTerminalNoYes(t *testing.T) {
	f, _, _, out, errOut, sys, created := applyFactory(t, "missing-subuid")
	code := Execute(context.Background(), f, []string{"fix", "--apply", "--static"})
	if code != ExitError {
		t.Errorf("exit %d, want 2", code)
	}
	if *created || len(sys.calls) > 0 {
		t.Errorf("changed something: %v", sys.calls)
	}
	if !strings.Contains(out.String(), "Fix plan:") || !strings.Contains(errOut.String(), "no terminal to ask for confirmation on, and no --yes: nothing was changed") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
}

func TestApplyYes(t *testing.T) {
	f, _, _, out, _, sys, _ := applyFactory(t, "missing-subuid")
	code := Execute(context.Background(), f, []string{"fix", "--apply", "--yes", "--static"})
	// The recorded host does not change: the probes still fail afterwards.
	if code != ExitFindings {
		t.Errorf("exit %d, want 1", code)
	}
	if len(sys.calls) == 0 || !strings.Contains(strings.Join(sys.calls, "\n"), "usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice") {
		t.Errorf("calls: %v", sys.calls)
	}
	for _, s := range []string{"$ if ! grep -qxF alice:165536:65536", "What was done:", "1. Give alice 65536 subordinate uids and gids (165536-231071): done", "Checked again:", "idmap.subuid  fail → fail"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestApplyManualOnly(t *testing.T) {
	f, _, _, out, _, sys, created := applyFactory(t, "newuidmap-no-setuid")
	code := Execute(context.Background(), f, []string{"fix", "--apply", "--yes", "--static", "--only", "identity,idmap"})
	if code != ExitFindings {
		t.Errorf("exit %d, want 1: the manual step is not done", code)
	}
	if *created || len(sys.calls) > 0 {
		t.Errorf("a manual-only plan ran something: %v", sys.calls)
	}
	if !strings.Contains(out.String(), "every step is for you to do by hand") || !strings.Contains(out.String(), ": not done: by hand") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestApplyUsage(t *testing.T) {
	for _, args := range [][]string{
		{"fix", "--yes"},
		{"fix", "--apply", "--root", "x"},
		{"fix", "--apply", "-o", "json"},
	} {
		f, _, _, _, _, _, _ := applyFactory(t, "missing-subuid")
		if code := Execute(context.Background(), f, args); code != ExitError {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestApplyPromptYes(t *testing.T) {
	f, ios, in, out, _, sys, _ := applyFactory(t, "missing-subuid")
	ios.InIsTTY = true
	in.WriteString("Yes\n")
	Execute(context.Background(), f, []string{"fix", "--apply", "--static"})
	if !strings.Contains(strings.Join(sys.calls, "\n"), "usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice") {
		t.Errorf("answering yes applied nothing: %v\n%s", sys.calls, out.String())
	}
}

// blockingReader never returns, as a terminal nobody answers.
type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }

// zeroReader returns nothing and no error, forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// TestConfirmApplyAnswers: only y or yes, in any case and with blanks around, applies; an
// empty or other line, end of input, a line too long to be a word, a reader that returns
// nothing and an interrupt do not, and none of them hangs.
func TestConfirmApplyAnswers(t *testing.T) {
	for _, tt := range []struct {
		in   io.Reader
		want bool
	}{
		{strings.NewReader("y\n"), true},
		{strings.NewReader("YES\n"), true},
		{strings.NewReader("  yes \r\n"), true},
		{strings.NewReader("yes"), true}, // end of input ends the line
		{strings.NewReader("\n"), false},
		{strings.NewReader(""), false},
		{strings.NewReader("n\ny\n"), false},
		{strings.NewReader("yess\n"), false},
		{strings.NewReader("Oui\n"), false},
		{strings.NewReader(strings.Repeat("y", 100) + "\n"), false},
		{strings.NewReader("y" + strings.Repeat(" ", 1<<20) + "\n"), false},
		{zeroReader{}, false},
	} {
		var out bytes.Buffer
		opts := &FixOptions{IO: &IOStreams{In: tt.in, Out: &out, InIsTTY: true}}
		got, err := confirmApply(context.Background(), opts, "Apply these steps now?")
		if err != nil || got != tt.want {
			t.Errorf("%T answer: %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if out.String() != "Apply these steps now? [y/N] " {
			t.Errorf("prompt %q", out.String())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan bool, 1)
	go func() {
		ok, _ := confirmApply(ctx, &FixOptions{IO: &IOStreams{In: blockingReader{}, Out: &out, InIsTTY: true}}, "Apply?")
		done <- ok
	}()
	cancel()
	select {
	case ok := <-done:
		if ok {
			t.Error("an interrupted prompt applied")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an interrupted prompt did not return")
	}
}
