package apply

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

// TestRunTimesOutWithItsGroup: a fix command past its deadline is killed with everything it
// started, and its error says it timed out; a helper left holding the output after a command
// that succeeded no longer keeps Run waiting.
func TestRunTimesOutWithItsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := &Root{CommandTimeout: 500 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background(), "echo start; sleep 60 & echo $! > "+pidFile+"; wait")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, host.ErrTimeout) {
			t.Errorf("Run = %v, want ErrTimeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still running 30 s after its 0.5 s deadline")
	}
	hostile.Gone(t, hostile.PidFrom(t, pidFile))

	r = &Root{}
	go func() {
		out, err := r.Run(context.Background(), "echo done; (exec sleep 30) & echo $! > "+pidFile)
		if err == nil && out != "done\n" {
			err = errors.New("output " + strconv.Quote(out))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run waited for the helper the command left holding its output")
	}
	unix.Kill(hostile.PidFrom(t, pidFile), unix.SIGKILL)
}
