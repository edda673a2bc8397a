package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
	"golang.org/x/sys/unix"
)

// Ready says where an engine answers once it is up, and what its clients are told.
type Ready struct {
	// Engine is the engine's name (dockerd, containerd, …).
	Engine string
	// Socket is the API socket, "" when the engine's is not known (then the engine is taken to
	// be up once it has run for settleTime). InChild: the path is in the engine's own mount
	// namespace (containerd's /run/containerd, under the copied-up /run).
	Socket  string
	InChild bool
	// Env is the variable a client reads the address from (DOCKER_HOST), "" for none.
	Env string
}

// ReadyOf is where engine (its resolved argv) answers when it runs in the daemon with
// runtimeDir as XDG_RUNTIME_DIR: the rootless defaults of each engine, or the address given on
// its command line.
func ReadyOf(engine []string, runtimeDir string) Ready {
	if len(engine) == 0 {
		return Ready{}
	}
	name := filepath.Base(engine[0])
	r := Ready{Engine: name}
	switch name {
	case "dockerd":
		// moby's rootless default: $XDG_RUNTIME_DIR/docker.sock (docs/rootless.md).
		r.Socket, r.Env = filepath.Join(runtimeDir, "docker.sock"), "DOCKER_HOST"
		if a := flagValue(engine[1:], "-H", "--host"); a != "" {
			r.Socket = unixPath(a)
		}
	case "buildkitd":
		// buildkitd's rootless default: $XDG_RUNTIME_DIR/buildkit/buildkitd.sock.
		r.Socket, r.Env = filepath.Join(runtimeDir, "buildkit", "buildkitd.sock"), "BUILDKIT_HOST"
		if a := flagValue(engine[1:], "--addr"); a != "" {
			r.Socket = unixPath(a)
		}
	case "containerd":
		// containerd keeps its default address inside the namespaces (the copied-up /run),
		// where containerd-rootless.sh's clients reach it with nsenter.
		r.Socket, r.InChild = "/run/containerd/containerd.sock", true
		if a := flagValue(engine[1:], "-a", "--address"); a != "" {
			r.Socket = a
		}
	case "podman":
		// `podman system service` without a URI: $XDG_RUNTIME_DIR/podman/podman.sock.
		if len(engine) > 2 && engine[1] == "system" && engine[2] == "service" {
			r.Socket, r.Env = filepath.Join(runtimeDir, "podman", "podman.sock"), "CONTAINER_HOST"
			for _, a := range engine[3:] {
				if strings.HasPrefix(a, "unix://") {
					r.Socket = unixPath(a)
				}
			}
		}
	}
	if r.Socket != "" && !filepath.IsAbs(r.Socket) {
		// A tcp:// or fd:// address: nothing to poll here.
		r.Socket, r.Env = "", ""
	}
	return r
}

// flagValue is the value of the last of names in args ("-H x", "--host=x").
func flagValue(args []string, names ...string) string {
	v := ""
	for i, a := range args {
		for _, n := range names {
			if a == n && i+1 < len(args) {
				v = args[i+1]
			} else if strings.HasPrefix(a, n+"=") {
				v = strings.TrimPrefix(a, n+"=")
			}
		}
	}
	return v
}

func unixPath(addr string) string {
	if p, ok := strings.CutPrefix(addr, "unix://"); ok {
		return p
	}
	return addr
}

// Line is the ready line the daemon prints: where the engine answers and, for an engine whose
// clients read an address from the environment, the export to use.
func (r Ready) Line(childPID int) string {
	switch {
	case r.Socket == "":
		return fmt.Sprintf("ready: %s is running", r.Engine)
	case r.InChild:
		return fmt.Sprintf("ready: %s answers on %s in the daemon's namespaces (nsenter -U --preserve-credentials -m -n -t %d)", r.Engine, r.Socket, childPID)
	case r.Env != "":
		return fmt.Sprintf("ready: %s answers on %s; use it with: export %s=unix://%s", r.Engine, r.Socket, r.Env, r.Socket)
	}
	return fmt.Sprintf("ready: %s answers on %s", r.Engine, r.Socket)
}

// pollEvery is how often WaitReady looks.
const pollEvery = 100 * time.Millisecond

// WaitReady waits until the engine rootlesskit started from stateDir answers: its child_pid
// is written (rootlesskit writes it once the child is configured, just before the engine is
// run) and, when the socket is known, a connect to it succeeds. It returns the child's pid,
// or ctx's error.
func WaitReady(ctx context.Context, stateDir string, r Ready) (int, error) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		if pid, ok := childPID(stateDir); ok {
			sock := r.Socket
			if r.InChild {
				sock = fmt.Sprintf("/proc/%d/root%s", pid, r.Socket)
			}
			if sock == "" {
				return settled(ctx, pid)
			}
			if answers(sock) {
				return pid, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// settleTime is how long an engine whose socket is not known must keep running after
// rootlesskit started it to be taken as up: the child is configured before the engine runs,
// and an engine that fails at once (a bad flag, a missing library) exits well within it.
var settleTime = 2 * time.Second

// settled waits settleTime and reports pid if rootlesskit's child still runs; the daemon
// cancels ctx when the engine has exited.
func settled(ctx context.Context, pid int) (int, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(settleTime):
	}
	if err := unix.Kill(pid, 0); err != nil {
		return 0, fmt.Errorf("rootlesskit's child %d: %w", pid, err)
	}
	return pid, nil
}

func childPID(stateDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(stateDir, parent.StateFileChildPID))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// answers reports whether something accepts on the unix socket path: a socket file left by a
// dead engine refuses the connection.
func answers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Notify sends state ("READY=1") to the service manager's notification socket (sd_notify(3);
// "@name" is an abstract socket), when socket is set.
func Notify(socket, state string) error {
	if socket == "" {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notifying the service manager: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notifying the service manager: %w", err)
	}
	return nil
}
