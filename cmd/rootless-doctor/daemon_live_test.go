package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// Live test of `daemon` through the real binary with Debian's docker.io, as root, for a
// throwaway account: the account runs `rootless-doctor daemon --static -- dockerd` in a private
// mount namespace where a 0666 tun node is bound over /dev/net/tun (the host's device keeps its
// mode), with a private 0700 XDG_RUNTIME_DIR under /run/user. Images are built locally FROM
// scratch: no registry is reached.

// echoSource is a static TCP echo server ("hello" prints a line instead), the image's payload.
const echoSource = `package main

import (
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hello" {
		os.Stdout.WriteString("hello from scratch\n")
		return
	}
	l, err := net.Listen("tcp", ":"+os.Args[1])
	if err != nil {
		panic(err)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() { defer c.Close(); io.Copy(c, c) }()
	}
}
`

// syncBuf is a bytes.Buffer safe to read while the daemon writes to it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemonCmd is `rootless-doctor daemon ARGS` as the account, in a private mount namespace with
// a 0666 tun node over /dev/net/tun. setpriv and `exec` keep one process: the pid is the
// daemon's, so signals reach it directly.
func daemonCmd(t *testing.T, bin, user, runDir string, args ...string) (*exec.Cmd, *syncBuf) {
	t.Helper()
	tun := livetest.TunNode(t, 0o666)
	script := fmt.Sprintf("set -e\nmount --bind %q /dev/net/tun\nexec \"$@\"\n", tun)
	argv := []string{"--mount", "--propagation", "private", "sh", "-c", script, "sh",
		"setpriv", "--reuid", user, "--regid", user, "--init-groups",
		"env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/home/" + user, "XDG_RUNTIME_DIR=" + runDir,
		bin, "daemon"}
	cmd := exec.Command("unshare", append(argv, args...)...)
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("running the daemon: %v", err)
	}
	return 0
}

func TestLiveDaemonDockerd(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "setpriv", "newuidmap", "nsenter", "ip", "slirp4netns", "go")
	for _, tool := range []string{"dockerd", "docker", "rootlesskit-docker-proxy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("live daemon test: %s is not installed (CI installs docker.io and rootlesskit)", tool)
		}
	}
	bin := buildBinary(t)
	user := livetest.User(t, true)
	runDir := runDirFor(t, user)

	cmd, out := daemonCmd(t, bin, user, runDir, "--static", "--", "dockerd")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		if t.Failed() {
			t.Logf("daemon output:\n%s", out.String())
		}
	})

	sock := filepath.Join(runDir, "docker.sock")
	host := "unix://" + sock
	docker := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, "docker", append([]string{"-H", host}, args...)...)
		c.Env = append(os.Environ(), "DOCKER_BUILDKIT=0", "DOCKER_CONFIG="+t.TempDir())
		b, err := c.CombinedOutput()
		return string(b), err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if o, err := docker("info", "--format", "{{json .SecurityOptions}}"); err == nil {
			if !strings.Contains(o, "name=rootless") {
				t.Fatalf("docker info: SecurityOptions %s, want name=rootless", o)
			}
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("the daemon exited before dockerd answered: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("dockerd did not answer on " + sock + " within 60s")
		}
	}
	// The ready line (issue 12), printed once dockerd answers, names the DOCKER_HOST to use.
	readyLine := "ready: dockerd answers on " + sock + "; use it with: export DOCKER_HOST=" + host
	for end := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), readyLine); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Errorf("no ready line %q in the daemon's output", readyLine)
			break
		}
	}
	stateDir := filepath.Join(runDir, "rootless-doctor")
	if _, err := os.Stat(filepath.Join(stateDir, "api.sock")); err != nil {
		t.Errorf("no rootlesskit API socket in the state dir: %v", err)
	}

	// A second daemon for the same account refuses: the state dir is locked.
	cmd2, out2 := daemonCmd(t, bin, user, runDir, "--static", "--", "dockerd")
	if code := exitCode(t, cmd2.Run()); code != 1 || !strings.Contains(out2.String(), "another rootless-doctor daemon") {
		t.Errorf("second daemon: exit %d, want 1 with a clear message:\n%s", code, out2.String())
	}

	// docker build of a FROM scratch image holding a static binary, then docker run of it.
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "main.go"), []byte(echoSource), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(ctxDir, "go.mod"), []byte("module echo\n\ngo 1.22\n"), 0o644)
	gb := exec.Command("go", "build", "-o", "echo", ".")
	gb.Dir, gb.Env = ctxDir, append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := gb.CombinedOutput(); err != nil {
		t.Fatalf("building the echo server: %v\n%s", err, b)
	}
	_ = os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nCOPY echo /echo\nENTRYPOINT [\"/echo\"]\n"), 0o644)
	image := "rdoctor-echo:test"
	if o, err := docker("build", "-q", "-t", image, ctxDir); err != nil {
		t.Fatalf("docker build: %v\n%s", err, o)
	}
	if o, err := docker("run", "--rm", image, "hello"); err != nil || !strings.Contains(o, "hello from scratch") {
		t.Fatalf("docker run: %v\n%s", err, o)
	}

	// docker run -p publishes on the host's 127.0.0.1 (builtin port driver, through
	// rootlesskit-docker-proxy and the API socket).
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	spec := fmt.Sprintf("127.0.0.1:%d:%d", port, port)
	if o, err := docker("run", "-d", "--name", "rdoctor-echo", "-p", spec, image, fmt.Sprint(port)); err != nil {
		t.Fatalf("docker run -p %s: %v\n%s", spec, err, o)
	}
	var reply string
	for i := 0; i < 50; i++ {
		reply, err = echo(fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if reply != "ping" {
		t.Errorf("published port %s: reply %q, err %v", spec, reply, err)
	}

	// SIGTERM stops it all within seconds; the daemon exits with dockerd's status (0).
	t0 := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if code := exitCode(t, err); code != 0 {
			t.Errorf("daemon exit status %d after SIGTERM, want dockerd's 0", code)
		}
		t.Logf("stopped in %v", time.Since(t0).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not stop within 20s of SIGTERM")
	}
	// Nothing left behind: no process of the account (checked by livetest.User's cleanup too),
	// no state dir, no socket, no mount.
	time.Sleep(200 * time.Millisecond)
	if procs := livetest.Processes(t, user); len(procs) > 0 {
		t.Errorf("processes left behind: %v", procs)
	}
	for _, p := range []string{stateDir, sock} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(runDir)) {
		t.Errorf("a mount under %s is left behind", runDir)
	}
	if strings.Contains(out.String(), "panic:") {
		t.Errorf("the daemon panicked:\n%s", out.String())
	}
}

