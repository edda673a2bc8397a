package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// A network helper that hangs (issue 15): slirp4netns that answers --version and --help but
// never signals ready. Before, the proof ran into its time limit and reported
// "✗ runtime.userns the proof did not finish in time", every later step "not reached", and
// "run rootless-doctor fix", which has no step for it. Now the driver is stopped after a third
// of --timeout and blamed; the other steps are proven without a network namespace.

// fakeHangingSlirp writes a slirp4netns into a directory every account can search, to be put
// first on PATH: --version and --help are the real one's; anything else sleeps.
func fakeHangingSlirp(t *testing.T) string {
	t.Helper()
	real, err := exec.LookPath("slirp4netns")
	if err != nil {
		t.Skip("live test: slirp4netns is not installed")
	}
	dir := livetest.ToolDir(t)
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in --version|--help|-h) exec %s \"$@\";; esac\nexec sleep 600\n", real)
	if err := os.WriteFile(filepath.Join(dir, "slirp4netns"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type hangResult struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	Summary string   `json:"summary"`
	Fixes   []string `json:"fixes"`
}

func TestLiveHungNetworkDriver(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "newuidmap", "nsenter", "ip", "slirp4netns", "go")
	bin := buildBinary(t)
	user := livetest.User(t, true)
	livetest.NoLeftovers(t, user)
	fake := fakeHangingSlirp(t)
	setup := fmt.Sprintf("mount --bind %q /dev/net/tun\nexport PATH=%q:$PATH\n", livetest.TunNode(t, 0o666), fake)

	for _, cmd := range []string{"prove", "check"} {
		t.Run(cmd, func(t *testing.T) {
			var rep struct {
				Results []hangResult `json:"results"`
				OK      bool         `json:"ok"`
			}
			start := time.Now()
			code, stderr := runInPrivateMountNS(t, setup, []string{bin, cmd, "--user", user, "--timeout", "6s", "-o", "json"}, &rep)
			took := time.Since(start)
			if code != 1 || rep.OK {
				t.Errorf("exit %d ok %v, want 1 and false; stderr: %s", code, rep.OK, stderr)
			}
			if took > 8*time.Second {
				t.Errorf("took %s with --timeout 6s", took)
			}
			want := map[string]string{"runtime.userns": "pass", "runtime.idmap": "pass", "runtime.mount": "pass",
				"runtime.overlay": "pass", "runtime.network": "fail", "runtime.port": "skip"}
			for _, r := range rep.Results {
				w, ok := want[r.ID]
				if !ok {
					continue
				}
				delete(want, r.ID)
				if r.Status != w {
					t.Errorf("%s = %s (%s), want %s", r.ID, r.Status, r.Summary, w)
				}
				if r.ID == "runtime.network" {
					if !strings.Contains(r.Summary, "hung") || !strings.Contains(r.Summary, "net.driver") || len(r.Fixes) != 0 {
						t.Errorf("runtime.network: %q fixes %v, want the hung driver blamed, net.driver named, no fix", r.Summary, r.Fixes)
					}
				}
			}
			if len(want) != 0 {
				t.Errorf("steps missing from the report: %v", want)
			}
		})
	}

	// The text report does not send people to `fix` for it, and on a terminal the steps show
	// as they end: the id maps are reported while the network driver still hangs.
	t.Run("text on a terminal", func(t *testing.T) {
		script := "set -e\n" + setup + "exec \"$@\"\n"
		c := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
			bin, "prove", "--user", user, "--timeout", "6s")
		c.Env = append(os.Environ(), "TERM=xterm", "NO_COLOR=1")
		f, err := pty.StartWithSize(c, &pty.Winsize{Rows: 40, Cols: 160})
		if err != nil {
			t.Fatalf("starting under a pty: %v", err)
		}
		defer f.Close()
		type chunk struct {
			at   time.Time
			data []byte
		}
		chunks := make(chan chunk, 1024)
		go func() {
			defer close(chunks)
			buf := make([]byte, 4096)
			for {
				n, err := f.Read(buf)
				if n > 0 {
					chunks <- chunk{time.Now(), append([]byte(nil), buf[:n]...)}
				}
				if err != nil {
					return
				}
			}
		}()
		var all bytes.Buffer
		var idmapAt, reportAt time.Time
		for ch := range chunks {
			all.Write(ch.data)
			if idmapAt.IsZero() && bytes.Contains(all.Bytes(), []byte("✓ runtime.idmap")) {
				idmapAt = ch.at
			}
			if reportAt.IsZero() && bytes.Contains(all.Bytes(), []byte("rootless-doctor on ")) {
				reportAt = ch.at
			}
		}
		_ = c.Wait()
		out := all.String()
		if idmapAt.IsZero() || reportAt.IsZero() || reportAt.Sub(idmapAt) < time.Second {
			t.Errorf("runtime.idmap was not shown well before the report (idmap at %v, report at %v):\n%q", idmapAt, reportAt, out)
		}
		if !strings.Contains(out, "runtime.network") || !strings.ContainsAny(out, "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
			t.Errorf("no spinner on the hanging step:\n%q", out)
		}
		// The report itself, after the progress was erased.
		report := out[strings.LastIndex(out, "rootless-doctor on "):]
		if strings.Contains(report, "rootless-doctor fix") || !strings.Contains(report, "explain runtime.network") {
			t.Errorf("the report's advice is wrong:\n%s", report)
		}
		for _, want := range []string{"✓ runtime.idmap", "✗ runtime.network", " ms "} {
			if !strings.Contains(report, want) {
				t.Errorf("report lacks %q:\n%s", want, report)
			}
		}
	})
}

// Piped, prove prints the report and nothing else: not one escape sequence of the progress.
func TestLiveProgressNotPiped(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "newuidmap", "nsenter", "ip", "go")
	bin := buildBinary(t)
	user := livetest.User(t, true)
	c := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		fmt.Sprintf("mount --bind %q /dev/net/tun\nexec \"$@\"\n", livetest.TunNode(t, 0o666)), "sh", bin, "prove", "--user", user, "--net", "gvisor")
	c.Env = append(os.Environ(), "TERM=xterm")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	_ = c.Run()
	if stderr.Len() != 0 || bytes.Contains(stdout.Bytes(), []byte("\x1b")) || !bytes.HasPrefix(stdout.Bytes(), []byte("rootless-doctor on ")) {
		t.Errorf("piped output is not the plain report:\nstdout %q\nstderr %q", stdout.String(), stderr.String())
	}
}
