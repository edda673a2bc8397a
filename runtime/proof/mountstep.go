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
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/checks"
)

const payloadInRoot = "/rootless-doctor"

// mountStep runs the pivot_root step in a child with fresh mount and pid namespaces (owned by
// the user namespace): pivot_root changes the root of every process of a mount namespace, and
// procfs can only be mounted by the owner of the pid namespace it shows. The child reports on
// its stdout.
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
	cmd := exec.Command(self, argPayload, "mount", root)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		x := explanation{Summary: "cannot create mount and pid namespaces inside the user namespace: " + err.Error()}
		return stepReport{}.explained(checks.Fail, x, err.Error())
	}
	timer := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	werr := cmd.Wait()
	timer.Stop()
	var s stepReport
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &s); err != nil || s.Status == "" {
		s = fail("the pivot_root step did not report: %v", werr)
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			s = s.detail("Its output: %s", short(msg))
		}
	}
	return s
}

// mountMain is the child of mountStep: pid 1 of a new pid namespace, in a new mount namespace.
// It mounts a tmpfs root holding only the payload binary and /proc, pivots into it, and runs
// the payload from there.
func mountMain(root string) int {
	s := pivotAndCheck(root)
	b, _ := json.Marshal(s)
	os.Stdout.Write(b)
	return 0
}

func pivotAndCheck(root string) stepReport {
	step := func(what string, err error) stepReport {
		x := explanation{Summary: fmt.Sprintf("%s inside the user namespace failed: %v", what, err)}
		switch {
		case what == "mounting /proc" && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)):
			// catalogue: buildkit-proc-masked
			x.Details = append(x.Details, "The kernel refuses a fresh procfs when the visible /proc has masked or read-only sub-paths (the default in Docker and Kubernetes containers); engines that need a pid namespace fail the same way. Run the outer container with --security-opt systempaths=unconfined (Kubernetes: procMount: Unmasked).")
		case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
			x.Details = append(x.Details, "A seccomp filter or security profile (an outer container's, or AppArmor's unprivileged_userns profile) stops mounts inside user namespaces.")
		}
		return stepReport{}.explained(checks.Fail, x, err.Error())
	}
	self, err := os.Executable()
	if err != nil {
		return fail("cannot find the payload binary: %v", err)
	}
	// The private root has no /dev: open /dev/null now for the process run in it.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fail("cannot open %s: %v", os.DevNull, err)
	}
	defer devNull.Close()
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return step("making / private", err)
	}
	if err := unix.Mount("rootless-doctor", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return step("mounting a tmpfs root", err)
	}
	target := filepath.Join(root, payloadInRoot)
	if err := os.WriteFile(target, nil, 0o755); err != nil {
		return step("creating the payload's mount point", err)
	}
	if err := unix.Mount(self, target, "", unix.MS_BIND, ""); err != nil {
		return step("bind-mounting the payload into the root", err)
	}
	// A dynamically linked payload (a cgo build, a test binary) needs its loader and libraries:
	// bind the host's library directories in, read-only. The release build is static and the
	// root then holds nothing but the payload and /proc.
	libs, err := bindLibraries(self, root)
	if err != nil {
		return step("binding the payload's libraries into the root", err)
	}
	if err := os.Mkdir(filepath.Join(root, "proc"), 0o555); err != nil {
		return step("creating /proc", err)
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return step("mounting /proc", err)
	}
	old := filepath.Join(root, ".old")
	if err := os.Mkdir(old, 0o700); err != nil {
		return step("creating the old-root directory", err)
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return step("pivot_root", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return step("chdir to the new root", err)
	}
	if err := unix.Unmount("/.old", unix.MNT_DETACH); err != nil {
		return step("detaching the old root", err)
	}
	_ = os.Remove("/.old")

	s := stepReport{}
	if len(libs) > 0 {
		s = s.with("dynamically linked payload", "bound in for its loader: "+strings.Join(libs, " "))
	}
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return fail("cannot read /proc/self/mountinfo in the new root: %v", err)
	}
	var seen []string
	for _, m := range mounts {
		seen = append(seen, m.Mountpoint+" "+m.FSType)
	}
	s = s.with("/proc/self/mountinfo in the new root", strings.Join(seen, ", "))
	if len(mounts) == 0 || mounts[0].Mountpoint != "/" || mounts[0].FSType != "tmpfs" || !hasMount(mounts, "/proc", "proc") {
		s.Status, s.Summary = checks.Fail, "after pivot_root the root is not the private tmpfs"
		return s
	}
	// Run the payload from inside the root: it must start there, see /proc and be pid 2.
	rooted := exec.Command(payloadInRoot, argPayload, "rooted")
	rooted.Stdin, rooted.Stderr = devNull, devNull
	out, err := rooted.Output()
	if err != nil {
		s.Status, s.Summary = checks.Fail, fmt.Sprintf("the payload does not run from the private root: %v", err)
		return s
	}
	reply := strings.TrimSpace(string(out))
	s = s.with(payloadInRoot+" "+argPayload+" rooted", reply)
	if !strings.HasPrefix(reply, "ok ") {
		s.Status, s.Summary = checks.Fail, "the payload in the private root could not read /proc"
		return s
	}
	s.Status = checks.Pass
	s.Summary = "mount and pid namespaces: pivot_root into a private tmpfs root holding the payload, /proc mounted, the payload runs from it"
	return s
}

func hasMount(ms []*mountinfo.Info, point, fstype string) bool {
	for _, m := range ms {
		if m.Mountpoint == point && m.FSType == fstype {
			return true
		}
	}
	return false
}

// bindLibraries makes the host's library directories visible in root when bin has an ELF
// interpreter: symlinks (merged-/usr: /lib -> usr/lib) are recreated, directories bound.
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

// rootedMain runs inside the private root: it reads its own pid through the fresh /proc.
func rootedMain() int {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	pid, _, _ := strings.Cut(string(b), " ")
	entries, _ := os.ReadDir("/")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	fmt.Printf("ok pid %s of a new pid namespace, / holds %s\n", pid, strings.Join(names, " "))
	return 0
}
