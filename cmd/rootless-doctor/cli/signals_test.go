package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

// blockedRun is the child of TestSecondSignalKills: the real signal handling, and a run
// blocked in a read that honours no context.
func blockedRun() {
	ctx, stop, registered := notifyContextAsync(context.Background())
	defer stop()
	<-registered
	go func() {
		<-ctx.Done()
		fmt.Println("cancelled:", context.Cause(ctx))
	}()
	fmt.Println("ready")
	r, _, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, r)
}

// TestSecondSignalKills: the first SIGTERM cancels the run's context; a run still blocked
// after it (a read that honours no context) dies by the second. signal.NotifyContext kept
// swallowing them all: only SIGKILL stopped `check --root` on a tree with a FIFO.
func TestSecondSignalKills(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "RD_TEST_BLOCKED_RUN=1")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		next := func(want string) {
			t.Helper()
			if !lines.Scan() || !strings.HasPrefix(lines.Text(), want) {
				cmd.Process.Kill()
				t.Fatalf("%v: child said %q, want %q", sig, lines.Text(), want)
			}
		}
		next("ready")
		cmd.Process.Signal(sig)
		next("cancelled: stopped by " + map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig])
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != sig {
				t.Errorf("%v: the child ended with %v, want killed by the signal", sig, err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("%v: the child survived a second %v", sig, sig)
		}
	}
}

// stuckRecorded is a recorded host whose /etc/subuid never finishes reading: a FIFO in a
// tree, as a read that honours no context.
type stuckRecorded struct {
	*host.Recorded
	release chan struct{}
}

func (s stuckRecorded) ReadFile(p string) ([]byte, error) {
	if p == "/etc/subuid" {
		<-s.release
	}
	return s.Recorded.ReadFile(p)
}

// TestSignalEndsACheck: the first signal ends a `check --root` whose probe is blocked, with
// 128 + the signal's number and no report.
func TestSignalEndsACheck(t *testing.T) {
	rec, err := host.LoadTree("../../../fixtures/debian-12-ok")
	if err != nil {
		t.Fatal(err)
	}
	stuck := stuckRecorded{Recorded: rec, release: make(chan struct{})}
	defer close(stuck.release)
	ios, _, out, errOut := TestIO()
	f := &Factory{
		IO:     ios,
		Host:   func(string) (host.Host, error) { return stuck, nil },
		Probes: checks.All,
		Now:    time.Now,
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(100*time.Millisecond, func() { cancel(signalError{sig: syscall.SIGINT}) })
	var code int
	hostile.Within(t, "check after SIGINT", 10*time.Second, func() { code = Execute(ctx, f, []string{"check", "--root", "T"}) })
	if code != 130 || out.Len() != 0 || !strings.Contains(errOut.String(), "stopped by SIGINT") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 130, no report, the signal named", code, out, errOut)
	}
}
