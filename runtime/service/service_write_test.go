package service

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/runtime/service/fakesystemd"
)

// Install writes the unit under a new random name (O_EXCL|O_NOFOLLOW) and renames it into
// place: a symlink planted at the old fixed temporary name (UNIT.tmp) is not followed, and one
// at the unit's own name is replaced, not written through (docs/security.md, "Files"; issue
// 10).
func TestInstallDoesNotFollowPlantedNames(t *testing.T) {
	addr := fakesystemd.StartBus(t)
	fakesystemd.Start(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	path := UnitPath(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpTarget := filepath.Join(t.TempDir(), "tmp-target")
	unitTarget := filepath.Join(t.TempDir(), "unit-target")
	for _, p := range []string{tmpTarget, unitTarget} {
		os.WriteFile(p, []byte("keep\n"), 0o600)
	}
	os.Symlink(tmpTarget, path+".tmp")
	os.Symlink(unitTarget, path)
	spec := Spec{Exe: "/usr/local/bin/rootless-doctor", Net: "auto", Engine: []string{"/usr/sbin/dockerd"}, Path: "/usr/bin:/bin"}
	if err := Install(ctx, c, path, spec); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tmpTarget, unitTarget} {
		if b, _ := os.ReadFile(p); string(b) != "keep\n" {
			t.Errorf("a planted symlink was followed: %s now holds %q", p, b)
		}
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Errorf("unit: %v %v, want a regular 0644 file", fi, err)
	}
	if err := Uninstall(ctx, c, path); err != nil {
		t.Fatal(err)
	}
}
