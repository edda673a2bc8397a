package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Machine is one running guest: qemu with a throwaway qcow2 overlay over the image, ssh
// forwarded from a random 127.0.0.1 port, the serial console in a file.
type Machine struct {
	Image Image
	Guest Guest
	// Serial is the file the guest's console is written to.
	Serial string
	// Log receives every command run in the guest and its output.
	Log io.Writer
	// BootTime is how long the last boot took, from starting qemu to the first ssh login.
	BootTime time.Duration

	runDir  string
	overlay string
	port    int
	qemu    *exec.Cmd
	exited  chan struct{}
	cmdline []string

	mu           sync.Mutex
	anchor       *exec.Cmd
	anchorIn     io.WriteCloser
	anchorExited chan error
}

// Resources of one guest: the lab runs one guest at a time.
const (
	guestCPUs   = "2"
	guestMemory = "2048"
)

// Accel returns qemu's accelerator arguments. KVM only when kvm_intel or kvm_amd is loaded and
// /dev/kvm opens: other KVM providers (this project's CI machines expose kvm_pvm) cannot run a
// stock Debian kernel, so the lab uses TCG there. want is "", "auto", "kvm" or "tcg".
func Accel(want string) ([]string, error) {
	tcg := []string{"-accel", "tcg,thread=multi", "-cpu", "max"}
	kvm := []string{"-accel", "kvm", "-cpu", "host"}
	switch want {
	case "tcg":
		return tcg, nil
	case "kvm":
		return kvm, nil
	case "", "auto":
	default:
		return nil, fmt.Errorf("accelerator %q: want auto, kvm or tcg", want)
	}
	for _, mod := range []string{"/sys/module/kvm_intel", "/sys/module/kvm_amd"} {
		if _, err := os.Stat(mod); err == nil {
			if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
				f.Close()
				return kvm, nil
			}
		}
	}
	return tcg, nil
}

// BootOptions say how to start a guest.
type BootOptions struct {
	Accel []string
	// Cmdline is appended to the kernel command line after the guest's own parameters.
	Cmdline []string
	// Timeout bounds the wait for ssh.
	Timeout time.Duration
}

// Boot starts img as guest g and waits until root can log in over ssh. The overlay and the
// runtime files live in a new directory under runDir; out receives the serial log.
func Boot(ctx context.Context, img Image, g Guest, runDir, out string, log io.Writer, o BootOptions) (*Machine, error) {
	dir, err := os.MkdirTemp(runDir, "vmlab-"+g.Name+"-")
	if err != nil {
		return nil, err
	}
	m := &Machine{Image: img, Guest: g, Log: log, runDir: dir, overlay: filepath.Join(dir, "overlay.qcow2"),
		Serial: filepath.Join(out, "serial.log")}
	if err := run(ctx, log, nil, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", img.Disk, m.overlay); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := m.start(ctx, o); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Machine) start(ctx context.Context, o BootOptions) error {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	m.cmdline = append(append([]string{"root=/dev/vda", "rw", "console=ttyS0", "panic=-1"}, m.Guest.Cmdline...), o.Cmdline...)

	// The port is free when picked; another process could take it before qemu binds it, in
	// which case qemu exits at once and the next attempt picks another.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		m.port = port
		args := append(slices.Clone(o.Accel),
			"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
			"-smp", guestCPUs, "-m", guestMemory,
			"-kernel", m.Image.Kernel, "-initrd", m.Image.Initrd, "-append", strings.Join(m.cmdline, " "),
			// cache=unsafe: the overlay is thrown away after the run.
			"-drive", "file="+m.overlay+",if=virtio,format=qcow2,cache=unsafe",
			"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22", port),
			// romfile=: no iPXE option ROM, the guest never boots from the network.
			"-device", "virtio-net-pci,netdev=n0,romfile=",
			"-device", "virtio-rng-pci",
			"-serial", "file:"+m.Serial,
			"-monitor", "none")
		m.qemu = exec.Command("qemu-system-x86_64", args...)
		// qemu goes when the test process goes, even when it is killed.
		m.qemu.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		var stderr bytes.Buffer
		m.qemu.Stdout, m.qemu.Stderr = &stderr, &stderr
		fmt.Fprintf(m.Log, "+ qemu-system-x86_64 %s\n", strings.Join(args, " "))
		t0 := time.Now()
		if err := m.qemu.Start(); err != nil {
			return fmt.Errorf("starting qemu: %w", err)
		}
		m.exited = make(chan struct{})
		go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(m.qemu, m.exited)
		err = m.waitSSH(ctx, o.Timeout)
		if err == nil {
			m.BootTime = time.Since(t0)
			fmt.Fprintf(m.Log, "# %s: ssh answered %.1fs after qemu started (port %d)\n", m.Guest.Name, m.BootTime.Seconds(), port)
			return nil
		}
		if errors.Is(err, errQemuExited) && strings.Contains(stderr.String(), "hostfwd") && attempt < 3 {
			continue
		}
		m.stopQemu()
		return fmt.Errorf("%w\nqemu: %s\nserial console (last lines):\n%s", err, strings.TrimSpace(stderr.String()), m.SerialTail(40))
	}
}

