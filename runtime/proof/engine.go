package proof

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/internal/safefs"
)

// The engine proof (`prove --engine NAME`, issue 13 item 5): the real engine, rootless, end to
// end, with no registry and no network. The payload is this binary again, run by the engine as
// a container's process: Podman gets a root directory holding it (`podman run --rootfs`),
// Docker an image FROM scratch that this process writes and pipes into `docker load`. Inside,
// the payload checks what a container needs (enginePayloadMain) and prints one JSON line.
//
// The container runs with `--network none`: the network of a rootless engine is what the
// generic proof's runtime.network and runtime.port steps test; here the question is whether the
// engine starts a container at all (its runtime, conmon, cgroups, storage, id maps).

// Engine names `prove --engine` takes (the names of check --engine).
const (
	EnginePodman = "podman"
	EngineDocker = "docker"
)

// EngineNames lists the engines the engine proof can run.
func EngineNames() []string { return []string{EngineDocker, EnginePodman} }

// EngineStepID is the result id of the engine proof of name: runtime.engine.NAME.
func EngineStepID(name string) string { return "runtime.engine." + name }

// EngineOptions are the knobs of RunEngine.
type EngineOptions struct {
	// User is the account (as in Options.User).
	User string
	// Engine is one of EngineNames.
	Engine string
	// Timeout bounds the whole run; zero means DefaultEngineTimeout.
	Timeout time.Duration
}

// DefaultEngineTimeout is the engine proof's limit when EngineOptions.Timeout is zero: a first
// `podman run` initializes the account's storage, and dockerd takes seconds to start.
const DefaultEngineTimeout = 3 * time.Minute

// ErrNotStatic is returned (wrapped) when the running binary is dynamically linked: the engine
// runs it in an empty root, where no shared library exists.
var ErrNotStatic = errors.New("the payload must be a statically linked binary")

