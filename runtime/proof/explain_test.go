package proof

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/fixes"
	fixplan "github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func intp(v int) *int { return &v }

// The errors below are built the way rootlesskit v3.3.0 builds them (pkg/parent/parent.go,
// pkg/parent/idtools, pkg/network/parentutils), then carried through describe() exactly as the
// parent role does, so the test covers errno extraction and the mapping together.
func cloneErr(errno syscall.Errno) error {
	return fmt.Errorf("failed to start the child: %w", &fs.PathError{Op: "fork/exec", Path: "/proc/self/exe", Err: errno})
}

// rootOwnedExe is a host where the binary of the facts below is root's (an AppArmor profile is
// made only for such a binary).
var rootOwnedExe = func() host.Host {
	m := host.NewMemory()
	for _, d := range []string{"/usr", "/usr/local", "/usr/local/bin"} {
		m.Dir(d).Meta(d, host.FileMeta{Type: "dir", Mode: "0755", UID: host.Int(0)})
	}
	return m.Exec("/usr/local/bin/rootless-doctor").Meta("/usr/local/bin/rootless-doctor", host.FileMeta{Mode: "0755", UID: host.Int(0)}).Host()
}()

func TestExplain(t *testing.T) {
	debian := facts{User: "alice", Exe: "/usr/local/bin/rootless-doctor", UsernsClone: intp(1), MaxUserNS: intp(28633)}
	tests := []struct {
		name       string
		phase      string
		err        error
		facts      func(f facts) facts
		logs       []string
		wantProbe  string
		wantFixes  []string
		wantInSumm string
	}{
		{
			name: "clone ENOSPC is userns.max", phase: phaseUserNS, err: cloneErr(syscall.ENOSPC),
			facts:     func(f facts) facts { f.MaxUserNS = intp(0); return f },
			wantProbe: "userns.max", wantFixes: []string{"sysctl.user.max_user_namespaces"}, wantInSumm: "user.max_user_namespaces=0",
		},
		{
			name: "clone EUSERS is userns.max", phase: phaseUserNS, err: cloneErr(syscall.EUSERS),
			wantProbe: "userns.max", wantFixes: []string{"sysctl.user.max_user_namespaces"},
		},
		{
			name: "clone EPERM with the Debian sysctl at 0 is userns.clone", phase: phaseUserNS, err: cloneErr(syscall.EPERM),
			facts:     func(f facts) facts { f.UsernsClone = intp(0); return f },
			wantProbe: "userns.clone", wantFixes: []string{"sysctl.kernel.unprivileged_userns_clone"}, wantInSumm: "unprivileged_userns_clone=0",
		},
		{
			name: "clone EPERM with the AppArmor restriction is userns.apparmor", phase: phaseUserNS, err: cloneErr(syscall.EPERM),
			facts:     func(f facts) facts { f.AppArmorRestrict = intp(1); return f },
			wantProbe: "userns.apparmor", wantFixes: []string{"apparmor.usr.local.bin.rootless-doctor"},
		},
		{
			name: "clone EPERM where the sysctl does not exist names a seccomp filter", phase: phaseUserNS, err: cloneErr(syscall.EPERM),
			facts:     func(f facts) facts { f.UsernsClone = nil; return f },
			wantProbe: "userns.clone", wantFixes: []string{"manual.userns-blocked"},
		},
		{
			name: "clone EPERM with the Debian sysctl already 1 is not that sysctl", phase: phaseUserNS, err: cloneErr(syscall.EPERM),
			wantProbe: "userns.clone", wantFixes: []string{"manual.userns-blocked"},
		},
		{
			name: "clone EPERM with unreadable sysctl still asks for it", phase: phaseUserNS, err: cloneErr(syscall.EPERM),
			facts:     func(f facts) facts { f.UsernsClone = nil; f.Unread = []string{keyUsernsClone}; return f },
			wantProbe: "userns.clone", wantFixes: []string{"sysctl.kernel.unprivileged_userns_clone"},
		},
		{
			name: "clone EACCES is userns.apparmor", phase: phaseUserNS, err: cloneErr(syscall.EACCES),
			wantProbe: "userns.apparmor", wantFixes: []string{"apparmor.usr.local.bin.rootless-doctor"}, wantInSumm: "permission denied",
		},
		{
			name: "clone EINVAL with max 0 (RHEL 7) is userns.max", phase: phaseUserNS, err: cloneErr(syscall.EINVAL),
			facts:     func(f facts) facts { f.MaxUserNS = intp(0); return f },
			wantProbe: "userns.max", wantFixes: []string{"sysctl.user.max_user_namespaces"},
		},
		{
			name: "clone EINVAL otherwise is the kernel", phase: phaseUserNS, err: cloneErr(syscall.EINVAL),
			wantProbe: "kernel.version", wantFixes: []string{"manual.kernel-userns"},
		},
		{
			name: "no subuid range", phase: phaseIDMap,
			err:       fmt.Errorf("failed to setup UID/GID map: %w", fmt.Errorf("failed to compute uid/gid map: %w", errors.New(`no subuid ranges found for user 1003 ("alice")`))),
			wantProbe: "idmap.subuid", wantFixes: []string{"subid.add"}, wantInSumm: "no subordinate uid range",
		},
		{
			name: "no subgid range", phase: phaseIDMap,
			err:       fmt.Errorf("failed to setup UID/GID map: %w", errors.New(`failed to compute uid/gid map: no subgid ranges found for user 1003 ("alice")`)),
			wantProbe: "idmap.subgid", wantFixes: []string{"subid.add"},
		},
		{
			name: "newuidmap not setuid", phase: phaseIDMap,
			err: fmt.Errorf("failed to setup UID/GID map: %w",
				fmt.Errorf("newuidmap 123 [0 1000 1 1 100000 65536] failed: newuidmap: write to uid_map failed: Operation not permitted\n: %w", &exec.ExitError{})),
			wantProbe: "idmap.newuidmap", wantFixes: []string{"manual.newuidmap-privilege"}, wantInSumm: "neither setuid root",
		},
		{
			name: "newgidmap missing", phase: phaseIDMap,
			err:       fmt.Errorf("failed to setup UID/GID map: %w", fmt.Errorf("newgidmap 123 [0 1000 1] failed: : %w", &exec.Error{Name: "newgidmap", Err: exec.ErrNotFound})),
			wantProbe: "idmap.newuidmap", wantFixes: []string{"package.newuidmap"}, wantInSumm: "newgidmap is not installed",
		},
		{
			name: "range not delegated", phase: phaseIDMap,
			err:       errors.New("failed to setup UID/GID map: newuidmap 123 [0 1000 1 1 200000 65536] failed: newuidmap: uid range [1-65537) -> [200000-265536) not allowed\n: exit status 1"),
			wantProbe: "idmap.subuid", wantFixes: nil,
		},
		{
			// docs/failures/catalogue.json#slirp4netns-seccomp-fails: slirp4netns's own lines reach the log.
			name: "slirp4netns seccomp filter rejected", phase: phaseNetwork,
			err:       errors.New("waiting for ready fd (/usr/bin/slirp4netns --mtu 65520 -r 3 --disable-host-loopback --enable-seccomp 1234 tap0): slirp4netns failed"),
			logs:      []string{"WARNING: Support for seccomp is experimental", "seccomp: seccomp_load(): Invalid argument", "enable_seccomp failed", "do_slirp is exiting"},
			wantProbe: "net.driver", wantFixes: []string{"manual.docker-slirp-seccomp"}, wantInSumm: "seccomp filter",
		},
		{
			name: "tun denied (ip prints the reason on stderr)", phase: phaseNetwork,
			err:       errors.New("setting up tap tap0: executing [[nsenter -t 9 -n -m -U --preserve-credentials ip tuntap add name tap0 mode tap] [nsenter ip link set tap0 up]]: exit status 1"),
			logs:      []string{"open: Permission denied"},
			wantProbe: "net.tun", wantFixes: []string{"device.tun"},
		},
		{
			name: "tun denied known from the parent's own open", phase: phaseNetwork,
			err:       errors.New("setting up tap tap0: executing [[nsenter ip tuntap add name tap0 mode tap]]: exit status 1"),
			facts:     func(f facts) facts { f.TunErrno = "EACCES"; return f },
			wantProbe: "net.tun", wantFixes: []string{"device.tun"},
		},
		{
			name: "pasta cannot open tun", phase: phaseNetwork,
			err:       errors.New("pasta failed with exit code 1:\nFailed to open() /dev/net/tun: Permission denied"),
			wantProbe: "net.tun", wantFixes: []string{"device.tun"},
		},
		{
			name: "tun missing", phase: phaseNetwork,
			err:       errors.New("setting up tap tap0: executing [[nsenter ip tuntap add name tap0 mode tap]]: exit status 1"),
			facts:     func(f facts) facts { f.TunErrno = "ENOENT"; return f },
			wantProbe: "net.tun", wantFixes: []string{"module.tun"},
		},
		{
			name: "slirp4netns missing", phase: phaseNetwork,
			err:       fmt.Errorf("slirp4netns binary %q is not installed: %w", "slirp4netns", &exec.Error{Name: "slirp4netns", Err: exec.ErrNotFound}),
			wantProbe: "net.driver", wantFixes: []string{"package.slirp4netns"}, wantInSumm: "slirp4netns is not installed",
		},
		{
			name: "pasta missing", phase: phaseNetwork,
			err:       fmt.Errorf("pasta binary %q is not installed: %w", "pasta", &exec.Error{Name: "pasta", Err: exec.ErrNotFound}),
			wantProbe: "net.driver", wantFixes: []string{"package.pasta"},
		},
		{
			name: "nsenter missing", phase: phaseNetwork,
			err:       fmt.Errorf("setting up tap tap0: executing [[nsenter ...]]: %w", &exec.Error{Name: "nsenter", Err: exec.ErrNotFound}),
			wantProbe: "net.driver", wantFixes: []string{"package.nsenter"},
		},
		{
			name: "ip missing inside the child", phase: phaseChild,
			err:       fmt.Errorf("executing [[ip link set lo up]]: %w", &exec.Error{Name: "ip", Err: exec.ErrNotFound}),
			wantProbe: "net.driver", wantFixes: []string{"package.ip"},
		},
		{
			name: "propagation refused by AppArmor", phase: phaseChild,
			err:       fmt.Errorf("failed to share mount point: /: %w", syscall.EACCES),
			wantProbe: "userns.apparmor", wantFixes: []string{"apparmor.usr.local.bin.rootless-doctor"},
		},
		{
			name: "timeout", phase: phaseTimeout, err: errors.New("no result after 30s"),
			wantProbe: "", wantFixes: nil, wantInSumm: "did not finish",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := debian
			if tt.facts != nil {
				f = tt.facts(f)
			}
			w := describe(tt.phase, tt.err)
			// The wire error crosses a process boundary as JSON: the mapping sees only that.
			x := explain(*w, f, tt.logs)
			if x.Probe != tt.wantProbe {
				t.Errorf("probe = %q, want %q (summary %q, wire %+v)", x.Probe, tt.wantProbe, x.Summary, *w)
			}
			var ids []string
			for _, in := range x.Intents {
				ids = append(ids, fixes.IntentID(in))
			}
			if !slices.Equal(ids, tt.wantFixes) {
				t.Errorf("fixes = %v, want %v", ids, tt.wantFixes)
			}
			// What the proof asks for, the sudo helper must accept from alice (fixes/sudo.go
			// keeps its own list of the values probes use).
			var reqs []fixplan.Request
			for _, in := range x.Intents {
				reqs = append(reqs, fixplan.Request{ProbeID: x.Probe, Intent: in})
			}
			if err := fixplan.CheckSudo(reqs, "alice", rootOwnedExe); err != nil {
				t.Errorf("the sudo helper would refuse what the proof asks for: %v", err)
			}
			if tt.wantInSumm != "" && !strings.Contains(x.Summary, tt.wantInSumm) {
				t.Errorf("summary %q does not mention %q", x.Summary, tt.wantInSumm)
			}
			if x.Summary == "" {
				t.Error("empty summary")
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	w := describe(phaseUserNS, cloneErr(syscall.ENOSPC))
	if w.Errno != "ENOSPC" || w.Phase != phaseUserNS || !strings.Contains(w.Message, "no space left on device") {
		t.Errorf("describe(ENOSPC) = %+v", *w)
	}
	if w := describe(phaseIDMap, &exec.Error{Name: "newuidmap", Err: exec.ErrNotFound}); !w.NotFound {
		t.Errorf("exec.ErrNotFound not seen: %+v", *w)
	}
	if w := describe(phaseStart, errors.New("plain")); w.Errno != "" || w.NotFound || w.Exit != -1 {
		t.Errorf("plain error = %+v", *w)
	}
	if describe(phaseStart, nil) != nil {
		t.Error("describe(nil) != nil")
	}
}

func TestClassifyParentErr(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{cloneErr(syscall.EPERM), phaseUserNS},
		{errors.New(`failed to setup UID/GID map: failed to compute uid/gid map: no subuid ranges found for user 1 ("x")`), phaseIDMap},
		{errors.New("failed to setup network &{binary:slirp4netns}: boom"), phaseNetwork},
		{errors.New("failed to expose port {tcp 127.0.0.1 1 2}: address in use"), phasePort},
		{errors.New("child exited: exit status 1"), phasePayload},
		{errors.New("state dir is inaccessible: x"), phaseStart},
	}
	for _, tt := range tests {
		if got := classifyParentErr(tt.err, nil, "/nonexistent/child.json").Phase; got != tt.want {
			t.Errorf("classifyParentErr(%q) = %s, want %s", tt.err, got, tt.want)
		}
	}
	// The network driver's own error wins over parent.Parent's struct-dumping wrapper.
	tn := &timedNet{err: errors.New("setting up tap tap0: exit status 1")}
	if w := classifyParentErr(errors.New("failed to setup network &{...}: x"), tn, ""); w.Phase != phaseNetwork || w.Message != tn.err.Error() {
		t.Errorf("with the driver's error: %+v", *w)
	}
}

func TestChildStep(t *testing.T) {
	for msg, want := range map[string]string{
		"failed to gain the caps inside the user namespace: x": StepIDMap,
		"failed to share mount point: /: permission denied":    StepMount,
		"executing [[ip link set lo up]]: exit status 1":       StepNetwork,
		"failed to mount sysfs":                                StepNetwork,
		"something else":                                       StepUserNS,
	} {
		if got := childStep(msg); got != want {
			t.Errorf("childStep(%q) = %s, want %s", msg, got, want)
		}
	}
}
