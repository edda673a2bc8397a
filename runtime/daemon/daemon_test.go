package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindEngine(t *testing.T) {
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
