package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// The engine matrix (issue 13 item 6): for each engine set-up Debian 12's packages give, the
// doctor's verdict (check --engine NAME: engine.NAME's "ready") and the engine's own answer
// (prove --engine NAME: the real engine runs a container) must agree both ways — no "ready"
// where the engine fails, no "not ready" where it works. Both run as root with --user for a
// throwaway account. The table is printed (go test -v, or on failure).

// engineCell is one cell of the matrix: what the doctor said and what the engine did.
type engineCell struct {
	Name         string
	Ready        bool
	Verdict      string // engine.NAME's summary
	EngineStatus finding.Status
	EngineSaid   string // runtime.engine.NAME's summary
}

func (c engineCell) agrees() bool {
	return c.Ready == (c.EngineStatus == finding.Pass)
}

// matrixResult is what the matrix reads of one JSON result (docs/cli.md).
type matrixResult struct {
	ID      string          `json:"id"`
	Status  finding.Status  `json:"status"`
	Summary string          `json:"summary"`
	Details []string        `json:"details"`
	Engine  *finding.Engine `json:"engine"`
}

// jsonResultsOf runs the doctor and returns its JSON results by id (the exit status is the
// verdict, read from the results instead).
func jsonResultsOf(t *testing.T, argv []string) map[string]matrixResult {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("%q: %v\n%s\n%s", argv, err, out, stderr.String())
	}
	var rep struct {
		Results []matrixResult `json:"results"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%q: %v\n%s\n%s", argv, err, out, stderr.String())
	}
	m := map[string]matrixResult{}
	for _, r := range rep.Results {
		m[r.ID] = r
	}
	return m
}

// stopPodmanPause stops the pause process rootless Podman leaves running for the account
// (catatonit -P, its pid in $XDG_RUNTIME_DIR/libpod/tmp/pause.pid): it is Podman's, started by
// this test, and must not outlive the account.
func stopPodmanPause(t *testing.T, user, runDir string) {
	b, err := os.ReadFile(filepath.Join(runDir, "libpod", "tmp", "pause.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	var st syscall.Stat_t
	if syscall.Stat(fmt.Sprintf("/proc/%d", pid), &st) != nil || int(st.Uid) != uidOf(t, user) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 300; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLiveEngineMatrix(t *testing.T) {
	needRoot(t, "useradd", "userdel", "unshare", "setpriv", "newuidmap", "newgidmap", "mount", "go")
	// Static, as `make build` makes it: the engine runs it in an empty root.
	bin := buildBinaryEnv(t, "CGO_ENABLED=0")
	user := livetest.User(t, true)
	runDir := runDirFor(t, user)
	livetest.NoLeftovers(t, user)
	t.Cleanup(func() { stopPodmanPause(t, user, runDir) })
	tun := livetest.TunNode(t, 0o666)

	// doctor runs the binary as root for the account; with tun, in a private mount namespace
	// where a 0666 tun node is bound over /dev/net/tun (the host's keeps its mode).
	doctor := func(withTun bool, args ...string) []string {
		argv := append([]string{bin}, args...)
		if !withTun {
			return argv
		}
		script := fmt.Sprintf("set -e\nmount --bind %q /dev/net/tun\nexec \"$@\"\n", tun)
		return append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"}, argv...)
	}
	var cells []engineCell
	measure := func(name, engine string, withTun bool) engineCell {
		t.Helper()
		v := jsonResultsOf(t, doctor(withTun, "check", "--user", user, "--static", "--engine", engine, "-o", "json"))["engine."+engine]
		if v.Engine == nil {
			t.Fatalf("%s: engine.%s has no engine fields: %+v", name, engine, v)
		}
		p := jsonResultsOf(t, doctor(withTun, "prove", "--user", user, "--engine", engine, "-o", "json"))["runtime.engine."+engine]
		c := engineCell{Name: name, Ready: v.Engine.Ready, Verdict: v.Summary, EngineStatus: p.Status, EngineSaid: p.Summary}
		if p.Status == finding.Fail {
			c.EngineSaid += " | " + strings.Join(p.Details, " | ")
		}
		cells = append(cells, c)
		return c
	}
	t.Cleanup(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "engine matrix on this host (doctor: check --engine; engine: prove --engine):\n")
		fmt.Fprintf(&b, "%-44s %-10s %-6s %-6s\n", "cell", "doctor", "engine", "agree")
		for _, c := range cells {
			ready := "not ready"
			if c.Ready {
				ready = "ready"
			}
			fmt.Fprintf(&b, "%-44s %-10s %-6s %-6t\n", c.Name, ready, c.EngineStatus, c.agrees())
			fmt.Fprintf(&b, "    doctor: %s\n    engine: %s\n", c.Verdict, finding.Clip(c.EngineSaid, 400))
		}
		t.Log(b.String())
	})
	check := func(c engineCell) {
		t.Helper()
		if c.EngineStatus == finding.Skip {
			t.Errorf("%s: the engine proof skipped: %s", c.Name, c.EngineSaid)
			return
		}
		if !c.agrees() {
			t.Errorf("%s: the doctor says ready=%t (%s) but the engine %s (%s)", c.Name, c.Ready, c.Verdict, c.EngineStatus, c.EngineSaid)
		}
	}

	if _, err := exec.LookPath("podman"); err != nil {
		t.Log("podman is not installed: no Podman cells (CI installs podman, crun, runc)")
	} else {
		before := measure("podman, default runtime", "podman", false)
		check(before)
		// The user-scope step, applied by fix --apply as the account. Where crun works
		// (cgroup v2) there is no step: runc is then set by the account itself, so the runc
		// cell is measured either way.
		dropIn := filepath.Join("/home", user, ".config", "containers", "containers.conf.d", "60-rootless-doctor.conf")
		if out, err := exec.Command(bin, "fix", "--apply", "--yes", "--user", user, "--static", "--only", "engine.podman").CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("fix --apply: %v\n%s", err, out)
			}
		}
		if _, err := os.Stat(dropIn); err != nil {
			if !before.Ready {
				t.Fatalf("podman was not ready, but fix --apply wrote no %s: %v", dropIn, err)
			}
			script := `mkdir -p "$HOME/.config/containers/containers.conf.d" && printf '[engine]\nruntime = "runc"\n' > "$HOME/.config/containers/containers.conf.d/60-rootless-doctor.conf"`
			if out, err := exec.Command("setpriv", "--reuid", user, "--regid", user, "--init-groups", "env", "HOME=/home/"+user, "sh", "-c", script).CombinedOutput(); err != nil {
				t.Fatalf("writing the runc drop-in as %s: %v\n%s", user, err, out)
			}
		} else if fi, _ := os.Stat(dropIn); fi != nil && int(fi.Sys().(*syscall.Stat_t).Uid) != uidOf(t, user) {
			t.Errorf("fix --apply wrote %s as uid %d, not as %s", dropIn, fi.Sys().(*syscall.Stat_t).Uid, user)
		}
		after := measure("podman, runtime = runc (user drop-in)", "podman", false)
		check(after)
		if !before.Ready && !after.Ready {
			t.Errorf("after fix --apply the verdict did not flip: %s", after.Verdict)
		}
		if before.EngineStatus != finding.Pass && after.EngineStatus != finding.Pass {
			t.Errorf("after fix --apply podman still fails: %s", after.EngineSaid)
		}
		// A netavark network backend where netavark is not installed (Debian's podman does not
		// depend on it): every podman run stops, and the doctor must say so
		// (docs/failures/catalogue.json#podman-netavark-missing). Measured where netavark is
		// absent; a host that has it has no such cell.
		if p := netavarkBinary(); p != "" {
			t.Logf("netavark is installed (%s): no cell for a netavark backend without it", p)
		} else {
			nv := filepath.Join(filepath.Dir(dropIn), "61-netavark-backend.conf")
			script := `printf '[network]\nnetwork_backend = "netavark"\n' > "$HOME/.config/containers/containers.conf.d/61-netavark-backend.conf"`
			if out, err := exec.Command("setpriv", "--reuid", user, "--regid", user, "--init-groups", "env", "HOME=/home/"+user, "sh", "-c", script).CombinedOutput(); err != nil {
				t.Fatalf("writing %s as %s: %v\n%s", nv, user, err, out)
			}
			c := measure("podman, netavark backend, no netavark", "podman", false)
			check(c)
			if c.Ready || !strings.Contains(c.EngineSaid, "netavark") {
				t.Errorf("a netavark backend without netavark: the doctor says ready=%t (%s), the engine %s (%s)", c.Ready, c.Verdict, c.EngineStatus, c.EngineSaid)
			}
			if err := os.Remove(nv); err != nil {
				t.Fatal(err)
			}
		}
		stopPodmanPause(t, user, runDir)
	}

	missing := ""
	for _, tool := range []string{"dockerd", "docker", "slirp4netns"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = tool
		}
	}
	if missing != "" {
		t.Logf("%s is not installed: no Docker cells (CI installs docker.io and rootlesskit)", missing)
	} else {
		check(measure("docker, rootless-doctor daemon, host tun", "docker", false))
		check(measure("docker, rootless-doctor daemon, tun 0666", "docker", true))
	}
	if _, err := exec.LookPath("nerdctl"); err != nil {
		t.Log("nerdctl: not packaged for Debian 12 (containerd is, nerdctl is not); no nerdctl cell")
	}
}

// netavarkBinary is netavark where Podman looks for it by default (the helper dirs of
// containers/common, not $PATH), "" when it is in none of them.
func netavarkBinary() string {
	for _, d := range []string{"/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman"} {
		if _, err := os.Stat(filepath.Join(d, "netavark")); err == nil {
			return filepath.Join(d, "netavark")
		}
	}
	return ""
}
