package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	checkshost "github.com/rootless-doctor/rootless-doctor/checks/host"
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
		if !errors.Is(err, checkshost.ErrTimeout) {
			t.Errorf("Run = %v, want ErrTimeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still running 30 s after its 0.5 s deadline")
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	for i := 0; ; i++ {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z") {
			break
		}
		if i == 50 {
			unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("the command's sleep (pid %d) survived its timeout", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}

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
	if data, err := os.ReadFile(pidFile); err == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		unix.Kill(pid, unix.SIGKILL)
	}
}
