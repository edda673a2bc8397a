package proof_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit/gvisor"
)

// The test binary is the proof's payload (rootlesskit re-executes it), so Dispatch comes first.
// helperArg runs one proof in a helper process (see TestProveMaxUserNamespacesZero).
const helperArg = "__proof_test_helper"

func TestMain(m *testing.M) {
	// The test binary links the gvisor-tap-vsock driver, as the helper binary does.
	gvisor.Link()
	rootlesskit.Dispatch(proof.Roles()...)
	if len(os.Args) > 2 && os.Args[1] == helperArg {
		os.Exit(helperMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == cgroupStepArg {
		os.Stdout.Write(proof.CgroupStepJSON())
		os.Exit(0)
	}
	if len(os.Args) > 2 && os.Args[1] == attackArg {
		os.Exit(attackMain(os.Args[2:]))
	}
	os.Exit(livetest.HostGuard(m).Run())
}

// Live tests: the real proof, as root, for a throwaway account (created and removed by the
// test). Host state is staged in a private mount namespace of the test (a tun node of the mode
// wanted bound over /dev/net/tun, a newuidmap without its setuid bit bound over the real one),
// so the machine's files and devices are never changed and concurrent jobs are not disturbed.

var tools = []string{"useradd", "userdel", "usermod", "newuidmap", "newgidmap", "nsenter", "ip"}

type want map[string]finding.Status

func run(t *testing.T, opts proof.Options, binds map[string]string) []finding.Result {
	t.Helper()
	var res []finding.Result
	var err error
	livetest.InMountNamespace(t, binds, func() {
		res, err = proof.Run(context.Background(), opts)
	})
	if err != nil {
		t.Fatalf("proof.Run: %v", err)
	}
	return res
}

func check(t *testing.T, res []finding.Result, w want) map[string]finding.Result {
	t.Helper()
	if ids := idsOf(res); !slices.Equal(ids, proof.StepIDs()) {
		t.Fatalf("results %v, want %v", ids, proof.StepIDs())
	}
	by := map[string]finding.Result{}
	for _, r := range res {
		by[r.ID] = r
		t.Logf("%-16s %-4s %6.1f ms  %s", r.ID, r.Status, float64(r.Duration.Microseconds())/1000, r.Summary)
		if testing.Verbose() && r.Status == finding.Fail {
			t.Logf("%s", dump(r))
		}
		if st, ok := w[r.ID]; ok && r.Status != st {
			t.Errorf("%s = %s (%s), want %s\n%s", r.ID, r.Status, r.Summary, st, dump(r))
		}
		if r.Title == "" || r.Summary == "" || !r.Status.Valid() {
			t.Errorf("%s: incomplete result %+v", r.ID, r)
		}
	}
	return by
}

func idsOf(res []finding.Result) []string {
	var ids []string
	for _, r := range res {
		ids = append(ids, r.ID)
	}
	return ids
}

func dump(r finding.Result) string {
	var b strings.Builder
	for _, d := range r.Details {
		fmt.Fprintf(&b, "    detail: %s\n", d)
	}
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "    %s = %s\n", e.Source, e.Value)
	}
	return b.String()
}

func evidence(r finding.Result, source string) string {
	for _, e := range r.Evidence {
		if e.Source == source {
			return e.Value
		}
	}
	return ""
}

// cgroupWant is what runtime.cgroup must say on this machine: skip on cgroup v1 or hybrid
// (the dev machine and Debian 12 CI), anything valid on v2 (depends on delegation).
func cgroupWant(w want) want {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		w[proof.StepCgroup] = finding.Skip
	}
	return w
}

