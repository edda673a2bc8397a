package proof

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

const payloadInRoot = "/rootless-doctor"

// mountStep proves what a container start needs from mounts: fresh mount and pid namespaces
// inside the user namespace, a private tmpfs root holding the payload, pivot_root into it, and
// /proc mounted there; then the payload runs from that root.
//
// pivot_root changes the root of every process and thread of a mount namespace, so it runs on
// an OS thread of its own that first unshares its mount namespace; the thread is discarded
// afterwards, the namespace with it. The payload is then started from that thread in a new pid
// namespace. Doing this on a
// thread rather than in another process saves a process start (~7 ms of the proof).
func mountStep(outer string, run int) stepReport {
	self, err := os.Executable()
	if err != nil {
		return fail("cannot find the payload binary: %v", err)
	}
	root := filepath.Join(outer, fmt.Sprintf("root-%d", run))
	if err := os.Mkdir(root, 0o700); err != nil {
		return fail("cannot create the mount point %s: %v", root, err)
	}
	defer os.Remove(root)
	res := make(chan stepReport, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the runtime ends this thread with the goroutine, and with it
		// the thread's private mount namespace and root.
		res <- pivotAndRun(self, root)
	}()
	select {
	case s := <-res:
		return s
	case <-time.After(10 * time.Second):
		return fail("the pivot_root step did not finish in 10s")
	}
}

// mountErr explains a failed mount operation inside the user namespace.
func mountErr(what string, err error) stepReport {
	x := explanation{Summary: fmt.Sprintf("%s inside the user namespace failed: %v", what, err)}
	switch {
	case strings.Contains(what, "/proc") && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || strings.Contains(err.Error(), "not permitted")):
		// docs/failures/catalogue.json#buildkit-proc-masked
		x.Details = append(x.Details, "The kernel refuses a fresh procfs when the visible /proc has masked or read-only sub-paths (the default in Docker and Kubernetes containers); engines that need a pid namespace fail the same way. Run the outer container with --security-opt systempaths=unconfined (Kubernetes: procMount: Unmasked).")
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		x.Details = append(x.Details, "A seccomp filter or security profile (an outer container's, or AppArmor's unprivileged_userns profile) stops mounts inside user namespaces.")
	}
	return stepReport{}.explained(finding.Fail, x, err.Error())
}

// pivotAndRun runs on its locked thread.
func pivotAndRun(self, root string) stepReport {
	// The private root has no /dev: open /dev/null now for the process run in it.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fail("cannot open %s: %v", os.DevNull, err)
	}
	defer devNull.Close()
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
		return mountErr("creating a mount namespace", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return mountErr("making / private", err)
	}
	if err := unix.Mount("rootless-doctor", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return mountErr("mounting a tmpfs root", err)
	}
	target := filepath.Join(root, payloadInRoot)
	if err := os.WriteFile(target, nil, 0o755); err != nil {
		return mountErr("creating the payload's mount point", err)
	}
	if err := unix.Mount(self, target, "", unix.MS_BIND, ""); err != nil {
		return mountErr("bind-mounting the payload into the root", err)
	}
	// A dynamically linked payload (a cgo build, a test binary) needs its loader and libraries:
	// bind the host's library directories in, read-only. The release build is static and the
	// root then holds nothing but the payload and /proc.
	libs, err := bindLibraries(self, root)
	if err != nil {
		return mountErr("binding the payload's libraries into the root", err)
	}
	for _, d := range []string{"proc", ".old"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o555); err != nil {
			return mountErr("creating /"+d, err)
		}
	}
	if err := unix.PivotRoot(root, filepath.Join(root, ".old")); err != nil {
		return mountErr("pivot_root", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return mountErr("chdir to the new root", err)
	}
	// The payload, pid 1 of the new pid namespace, mounts /proc (only a process inside a pid
	// namespace can mount the procfs showing it) while the old root, with a fully visible
	// /proc, is still attached (the kernel requires one), then detaches the old root.
	cmd := exec.Command(payloadInRoot, argPayload, "rooted")
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, &stdout, &stderr
	// unshare(CLONE_NEWPID) on the thread instead makes Go's fork fail with ENOMEM: the clone
	// flag is the reliable way.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil && stdout.Len() == 0 {
		s := fail("the payload does not run from the private root: %v", err)
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			s = s.detail("Its output: %s", clipMessage(msg))
		}
		return s
	}
	var r rootedReport
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
		return fail("the payload in the private root answered %q", clipMessage(stdout.String()))
	}
	if r.Err != "" {
		return mountErr(r.Stage, errors.New(r.Err))
	}
	s := stepReport{}
	if len(libs) > 0 {
		s = s.with("dynamically linked payload", "bound in for its loader: "+strings.Join(libs, " "))
	}
	s = s.with("/proc/self/mountinfo in the new root", strings.Join(r.Mounts, ", ")).
		with("/ in the new root", strings.Join(r.Entries, " ")).
		with("payload in the new root", fmt.Sprintf("pid %d of a new pid namespace", r.PID))
	switch {
	case len(r.Mounts) == 0 || r.Mounts[0] != "/ tmpfs":
		s.Status, s.Summary = finding.Fail, "after pivot_root the root is not the private tmpfs"
	case !strings.Contains(strings.Join(r.Mounts, ","), "/proc proc"):
		s.Status, s.Summary = finding.Fail, "/proc is not mounted in the private root"
	case r.PID != 1:
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("the payload in the private root is pid %d, not 1 of its own pid namespace", r.PID)
	default:
		s.Status = finding.Pass
		s.Summary = "mount and pid namespaces: pivot_root into a private tmpfs root holding the payload, /proc mounted, the payload runs from it"
	}
	return s
}

