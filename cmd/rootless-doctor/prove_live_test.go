package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// Live tests of `prove` through the real binary, as root, for a throwaway account. The tun
// device the account sees is staged in a private mount namespace (`unshare --mount` plus a bind
// mount of a device node of the wanted mode over /dev/net/tun): the host's device keeps its mode.

type proveResult struct {
	ID       string   `json:"id"`
	Status   string   `json:"status"`
	Summary  string   `json:"summary"`
	Details  []string `json:"details"`
	Fixes    []string `json:"fixes"`
	Evidence []struct {
		Source string `json:"source"`
		Value  string `json:"value"`
	} `json:"evidence"`
}

type proveReport struct {
	Schema  string        `json:"schema"`
	Results []proveResult `json:"results"`
	OK      bool          `json:"ok"`
}

func runProve(t *testing.T, bin, tunNode string, args ...string) (proveReport, int, string) {
	return runProveAs(t, nil, bin, tunNode, args...)
}

// runProveAs runs prove behind prefix (e.g. runuser -u ACCOUNT --) in a private mount namespace
// where tunNode is bound over /dev/net/tun.
func runProveAs(t *testing.T, prefix []string, bin, tunNode string, args ...string) (proveReport, int, string) {
	t.Helper()
	var rep proveReport
	argv := append(append(append([]string{}, prefix...), bin, "prove", "-o", "json"), args...)
	code, stderr := runInPrivateMountNS(t, fmt.Sprintf("mount --bind %q /dev/net/tun\n", tunNode), argv, &rep)
	return rep, code, stderr
}

func TestLiveProve(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "newuidmap", "nsenter", "ip", "slirp4netns", "go")
	bin := buildBinary(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)

	rep, code, stderr := runProve(t, bin, livetest.TunNode(t, 0o666), "--user", user)
	if code != 0 || !rep.OK || rep.Schema != "rootless-doctor/v1" {
		t.Errorf("healthy host: exit %d ok %v schema %q\n%+v", code, rep.OK, rep.Schema, rep.Results)
	}
	if stderr != "" {
		t.Errorf("prove printed on stderr (rootlesskit's log must be captured): %s", stderr)
	}
	var ids []string
	for _, r := range rep.Results {
		ids = append(ids, r.ID)
		if r.Status == "fail" || r.Status == "warn" {
			t.Errorf("healthy host: %s = %s (%s)", r.ID, r.Status, r.Summary)
		}
	}
	want := []string{"runtime.userns", "runtime.idmap", "runtime.mount", "runtime.overlay", "runtime.network", "runtime.port", "runtime.cgroup"}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}

	// As the account itself, with a login session's runtime dir and an ordinary user's PATH
	// (no /usr/sbin, where Debian keeps ip): the state dir goes under XDG_RUNTIME_DIR and is
	// removed (NoLeftovers looks there too).
	runDir := runDirFor(t, user)
	asUser := []string{"runuser", "-u", user, "--", "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/" + user, "XDG_RUNTIME_DIR=" + runDir}
	rep, code, stderr = runProveAs(t, asUser, bin, livetest.TunNode(t, 0o666))
	if code != 0 || !rep.OK {
		t.Errorf("as the account: exit %d ok %v\n%+v\n%s", code, rep.OK, rep.Results, stderr)
	}
	usedRunDir := false
	for _, r := range rep.Results {
		for _, e := range r.Evidence {
			usedRunDir = usedRunDir || strings.HasPrefix(e.Source, runDir+"/rootless-doctor-proof-")
		}
	}
	if !usedRunDir {
		t.Errorf("the state dir was not under XDG_RUNTIME_DIR=%s: %+v", runDir, rep.Results)
	}
	if entries, _ := os.ReadDir(runDir); len(entries) != 0 {
		t.Errorf("%s is not empty after the proof: %v", runDir, entries)
	}

	rep, code, _ = runProve(t, bin, livetest.TunNode(t, 0o600), "--user", user)
	if code != 1 || rep.OK {
		t.Errorf("tun 0600: exit %d ok %v, want exit 1", code, rep.OK)
	}
	for _, r := range rep.Results {
		if r.ID == "runtime.network" && (r.Status != "fail" || !slices.Contains(r.Fixes, "device.tun")) {
			t.Errorf("tun 0600: runtime.network = %s %v (%s), want fail with device.tun", r.Status, r.Fixes, r.Summary)
		}
	}
}

// TestLiveProveGvisorHelper: rootless-doctor does not link the gvisor-tap-vsock network
// (issue 16); its proof hands the parent role to rootless-doctor-gvisor beside it, for --net
// gvisor and for auto's last resort, and says what is missing when the helper is not there.
func TestLiveProveGvisorHelper(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "newuidmap", "nsenter", "ip", "go")
	bin := buildBinary(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	tun := livetest.TunNode(t, 0o666)
	driver := func(rep proveReport) string {
		for _, r := range rep.Results {
			for _, e := range r.Evidence {
				if r.ID == "runtime.network" && e.Source == "network driver" {
					return e.Value
				}
			}
		}
		return ""
	}

	rep, code, stderr := runProve(t, bin, tun, "--user", user, "--net", "gvisor")
	if code != 0 || !rep.OK || driver(rep) != "gvisor" {
		t.Errorf("--net gvisor: exit %d ok %v driver %q\n%+v\n%s", code, rep.OK, driver(rep), rep.Results, stderr)
	}
	// auto, with neither slirp4netns nor pasta on PATH.
	path := livetest.ToolDir(t, "newuidmap", "newgidmap", "nsenter", "ip", "getsubids")
	rep, code, stderr = runProveAs(t, []string{"env", "PATH=" + path}, bin, tun, "--user", user)
	if code != 0 || !rep.OK || driver(rep) != "gvisor (auto)" {
		t.Errorf("auto without slirp4netns and pasta: exit %d ok %v driver %q\n%+v\n%s", code, rep.OK, driver(rep), rep.Results, stderr)
	}

	// rootless-doctor alone: --net gvisor is refused, naming the helper; auto's network step
	// fails saying why.
	alone := filepath.Join(filepath.Dir(filepath.Dir(bin)), "alone")
	if err := os.MkdirAll(alone, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(alone) })
	if out, err := exec.Command("cp", bin, alone+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	cmd := exec.Command(filepath.Join(alone, "rootless-doctor"), "prove", "--user", user, "--net", "gvisor")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "rootless-doctor-gvisor, which is not installed beside this binary") {
		t.Errorf("--net gvisor without the helper: %v\n%s", err, out)
	}
	rep, code, _ = runProveAs(t, []string{"env", "PATH=" + path}, filepath.Join(alone, "rootless-doctor"), tun, "--user", user)
	for _, r := range rep.Results {
		if r.ID == "runtime.network" && (r.Status != "fail" || !strings.Contains(strings.Join(r.Details, "\n"), "rootless-doctor-gvisor, which is not installed beside this binary")) {
			t.Errorf("auto without any driver: exit %d, runtime.network %+v", code, r)
		}
	}
}