func TestProvePasses(t *testing.T) {
	livetest.NeedRoot(t, append(tools, "slirp4netns")...)
	livetest.Lock(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	tun := map[string]string{"/dev/net/tun": livetest.TunNode(t, 0o666)}

	nets := []string{rootlesskit.NetAuto, rootlesskit.NetSlirp4netns, rootlesskit.NetGvisor, rootlesskit.NetNone}
	if _, err := exec.LookPath("pasta"); err == nil {
		nets = append(nets, rootlesskit.NetPasta)
	}
	for _, net := range nets {
		t.Run(net, func(t *testing.T) {
			res := run(t, proof.Options{User: user, Net: net, Timeout: 30 * time.Second}, tun)
			w := cgroupWant(want{
				proof.StepUserNS: finding.Pass, proof.StepIDMap: finding.Pass, proof.StepMount: finding.Pass,
				proof.StepOverlay: finding.Pass, proof.StepNetwork: finding.Pass, proof.StepPort: finding.Pass,
			})
			if net == rootlesskit.NetNone {
				w[proof.StepNetwork] = finding.Skip
			}
			by := check(t, res, w)
			if net == rootlesskit.NetAuto {
				if got := evidence(by[proof.StepNetwork], "network driver"); got != "slirp4netns (auto)" {
					t.Errorf("auto chose %q, want slirp4netns (auto)", got)
				}
			}
			// A file chowned to 1000 inside is owned by subordinate uid START+999 on the host.
			if got := evidence(by[proof.StepIDMap], "host view of the chowned file"); !strings.HasSuffix(got, "(1000:1000 inside)") || strings.HasPrefix(got, "1000:") {
				t.Errorf("host view of the chowned file = %q", got)
			}
			if r := by[proof.StepPort]; r.Status == finding.Pass && !strings.HasPrefix(evidence(r, "reply"), "PONG ") {
				t.Errorf("port reply = %q", evidence(r, "reply"))
			}
			for _, r := range res {
				if r.Status == finding.Pass && r.Duration <= 0 {
					t.Errorf("%s has no duration", r.ID)
				}
			}
		})
	}
}

func TestProveNoSubordinateRange(t *testing.T) {
	livetest.NeedRoot(t, tools...)
	livetest.Lock(t)
	user := livetest.User(t, false)
	livetest.NoLeftovers(t, user)
	res := run(t, proof.Options{User: user}, map[string]string{"/dev/net/tun": livetest.TunNode(t, 0o666)})
	by := check(t, res, cgroupWant(want{
		proof.StepUserNS: finding.Pass, proof.StepIDMap: finding.Fail, proof.StepMount: finding.Skip,
		proof.StepOverlay: finding.Skip, proof.StepNetwork: finding.Skip, proof.StepPort: finding.Skip,
	}))
	r := by[proof.StepIDMap]
	if !strings.Contains(r.Summary, "idmap.subuid") || !slices.Contains(fixes.FixIDs(r), "subid.add") {
		t.Errorf("idmap: %s fixes %v, want idmap.subuid and subid.add\n%s", r.Summary, fixes.FixIDs(r), dump(r))
	}
	if !slices.ContainsFunc(r.Details, func(d string) bool { return strings.Contains(d, "no subuid ranges found") }) {
		t.Errorf("the original error is not in the details:\n%s", dump(r))
	}
}

func TestProveTunDenied(t *testing.T) {
	livetest.NeedRoot(t, append(tools, "slirp4netns")...)
	livetest.Lock(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	res := run(t, proof.Options{User: user}, map[string]string{"/dev/net/tun": livetest.TunNode(t, 0o600)})
	// The network fails; the other steps are proven by a second start without a network.
	by := check(t, res, cgroupWant(want{
		proof.StepUserNS: finding.Pass, proof.StepIDMap: finding.Pass, proof.StepMount: finding.Pass,
		proof.StepOverlay: finding.Pass, proof.StepNetwork: finding.Fail, proof.StepPort: finding.Skip,
	}))
	r := by[proof.StepNetwork]
	if !strings.Contains(r.Summary, "net.tun") || !slices.Contains(fixes.FixIDs(r), "device.tun") {
		t.Errorf("network: %s fixes %v, want net.tun and device.tun\n%s", r.Summary, fixes.FixIDs(r), dump(r))
	}
}

func TestProveNewuidmapWithoutSetuid(t *testing.T) {
	livetest.NeedRoot(t, tools...)
	livetest.Lock(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	real, err := exec.LookPath("newuidmap")
	if err != nil {
		t.Fatal(err)
	}
	real, _ = filepath.EvalSymlinks(real)
	res := run(t, proof.Options{User: user}, map[string]string{
		"/dev/net/tun": livetest.TunNode(t, 0o666),
		real:           livetest.CopyWithoutSetuid(t, real),
	})
	by := check(t, res, cgroupWant(want{
		proof.StepUserNS: finding.Pass, proof.StepIDMap: finding.Fail, proof.StepMount: finding.Skip,
		proof.StepNetwork: finding.Skip, proof.StepPort: finding.Skip,
	}))
	r := by[proof.StepIDMap]
	if !strings.Contains(r.Summary, "idmap.newuidmap") || !slices.Contains(fixes.FixIDs(r), "manual.newuidmap-privilege") {
		t.Errorf("idmap: %s fixes %v, want idmap.newuidmap and manual.newuidmap-privilege\n%s", r.Summary, fixes.FixIDs(r), dump(r))
	}
	if fi, err := os.Stat(real); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("the host's %s lost its setuid bit: %v", real, err)
	}
}

// With slirp4netns hidden (a PATH without it, and without pasta), auto falls back to the
// in-process gvisor-tap-vsock driver and the proof passes.
func TestProveAutoFallsBackToGvisor(t *testing.T) {
	livetest.NeedRoot(t, tools...)
	livetest.Lock(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	t.Setenv("PATH", livetest.ToolDir(t, "newuidmap", "newgidmap", "nsenter", "ip", "getsubids"))
	res := run(t, proof.Options{User: user, Net: rootlesskit.NetAuto}, map[string]string{"/dev/net/tun": livetest.TunNode(t, 0o666)})
	by := check(t, res, cgroupWant(want{
		proof.StepUserNS: finding.Pass, proof.StepIDMap: finding.Pass, proof.StepMount: finding.Pass,
		proof.StepOverlay: finding.Pass, proof.StepNetwork: finding.Pass, proof.StepPort: finding.Pass,
	}))
	r := by[proof.StepNetwork]
	if got := evidence(r, "network driver"); got != "gvisor (auto)" {
		t.Errorf("network driver = %q, want gvisor (auto)\n%s", got, dump(r))
	}
	if !slices.ContainsFunc(r.Details, func(d string) bool { return strings.Contains(d, "slirp4netns: not installed") }) {
		t.Errorf("the result does not say why slirp4netns was passed over:\n%s", dump(r))
	}
}

// An explicit --net slirp4netns that is not installed fails the network step (net.driver,
// install slirp4netns) and still proves the rest.
func TestProveSlirp4netnsMissing(t *testing.T) {
	livetest.NeedRoot(t, tools...)
	livetest.Lock(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	t.Setenv("PATH", livetest.ToolDir(t, "newuidmap", "newgidmap", "nsenter", "ip", "getsubids"))
	res := run(t, proof.Options{User: user, Net: rootlesskit.NetSlirp4netns}, map[string]string{"/dev/net/tun": livetest.TunNode(t, 0o666)})
	by := check(t, res, cgroupWant(want{
		proof.StepUserNS: finding.Pass, proof.StepIDMap: finding.Pass, proof.StepMount: finding.Pass,
		proof.StepOverlay: finding.Pass, proof.StepNetwork: finding.Fail, proof.StepPort: finding.Skip,
	}))
	r := by[proof.StepNetwork]
	if !strings.Contains(r.Summary, "net.driver") || !slices.Contains(fixes.FixIDs(r), "package.slirp4netns") {
		t.Errorf("network: %s fixes %v, want net.driver and package.slirp4netns\n%s", r.Summary, fixes.FixIDs(r), dump(r))
	}
}

// user.max_user_namespaces=0: root here lacks CAP_SYS_RESOURCE, but user.* sysctls belong to
// the user namespace, so a helper runs in an identity-mapped child user namespace, sets it to 0
// there (as root of that namespace, with every capability in it) and runs the proof from
// inside. The host's own value is untouched.
func TestProveMaxUserNamespacesZero(t *testing.T) {
	livetest.NeedRoot(t, tools...)
	livetest.Lock(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	before, _ := os.ReadFile("/proc/sys/user/max_user_namespaces")

	cmd := exec.Command(os.Args[0], helperArg, user, "max_user_namespaces=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 4294967295}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 4294967295}},
		GidMappingsEnableSetgroups: true,
		Pdeathsig:                  syscall.SIGKILL,
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	var res []finding.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper output: %v\n%s\n%s", err, out, stderr.String())
	}
	by := check(t, res, cgroupWant(want{
		proof.StepUserNS: finding.Fail, proof.StepIDMap: finding.Skip, proof.StepMount: finding.Skip,
		proof.StepOverlay: finding.Skip, proof.StepNetwork: finding.Skip, proof.StepPort: finding.Skip,
	}))
	r := by[proof.StepUserNS]
	if !strings.Contains(r.Summary, "userns.max") || !slices.Contains(fixes.FixIDs(r), "sysctl.user.max_user_namespaces") {
		t.Errorf("userns: %s fixes %v, want userns.max and sysctl.user.max_user_namespaces\n%s", r.Summary, fixes.FixIDs(r), dump(r))
	}
	if !slices.ContainsFunc(r.Details, func(d string) bool { return strings.Contains(d, "no space left on device") }) {
		t.Errorf("the original ENOSPC is not in the details:\n%s", dump(r))
	}
	if after, _ := os.ReadFile("/proc/sys/user/max_user_namespaces"); string(after) != string(before) {
		t.Fatalf("the host's max_user_namespaces changed: %q → %q", before, after)
	}
}

// helperMain runs in the identity-mapped user namespace: ARGS are USER and the staging.
func helperMain(args []string) int {
	if len(args) > 1 && args[1] == "max_user_namespaces=0" {
		if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0); err != nil {
			fmt.Fprintln(os.Stderr, "setting max_user_namespaces in the child user namespace:", err)
			return 2
		}
	}
	res, err := proof.Run(context.Background(), proof.Options{User: args[0]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	b, _ := json.Marshal(res)
	os.Stdout.Write(b)
	return 0
}

// A proof stopped by its timeout reports it, and leaves no process, state dir or mount.
func TestProveTimeout(t *testing.T) {
	livetest.NeedRoot(t, tools...)
	livetest.Lock(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	for _, timeout := range []time.Duration{time.Millisecond, 25 * time.Millisecond} {
		t.Run(timeout.String(), func(t *testing.T) {
			res := run(t, proof.Options{User: user, Timeout: timeout}, map[string]string{"/dev/net/tun": livetest.TunNode(t, 0o666)})
			failed := 0
			for _, r := range res {
				t.Logf("%-16s %-4s %s", r.ID, r.Status, r.Summary)
				if r.Status == finding.Fail {
					failed++
					if !strings.Contains(r.Summary, "did not finish") {
						t.Errorf("%s: %s, want the timeout named", r.ID, r.Summary)
					}
				}
			}
			if failed != 1 {
				t.Errorf("%d failed steps, want exactly the one the timeout stopped", failed)
			}
			if procs := livetest.Processes(t, user); len(procs) > 0 {
				t.Errorf("processes left after the timeout: %v", procs)
			}
		})
	}
}

func TestProveAsRootWithoutUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	res, err := proof.Run(context.Background(), proof.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != finding.Skip || !strings.Contains(r.Summary, "--user") {
			t.Errorf("%s = %s (%s), want skip naming --user", r.ID, r.Status, r.Summary)
		}
	}
}

func TestProveBadOptions(t *testing.T) {
	if _, err := proof.Run(context.Background(), proof.Options{Net: "vpnkit"}); err == nil {
		t.Error("--net vpnkit: no error")
	}
	if _, err := proof.Run(context.Background(), proof.Options{User: "no-such-user-rdoctor"}); err == nil {
		t.Error("unknown user: no error")
	}
}

// BenchmarkProve times the whole proof (auto network) for a throwaway account.
func BenchmarkProve(b *testing.B) {
	livetest.NeedRoot(b, append(tools, "slirp4netns")...)
	livetest.Lock(b)
	user := livetest.User(b, true)
	tun := map[string]string{"/dev/net/tun": livetest.TunNode(b, 0o666)}
	for _, net := range []string{rootlesskit.NetAuto, rootlesskit.NetGvisor, rootlesskit.NetNone} {
		b.Run(net, func(b *testing.B) {
			livetest.InMountNamespace(b, tun, func() {
				for b.Loop() {
					res, err := proof.Run(context.Background(), proof.Options{User: user, Net: net})
					if err != nil {
						b.Error(err)
						return
					}
					for _, r := range res {
						if r.Status == finding.Fail {
							b.Errorf("%s failed: %s", r.ID, r.Summary)
							return
						}
					}
				}
			})
		})
	}
}