var errQemuExited = errors.New("qemu exited")

// waitSSH retries a root login until it works. qemu's user-mode network accepts on the
// forwarded port before sshd listens in the guest, so each try has a short connect timeout and
// the loop has a deadline.
func (m *Machine) waitSSH(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-m.exited:
			return errQemuExited
		default:
		}
		try, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := m.sshCmd(try, "root", "true", "-o", "ConnectTimeout=3").Run()
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no ssh login to %s within %s: %w", m.Guest.Name, timeout, err)
		}
		time.Sleep(time.Second)
	}
}

// stopQemu kills qemu: the overlay is disposable, so there is no clean shutdown to wait for.
func (m *Machine) stopQemu() {
	m.CloseAnchor()
	m.closeRootMaster()
	if m.qemu != nil && m.qemu.Process != nil {
		_ = m.qemu.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(10 * time.Second):
			_ = m.qemu.Process.Kill()
			<-m.exited
		}
	}
	m.qemu = nil
}

// Close stops the guest and removes its overlay.
func (m *Machine) Close() {
	m.stopQemu()
	os.RemoveAll(m.runDir)
}

// SerialTail returns the last n lines of the serial console.
func (m *Machine) SerialTail(n int) string {
	data, _ := os.ReadFile(m.Serial)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// sshOptions are the options ssh and scp share: the image's key, and no host key checks (each
// image has keys of its own, and the address is a fresh local port every boot).
func (m *Machine) sshOptions() []string {
	return []string{"-i", m.Image.Key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ServerAliveInterval=10"}
}

func (m *Machine) sshCmd(ctx context.Context, user, command string, opts ...string) *exec.Cmd {
	args := append(append(append(m.sshOptions(), "-p", strconv.Itoa(m.port)), opts...), user+"@127.0.0.1", command)
	return exec.CommandContext(ctx, "ssh", args...)
}

// Connections are multiplexed (ssh's ControlMaster): under TCG a new ssh login costs seconds
// of emulated key exchange and PAM. Root's commands share one master connection, kept by ssh
// in the background until Close. The account's commands share the anchor session's connection
// while it is open, so they run in that real login session, as commands typed by a person
// logged in; without the anchor, each makes a login of its own.
func (m *Machine) controlPath(user string) string { return filepath.Join(m.runDir, user+".ssh") }

func (m *Machine) muxOptions(user string) []string {
	if user == "root" {
		return []string{"-o", "ControlMaster=auto", "-o", "ControlPersist=yes", "-o", "ControlPath=" + m.controlPath(user)}
	}
	return []string{"-o", "ControlMaster=no", "-o", "ControlPath=" + m.controlPath(user)}
}

// closeRootMaster asks root's master connection to exit.
func (m *Machine) closeRootMaster() {
	if _, err := os.Stat(m.controlPath("root")); err != nil {
		return
	}
	args := append(m.sshOptions(), "-p", strconv.Itoa(m.port), "-o", "ControlPath="+m.controlPath("root"), "-O", "exit", "root@127.0.0.1")
	_ = exec.Command("ssh", args...).Run()
	os.Remove(m.controlPath("root"))
}

// Result is what a command in the guest did.
type Result struct {
	Stdout, Stderr string
	Code           int
	Duration       time.Duration
}

// OK says the command exited 0.
func (r Result) OK() bool { return r.Code == 0 }

// Combined is stdout then stderr.
func (r Result) Combined() string { return r.Stdout + r.Stderr }

// ErrSSH says a command could not be run in the guest at all (ssh failed, or timed out).
var ErrSSH = errors.New("ssh")

// commandTimeout bounds one command in the guest.
const commandTimeout = 6 * time.Minute

// Run runs command in the guest through a new ssh login as user, so that an ordinary account
// gets a PAM session of its own (pam_systemd: XDG_RUNTIME_DIR, the user manager, the session
// bus). A non-zero exit is a Result, not an error; the error is for ssh itself failing.
func (m *Machine) Run(ctx context.Context, user, command string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := m.sshCmd(ctx, user, command, append(m.muxOptions(user), "-o", "ConnectTimeout=10")...)
	// The master ssh of ControlPersist stays in the background holding the pipes open, so the
	// output goes through files (Wait would otherwise wait for the master to exit).
	stdout, err := os.CreateTemp(m.runDir, "out-")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(stdout.Name())
	defer stdout.Close()
	stderr, err := os.CreateTemp(m.runDir, "err-")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(stderr.Name())
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	t0 := time.Now()
	err = cmd.Run()
	outb, _ := os.ReadFile(stdout.Name())
	errb, _ := os.ReadFile(stderr.Name())
	r := Result{Stdout: string(outb), Stderr: string(errb), Duration: time.Since(t0)}
	fmt.Fprintf(m.Log, "\n$ [%s@%s] %s\n", user, m.Guest.Name, command)
	writeIndented(m.Log, r.Stdout, "  | ")
	writeIndented(m.Log, r.Stderr, "  ! ")
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(m.Log, "  = timed out after %.1fs\n", r.Duration.Seconds())
		return r, fmt.Errorf("%w: %q as %s on %s: timed out after %s", ErrSSH, command, user, m.Guest.Name, commandTimeout)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("%w: %q as %s on %s: %w", ErrSSH, command, user, m.Guest.Name, err)
	}
	// ssh exits 255 when it cannot connect or the connection breaks.
	if r.Code == 255 {
		fmt.Fprintf(m.Log, "  = exit 255 (ssh) after %.1fs\n", r.Duration.Seconds())
		return r, fmt.Errorf("%w: %q as %s on %s: exit 255: %s", ErrSSH, command, user, m.Guest.Name, strings.TrimSpace(r.Stderr))
	}
	fmt.Fprintf(m.Log, "  = exit %d after %.1fs\n", r.Code, r.Duration.Seconds())
	return r, nil
}

func writeIndented(w io.Writer, s, prefix string) {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return
	}
	for _, l := range strings.Split(s, "\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, l)
	}
}

