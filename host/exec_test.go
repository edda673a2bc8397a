package host

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

// fakeTool writes an executable shell script named name into a fresh directory that is put
// first on PATH, and returns the file its background helper writes its pid to.
func fakeTool(t *testing.T, name, script string) (pidFile string) {
	t.Helper()
	dir := t.TempDir()
	pidFile = filepath.Join(dir, "helper.pid")
	body := "#!/bin/sh\nPIDFILE=" + pidFile + "\n" + script
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return pidFile
}

// TestRunKillsWhatTheCommandLeaves: a fake iptables that forks a sleeping helper holding its
// stdout cost the helper's whole sleep, gave a wrong verdict and left the helper running.
func TestRunKillsWhatTheCommandLeaves(t *testing.T) {
	pidFile := fakeTool(t, "iptables", `echo "iptables v1.8.9 (nf_tables)"
sleep 60 &
echo $! > "$PIDFILE"
exit 0
`)
	h := NewLive()
	var out Output
	var err error
	hostile.Within(t, "Run", 30*time.Second, func() { out, err = h.Run(context.Background(), "iptables", "--version") })
	if err != nil || out.ExitCode != 0 || string(out.Stdout) != "iptables v1.8.9 (nf_tables)\n" {
		t.Errorf("Run = %+v (%q), %v; want the version, exit 0", out, out.Stdout, err)
	}
	hostile.Gone(t, hostile.PidFrom(t, pidFile))
}

// TestRunTimesOut: a command still running at its deadline is killed with its whole process
// group, and the error says it timed out (not a failed or missing tool).
func TestRunTimesOut(t *testing.T) {
	pidFile := fakeTool(t, "slirp4netns", `echo "slirp4netns version 1.2.0"
sleep 60 &
echo $! > "$PIDFILE"
wait
`)
	h := NewLive()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var err error
	hostile.Within(t, "Run", 30*time.Second, func() { _, err = h.Run(ctx, "slirp4netns", "--version") })
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want ErrTimeout", err)
	}
	hostile.Gone(t, hostile.PidFrom(t, pidFile))

	// A cancelled context (SIGINT) is not a timeout.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	hostile.Within(t, "Run", 30*time.Second, func() { _, err = h.Run(ctx, "slirp4netns", "--version") })
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("Run with a cancelled context = %v, want context.Canceled", err)
	}
	hostile.Gone(t, hostile.PidFrom(t, pidFile))
}

func TestCappedBuffer(t *testing.T) {
	b := &CappedBuffer{Max: 4}
	if n, err := b.Write([]byte("abcdef")); n != 6 || err != nil || b.String() != "abcd" {
		t.Errorf("Write = %d, %v; kept %q", n, err, b.String())
	}
}

// StartPiped: what the caller writes reaches the helper, what the helper prints comes back, and
// an empty command is an error rather than a panic.
func TestStartPiped(t *testing.T) {
	if _, err := StartPiped(context.Background(), nil, nil); err == nil {
		t.Error("empty argv: no error")
	}
	p, err := StartPiped(context.Background(), []string{"cat"}, nil)
	if err != nil {
		t.Skipf("skipped: cannot start cat: %v", err)
	}
	if _, err := io.WriteString(p.Stdin, "order\n"); err != nil {
		t.Fatal(err)
	}
	p.Stdin.Close()
	got, err := io.ReadAll(p.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if string(got) != "order\n" {
		t.Errorf("read back %q", got)
	}
}