func echo(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// A failing preflight refuses to start: the account has no subordinate ids (useradd gave it
// none), so the static probes fail; the daemon prints them and the plan and exits 1 without
// starting anything.
func TestLiveDaemonRefusesOnFailingPreflight(t *testing.T) {
	needRoot(t, "useradd", "userdel", "unshare", "setpriv", "go")
	bin := buildBinary(t)
	user := livetest.User(t, false)
	runDir := runDirFor(t, user)
	// The engine must exist for the refusal to be about the preflight: use a harmless one.
	cmd, out := daemonCmd(t, bin, user, runDir, "--static", "--", "true")
	code := exitCode(t, cmd.Run())
	o := out.String()
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, o)
	}
	for _, want := range []string{"idmap.subuid", "not starting"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "rootless-doctor")); err == nil {
		t.Errorf("a refused daemon created its state dir")
	}
}

// With the full preflight (static probes and the live proof), the engine runs as uid 0 of the
// user namespace with the rootless environment, in the copied-up /run, and the daemon exits
// with the engine's status.
func TestLiveDaemonEngineEnvironmentAndStatus(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "setpriv", "newuidmap", "nsenter", "ip", "slirp4netns", "go")
	bin := buildBinary(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	runDir := runDirFor(t, user)
	script := `echo "uid=$(id -u) state=$ROOTLESSKIT_STATE_DIR euid=$ROOTLESSKIT_PARENT_EUID"; ls -d /run/docker 2>/dev/null || echo "no /run/docker"; exit 3`
	cmd, out := daemonCmd(t, bin, user, runDir, "--", "sh", "-c", script)
	code := exitCode(t, cmd.Run())
	o := out.String()
	if code != 3 {
		t.Fatalf("exit %d, want the engine's 3:\n%s", code, o)
	}
	want := fmt.Sprintf("uid=0 state=%s/rootless-doctor euid=%d", runDir, uidOf(t, user))
	for _, w := range []string{want, "no /run/docker"} {
		if !strings.Contains(o, w) {
			t.Errorf("output lacks %q:\n%s", w, o)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "rootless-doctor")); err == nil {
		t.Error("the state dir is left behind")
	}
}

// TestLiveDaemonGvisorHelper: `daemon --net gvisor` runs its parent role in
// rootless-doctor-gvisor, beside rootless-doctor (issue 16): the engine starts with the
// gvisor-tap-vsock network's tap device up inside.
func TestLiveDaemonGvisorHelper(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "setpriv", "newuidmap", "nsenter", "ip", "go")
	bin := buildBinary(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	runDir := runDirFor(t, user)
	cmd, out := daemonCmd(t, bin, user, runDir, "--static", "--net", "gvisor", "--", "sh", "-c", "ip -o addr show tap0 | grep -o 'inet [0-9./]*'; exit 4")
	code := exitCode(t, cmd.Run())
	o := out.String()
	if code != 4 {
		t.Fatalf("exit %d, want the engine's 4:\n%s", code, o)
	}
	for _, w := range []string{"(network gvisor,", "inet 10.0.2.100/24"} {
		if !strings.Contains(o, w) {
			t.Errorf("output lacks %q:\n%s", w, o)
		}
	}
}