// Copy copies a local file into the guest with scp, as root, and sets its mode.
func (m *Machine) Copy(ctx context.Context, local, remote string, mode os.FileMode) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	args := append(append(m.sshOptions(), m.muxOptions("root")...), "-P", strconv.Itoa(m.port), "-q", local, "root@127.0.0.1:"+remote)
	fmt.Fprintf(m.Log, "\n+ scp %s root@%s:%s\n", local, m.Guest.Name, remote)
	if out, err := exec.CommandContext(ctx, "scp", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%w: copying %s to %s:%s: %w: %s", ErrSSH, local, m.Guest.Name, remote, err, out)
	}
	r, err := m.Run(ctx, "root", fmt.Sprintf("chown root:root %s && chmod %o %s", remote, mode, remote))
	if err != nil {
		return err
	}
	if !r.OK() {
		return fmt.Errorf("setting the mode of %s: %s", remote, r.Combined())
	}
	return nil
}

// OpenAnchor opens a login session of Account that stays open, as a person logged in at the
// machine: with linger off the user manager (and an engine started in it) lives only while the
// account has a session, and each Run's own session ends with its command.
func (m *Machine) OpenAnchor(ctx context.Context) error {
	m.CloseAnchor()
	m.mu.Lock()
	defer m.mu.Unlock()
	sock := m.controlPath(Account)
	os.Remove(sock)
	// The session's command waits for its input to end: closing our end is the person typing
	// `exit`. (A command that ignores its input, such as sleep, outlives the connection and
	// leaves logind's session "closing" for good: Debian does not set KillUserProcesses.)
	cmd := m.sshCmd(context.Background(), Account, "exec cat >/dev/null", "-o", "ConnectTimeout=10",
		"-o", "ControlMaster=yes", "-o", "ControlPath="+sock)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: opening the anchor session: %w", ErrSSH, err)
	}
	m.anchor, m.anchorIn = cmd, stdin
	fmt.Fprintf(m.Log, "\n# anchor session of %s opened (ssh pid %d)\n", Account, cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	m.anchorExited = exited
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
		select {
		case err := <-exited:
			m.anchor = nil
			return fmt.Errorf("%w: the anchor session ended at once: %v", ErrSSH, err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
	}
	return fmt.Errorf("%w: the anchor session's control socket did not appear within a minute", ErrSSH)
}

// CloseAnchor ends the anchor session, if any: it closes the session's input (the remote
// command exits and sshd closes the PAM session), then waits for ssh to exit.
func (m *Machine) CloseAnchor() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.anchor == nil {
		return
	}
	m.anchorIn.Close()
	select {
	case <-m.anchorExited:
	case <-time.After(30 * time.Second):
		_ = m.anchor.Process.Kill()
		<-m.anchorExited
	}
	os.Remove(m.controlPath(Account))
	fmt.Fprintf(m.Log, "\n# anchor session closed\n")
	m.anchor = nil
}
