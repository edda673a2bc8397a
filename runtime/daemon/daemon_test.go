package daemon

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindEngine(t *testing.T) {
	SbinDirs = []string{t.TempDir()}
	t.Cleanup(func() { SbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} })
	dir := t.TempDir()
	for _, name := range []string{"containerd", "buildkitd"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	got, err := FindEngine(nil)
	if err != nil || len(got) != 1 || got[0] != filepath.Join(dir, "containerd") {
		t.Errorf("FindEngine(nil) = %v, %v; want containerd (no dockerd on PATH)", got, err)
	}
	got, err = FindEngine([]string{"buildkitd", "--oci-worker=true"})
	if err != nil || len(got) != 2 || got[0] != filepath.Join(dir, "buildkitd") || got[1] != "--oci-worker=true" {
		t.Errorf("FindEngine(buildkitd …) = %v, %v", got, err)
	}
	if _, err := FindEngine([]string{"no-such-engine"}); err == nil {
		t.Error("a missing engine was accepted")
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindEngine(nil); err == nil || !strings.Contains(err.Error(), "dockerd, containerd, buildkitd") {
		t.Errorf("no engine on PATH: %v", err)
	}
}

// Issue 12, problem 3: docker.io installs dockerd in /usr/sbin, off an account's PATH, and
// containerd (its dependency) in /usr/bin: the engine the user installed is dockerd.
func TestFindEngineSbin(t *testing.T) {
	bin, sbin := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(bin, "containerd"), filepath.Join(sbin, "dockerd")} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	SbinDirs = []string{filepath.Join(sbin, "missing"), sbin}
	t.Cleanup(func() { SbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} })
	t.Setenv("PATH", bin)
	if got, err := FindEngine(nil); err != nil || len(got) != 1 || got[0] != filepath.Join(sbin, "dockerd") {
		t.Errorf("FindEngine(nil) = %v, %v; want the dockerd of the sbin directory", got, err)
	}
	if got, err := FindEngine([]string{"dockerd", "--debug"}); err != nil || len(got) != 2 || got[0] != filepath.Join(sbin, "dockerd") {
		t.Errorf("FindEngine(dockerd --debug) = %v, %v", got, err)
	}
	if _, err := FindEngine([]string{"buildkitd"}); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("a missing engine: %v, want exec.ErrNotFound", err)
	}
}

func TestStateDir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "")
	if _, err := StateDir(); err == nil || !strings.Contains(err.Error(), "XDG_RUNTIME_DIR is not set") {
		t.Errorf("unset: %v", err)
	}
	t.Setenv("XDG_RUNTIME_DIR", "relative/dir")
	if _, err := StateDir(); err == nil {
		t.Error("a relative XDG_RUNTIME_DIR was accepted")
	}
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(t.TempDir(), "missing"))
	if _, err := StateDir(); err == nil {
		t.Error("a missing XDG_RUNTIME_DIR was accepted")
	}
	rd := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rd)
	if d, err := StateDir(); err != nil || d != filepath.Join(rd, "rootless-doctor") {
		t.Errorf("StateDir() = %q, %v", d, err)
	}
}

func TestExecRefuses(t *testing.T) {
	if os.Geteuid() == 0 {
		if err := Exec(Options{Engine: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "root") {
			t.Errorf("as root: %v, want a refusal", err)
		}
		return
	}
	if err := Exec(Options{Net: "vpnkit", Engine: []string{"true"}}); err == nil {
		t.Error("--net vpnkit was accepted")
	}
}

// The daemon's state dir must be a private directory of the running user: a symlink planted at
// $XDG_RUNTIME_DIR/rootless-doctor used to be followed, and rootlesskit's InitStateDir emptied
// its target (issue 10). The parent role runs in a child process (the test binary, see
// TestDaemonParentRole) with a network driver that cannot start, so it stops right after the
// state dir; the target must keep its files and the refusal must be exit 2.
func TestStateDirRefusesSymlinkAndForeignDirs(t *testing.T) {
	victim := t.TempDir()
	if err := os.WriteFile(filepath.Join(victim, "precious"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Each case stages $XDG_RUNTIME_DIR/rootless-doctor and returns the file that must keep
	// its content.
	foreignDir := func(mode os.FileMode, uid int) func(string) string {
		return func(rd string) string {
			d := filepath.Join(rd, StateDirName)
			os.Mkdir(d, mode)
			os.Chmod(d, mode)
			os.WriteFile(filepath.Join(d, "precious"), []byte("keep"), 0o600)
			if uid >= 0 {
				os.Chown(d, uid, uid)
			}
			return filepath.Join(d, "precious")
		}
	}
	cases := map[string]func(rd string) string{
		"symlink": func(rd string) string {
			os.Symlink(victim, filepath.Join(rd, StateDirName))
			return filepath.Join(victim, "precious")
		},
		"mode 0755": foreignDir(0o755, -1),
		"a file": func(rd string) string {
			os.WriteFile(filepath.Join(rd, StateDirName), []byte("keep"), 0o600)
			return filepath.Join(rd, StateDirName)
		},
	}
	if os.Geteuid() == 0 {
		cases["another owner"] = foreignDir(0o700, 4242)
	}
	for name, stage := range cases {
		t.Run(name, func(t *testing.T) {
			rd := t.TempDir()
			keep := stage(rd)
			cmd := exec.Command(os.Args[0], "-test.run=^TestDaemonParentRole$")
			cmd.Env = []string{"RD_DAEMON_PARENT_ROLE=1", "XDG_RUNTIME_DIR=" + rd, "PATH=" + t.TempDir()}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("exit %v, want 2\n%s", err, out)
			}
			if !strings.Contains(string(out), "refusing") {
				t.Errorf("no clear refusal:\n%s", out)
			}
			if b, err := os.ReadFile(keep); string(b) != "keep" {
				t.Errorf("%s was emptied or changed: %q %v", keep, b, err)
			}
		})
	}
	// A missing state dir is made 0700, and an existing private one is used.
	rd := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rd)
	for range 2 {
		d, err := PrepareStateDir()
		if err != nil || d != filepath.Join(rd, StateDirName) {
			t.Fatalf("PrepareStateDir() = %q, %v", d, err)
		}
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("state dir: %v %v", fi, err)
		}
	}
}

// TestDaemonParentRole is the parent role of the test above, in its own process. slirp4netns
// is not on its PATH, so it ends right after preparing the state dir.
func TestDaemonParentRole(t *testing.T) {
	if os.Getenv("RD_DAEMON_PARENT_ROLE") == "" {
		t.Skip("runs only as the child process of TestStateDirRefusesSymlinkAndForeignDirs")
	}
	os.Exit(parentMain([]string{"slirp4netns", "/bin/true"}))
}