// rootedReport is what the payload run from the private root says (JSON on its stdout).
type rootedReport struct {
	PID     int      `json:"pid"`
	Mounts  []string `json:"mounts,omitempty"`
	Entries []string `json:"entries,omitempty"`
	Stage   string   `json:"stage,omitempty"`
	Err     string   `json:"err,omitempty"`
}

// rootedMain runs from the private root as pid 1 of a new pid namespace.
func rootedMain() int {
	r := rootedCheck()
	b, _ := json.Marshal(r)
	os.Stdout.Write(b)
	return 0
}

func rootedCheck() rootedReport {
	var r rootedReport
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		r.Stage, r.Err = "mounting /proc", err.Error()
		return r
	}
	if err := unix.Unmount("/.old", unix.MNT_DETACH); err != nil {
		r.Stage, r.Err = "detaching the old root", err.Error()
		return r
	}
	_ = os.Remove("/.old")
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		r.Stage, r.Err = "reading /proc/self/stat", err.Error()
		return r
	}
	pid, _, _ := strings.Cut(string(b), " ")
	fmt.Sscan(pid, &r.PID)
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		r.Stage, r.Err = "reading /proc/self/mountinfo", err.Error()
		return r
	}
	for _, m := range mounts {
		r.Mounts = append(r.Mounts, m.Mountpoint+" "+m.FSType)
	}
	entries, _ := os.ReadDir("/")
	for _, e := range entries {
		r.Entries = append(r.Entries, e.Name())
	}
	return r
}

// bindLibraries makes the host's library directories visible in root when bin has an ELF
// interpreter: symlinks (merged /usr: /lib -> usr/lib) are recreated, directories bound.
func bindLibraries(bin, root string) ([]string, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, nil // not ELF as far as we can tell: try to run it anyway
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic {
		return nil, nil
	}
	var done []string
	for _, d := range []string{"/usr", "/lib", "/lib64", "/lib32", "/libx32"} {
		fi, err := os.Lstat(d)
		if err != nil {
			continue
		}
		dst := filepath.Join(root, d)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(d)
			if err != nil {
				return done, err
			}
			if err := os.Symlink(target, dst); err != nil {
				return done, err
			}
			done = append(done, d+"->"+target)
			continue
		}
		if err := os.Mkdir(dst, 0o755); err != nil {
			return done, err
		}
		if err := unix.Mount(d, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return done, err
		}
		_ = unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_REC, "")
		done = append(done, d)
	}
	return done, nil
}
