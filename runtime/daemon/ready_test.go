package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadyOf(t *testing.T) {
	rd := "/run/user/1000"
	tests := []struct {
		engine []string
		want   Ready
	}{
		{[]string{"/usr/sbin/dockerd"}, Ready{Engine: "dockerd", Socket: rd + "/docker.sock", Env: "DOCKER_HOST"}},
		{[]string{"/usr/sbin/dockerd", "-H", "unix:///tmp/d.sock"}, Ready{Engine: "dockerd", Socket: "/tmp/d.sock", Env: "DOCKER_HOST"}},
		{[]string{"/usr/sbin/dockerd", "--host=tcp://127.0.0.1:2375"}, Ready{Engine: "dockerd"}},
		{[]string{"/usr/bin/buildkitd"}, Ready{Engine: "buildkitd", Socket: rd + "/buildkit/buildkitd.sock", Env: "BUILDKIT_HOST"}},
		{[]string{"/usr/bin/containerd"}, Ready{Engine: "containerd", Socket: "/run/containerd/containerd.sock", InChild: true}},
		{[]string{"/usr/bin/podman", "system", "service", "--time=0"}, Ready{Engine: "podman", Socket: rd + "/podman/podman.sock", Env: "CONTAINER_HOST"}},
		{[]string{"/usr/bin/podman", "info"}, Ready{Engine: "podman"}},
		{[]string{"/bin/true"}, Ready{Engine: "true"}},
		{nil, Ready{}},
	}
	for _, tt := range tests {
		if got := ReadyOf(tt.engine, rd); got != tt.want {
			t.Errorf("ReadyOf(%q) = %+v, want %+v", tt.engine, got, tt.want)
		}
	}
	if l := ReadyOf([]string{"/usr/sbin/dockerd"}, rd).Line(42); !strings.Contains(l, "export DOCKER_HOST=unix://"+rd+"/docker.sock") {
		t.Errorf("ready line %q", l)
	}
}

// WaitReady waits for rootlesskit's child_pid and for the socket to accept, through the
// child's /proc/PID/root when the socket is in the engine's mount namespace.
func TestWaitReady(t *testing.T) {
	for _, inChild := range []bool{false, true} {
		state, sockDir := t.TempDir(), t.TempDir()
		sock := filepath.Join(sockDir, "engine.sock")
		// A socket file nobody listens on (left by a dead engine) is not an answer.
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
		go func() {
			time.Sleep(200 * time.Millisecond)
			_ = os.WriteFile(filepath.Join(state, "child_pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
			time.Sleep(200 * time.Millisecond)
			os.Remove(sock)
			if l, err := net.Listen("unix", sock); err == nil {
				t.Cleanup(func() { l.Close() })
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		pid, err := WaitReady(ctx, state, Ready{Engine: "x", Socket: sock, InChild: inChild})
		cancel()
		if err != nil || pid != os.Getpid() {
			t.Fatalf("inChild %v: WaitReady = %d, %v", inChild, pid, err)
		}
		if time.Since(start) < 400*time.Millisecond {
			t.Errorf("inChild %v: ready before the socket listened", inChild)
		}
	}
	// No socket known: up once rootlesskit's child has run for settleTime; not when it is gone.
	settleTime = 100 * time.Millisecond
	t.Cleanup(func() { settleTime = 2 * time.Second })
	state := t.TempDir()
	_ = os.WriteFile(filepath.Join(state, "child_pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	if pid, err := WaitReady(context.Background(), state, Ready{Engine: "sleep"}); err != nil || pid != os.Getpid() {
		t.Errorf("a running engine without a socket: %d, %v", pid, err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(state, "child_pid"), []byte(strconv.Itoa(gone.Process.Pid)), 0o644)
	if _, err := WaitReady(context.Background(), state, Ready{Engine: "true"}); err == nil {
		t.Error("an engine that exited was taken as up")
	}
	// An engine that never answers: WaitReady ends with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := WaitReady(ctx, t.TempDir(), Ready{Engine: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("never ready: %v", err)
	}
}

func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := Notify(sock, "READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("got %q, %v", buf[:n], err)
	}
	if err := Notify("", "READY=1"); err != nil {
		t.Errorf("no socket: %v", err)
	}
	if err := Notify(filepath.Join(t.TempDir(), "none"), "READY=1"); err == nil {
		t.Error("a missing socket was not reported")
	}
}