// RunEngine runs the engine proof and returns the runtime.engine.NAME result. The error is
// only for a proof that could not start (unknown account or engine, a dynamic binary, no
// state dir); an engine that fails is a result.
func RunEngine(ctx context.Context, opts EngineOptions) (finding.Result, error) {
	var run func(context.Context, *engineRun) finding.Result
	switch opts.Engine {
	case EnginePodman:
		run = runPodman
	case EngineDocker:
		run = runDocker
	default:
		return finding.Result{}, fmt.Errorf("unknown engine %q (want one of %s)", opts.Engine, strings.Join(EngineNames(), ", "))
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultEngineTimeout
	}
	acct, err := resolveAccount(opts.User)
	if err != nil {
		return finding.Result{}, err
	}
	title := engineTitle(opts.Engine)
	if acct.uid == 0 {
		r := finding.Skipf("running as root: rootless mode is for an ordinary account; pass --user NAME to run %s for it", opts.Engine)
		r.ID, r.Title = EngineStepID(opts.Engine), title
		return r, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return finding.Result{}, fmt.Errorf("finding the rootless-doctor binary: %w", err)
	}
	if err := checkStatic(exe); err != nil {
		return finding.Result{}, err
	}
	sd, err := newStateDir(acct.runtimeDir())
	if err != nil {
		return finding.Result{}, fmt.Errorf("creating the proof's state dir: %w", err)
	}
	defer sd.remove()
	er := &engineRun{acct: acct, sd: sd, exe: exe, env: acct.env()}
	if err := er.prepare(); err != nil {
		return finding.Result{}, err
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	r := run(tctx, er)
	r.ID, r.Title, r.Duration = EngineStepID(opts.Engine), title, time.Since(start)
	return r, nil
}

func engineTitle(name string) string {
	switch name {
	case EnginePodman:
		return "Podman runs a container (live)"
	case EngineDocker:
		return "Docker runs a container (live)"
	}
	return name + " runs a container (live)"
}

// checkStatic refuses a binary with an ELF interpreter: `make build` links statically
// (CGO_ENABLED=0), a `go build` with cgo does not.
func checkStatic(exe string) error {
	f, err := elf.Open(exe)
	if err != nil {
		return fmt.Errorf("reading %s: %w", exe, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s: %w (build it with CGO_ENABLED=0, as `make build` does)", exe, ErrNotStatic)
		}
	}
	return nil
}

// engineRun is one engine proof: the account, its state dir and what is in it.
type engineRun struct {
	acct account
	sd   *stateDir
	// exe is this binary; self is the copy the account can execute (the daemon for Docker).
	exe, self string
	// rootfs is the container's root directory (Podman).
	rootfs string
	env    []string
}

// rootfsDirs are the mount points an OCI runtime expects in a root; engines create missing
// ones themselves, but not every version in a directory the account made read-only.
var rootfsDirs = []string{"proc", "dev", "sys", "tmp", "etc", "run"}

// prepare fills the state dir while it is still this process's alone (makeStateDir's rule):
// rootfs/ with the payload and the mount points, and a copy of the binary when the account
// cannot execute the original. Ownership goes to the account last, through the descriptors.
func (er *engineRun) prepare() error {
	a, dir := er.acct, er.sd.dir
	er.self = er.exe
	if a.onBehalf && !canExec(er.exe, a) {
		if err := copyBinary(dir, fileExe, er.exe); err != nil {
			return fmt.Errorf("copying the binary for %s: %w", a.name, err)
		}
		er.self = er.sd.path + "/" + fileExe
	}
	if err := unix.Mkdirat(int(dir.Fd()), "rootfs", 0o755); err != nil {
		return fmt.Errorf("creating the container's root: %w", err)
	}
	root, err := safefs.Open(dir, "rootfs", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("opening the container's root: %w", err)
	}
	defer root.Close()
	owned := []*os.File{}
	defer func() {
		for _, f := range owned {
			f.Close()
		}
	}()
	for _, d := range rootfsDirs {
		if err := unix.Mkdirat(int(root.Fd()), d, 0o755); err != nil {
			return fmt.Errorf("creating /%s in the container's root: %w", d, err)
		}
		f, err := safefs.Open(root, d, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		owned = append(owned, f)
	}
	if err := copyBinary(root, payloadName, er.exe); err != nil {
		return fmt.Errorf("copying the payload into the container's root: %w", err)
	}
	if a.onBehalf {
		p, err := safefs.Open(root, payloadName, unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		owned = append(owned, p)
		if s, err := safefs.Open(dir, fileExe, unix.O_RDONLY, 0); err == nil {
			owned = append(owned, s)
		}
		for _, f := range append(owned, root, dir) {
			if err := f.Chown(a.uid, a.gid); err != nil {
				return fmt.Errorf("giving the container's root to %s: %w", a.name, err)
			}
		}
	}
	if err := root.Chmod(0o755); err != nil {
		return err
	}
	er.rootfs = er.sd.path + "/rootfs"
	return nil
}

// payloadName is the payload's name in the container's root (and the image's entrypoint).
const payloadName = "rootless-doctor"

// output is what one command printed.
type output struct {
	stdout, stderr string
	exit           int
	err            error
}

// maxEngineOutput caps what is kept of an engine command's output.
const maxEngineOutput = 1 << 20

// command runs argv as the account, in a process group of its own that is killed when ctx
// ends, with stdin from in (nil: none).
func (er *engineRun) command(ctx context.Context, in func(*os.File) error, argv ...string) output {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = er.env, "/"
	var stdout, stderr capped
	stdout.max, stderr.max = maxEngineOutput, maxEngineOutput
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = er.sysProcAttr()
	var w *os.File
	if in != nil {
		r, pw, err := os.Pipe()
		if err != nil {
			return output{exit: -1, err: err}
		}
		cmd.Stdin, w = r, pw
		defer r.Close()
	}
	if err := cmd.Start(); err != nil {
		if w != nil {
			w.Close()
		}
		return output{exit: -1, err: err}
	}
	feed := make(chan error, 1)
	if w != nil {
		go func() { err := in(w); w.Close(); feed <- err }()
	} else {
		feed <- nil
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("%s: no answer: %w", argv[0], ctx.Err())
	}
	reapGroup(cmd.Process.Pid)
	if ferr := <-feed; err == nil && ferr != nil {
		err = ferr
	}
	o := output{stdout: stdout.String(), stderr: stderr.String(), err: err}
	if ee, ok := err.(*exec.ExitError); ok {
		o.exit, o.err = ee.ExitCode(), nil
	} else if err != nil {
		o.exit = -1
	}
	return o
}

func (er *engineRun) sysProcAttr() *syscall.SysProcAttr {
	a := er.acct
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if a.onBehalf {
		attr.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: a.groups}
	}
	return attr
}

// lookPath finds name on the account's PATH.
func (er *engineRun) lookPath(name string) (string, error) {
	for _, kv := range er.env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, d := range strings.Split(p, ":") {
				c := d + "/" + name
				if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
					return c, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

// capped is a buffer that keeps the first max bytes.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// judge turns the engine's run of the payload into the result.
func judge(engine, version string, o output) finding.Result {
	rep, perr := parsePayloadReport(o.stdout)
	if o.err == nil && o.exit == 0 && perr == nil && rep.ok() {
		r := finding.Passf("%s ran a container: %s", version, rep.short())
		return r.With("payload", rep.describe())
	}
	if perr == nil && o.err == nil {
		// The container started: the payload itself saw something wrong.
		r := finding.Failf("%s ran a container, but inside it: %s", version, strings.Join(rep.Problems, "; "))
		r.Details = append(r.Details, "The payload (this binary, run by the engine as the container's process) reported: "+rep.describe())
		return r
	}
	text := strings.TrimSpace(o.stderr)
	if o.err != nil {
		text = strings.TrimSpace(text + "\n" + o.err.Error())
	}
	if text == "" {
		text = fmt.Sprintf("exit status %d and no output", o.exit)
	}
	x := explainEngine(engine, text)
	r := finding.Failf("%s could not run a container: %s", version, x.Summary)
	if x.Probe != "" {
		r.Summary += " (see " + x.Probe + ")"
		r.Details = append(r.Details, fmt.Sprintf("Explained by the static probe %s: run `rootless-doctor check --engine %s -v` for its fix.", x.Probe, engine))
	}
	r.Details = append(r.Details, x.Details...)
	r.Details = append(r.Details, "The engine said: "+clipMessage(lastLines(text, 6)))
	r.Intents = x.Intents
	return r
}

// lastLines is the last n non-empty lines of s.
func lastLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}

// engineVersion is the first line `ENGINE --version` prints ("podman version 4.3.1"), or the
// engine's name.
func engineVersion(ctx context.Context, er *engineRun, bin, name string) (string, output) {
	o := er.command(ctx, nil, bin, "--version")
	line, _, _ := strings.Cut(strings.TrimSpace(o.stdout), "\n")
	if o.err != nil || o.exit != 0 || line == "" {
		return name, o
	}
	line = strings.TrimPrefix(strings.TrimPrefix(line, "podman version "), "Docker version ")
	if v, _, ok := strings.Cut(line, ","); ok {
		line = v
	}
	return name + " " + strings.TrimSpace(line), o
}
