package host

import (
	"errors"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

func TestTreeBuilderCountsEveryByte(t *testing.T) {
	lim := Limits{Entries: 1000, Bytes: 1 << 20, Depth: 8}
	// Names alone: 300 entries of 4000-byte names are 1.2 MB.
	b := NewTreeBuilder(lim)
	var err error
	for i := 0; i < 300 && err == nil; i++ {
		err = b.File(strings.Repeat("n", 4000-len(itoa(i)))+itoa(i), 0o644, strings.NewReader(""), 0)
	}
	if !errors.Is(err, ErrBudget) {
		t.Errorf("long names: %v, want ErrBudget", err)
	}
	// Link targets alone.
	b = NewTreeBuilder(lim)
	err = nil
	for i := 0; i < 300 && err == nil; i++ {
		err = b.Symlink("l"+itoa(i), "/"+strings.Repeat("t", 4000))
	}
	if !errors.Is(err, ErrBudget) {
		t.Errorf("long link targets: %v, want ErrBudget", err)
	}
	if b.Used() > lim.Bytes {
		t.Errorf("the builder kept %d bytes, over its %d", b.Used(), lim.Bytes)
	}
	// Entries alone.
	b = NewTreeBuilder(Limits{Entries: 10, Bytes: 1 << 20, Depth: 8})
	err = nil
	for i := 0; i < 20 && err == nil; i++ {
		err = b.Dir("d"+itoa(i), 0o755)
	}
	if !errors.Is(err, ErrBudget) {
		t.Errorf("entries: %v, want ErrBudget", err)
	}

	b = NewTreeBuilder(lim)
	for name, c := range map[string]struct {
		err error
		fn  func() error
	}{
		"link target over PATH_MAX": {ErrBadName, func() error { return b.Symlink("x", strings.Repeat("t", MaxPathLen+1)) }},
		"not UTF-8":                 {ErrBadName, func() error { return b.Dir("\xff", 0o755) }},
		"not clean":                 {ErrBadName, func() error { return b.Dir("a/../b", 0o755) }},
		"too deep":                  {ErrBudget, func() error { return b.Dir("1/2/3/4/5/6/7/8/9", 0o755) }},
		"under a file": {ErrBadName, func() error {
			if err := b.File("f", 0o644, strings.NewReader(""), 0); err != nil {
				return err
			}
			return b.Dir("f/d", 0o755)
		}},
		"twice": {ErrBadName, func() error {
			if err := b.Symlink("s", "t"); err != nil {
				return err
			}
			return b.Symlink("s", "t")
		}},
	} {
		if err := c.fn(); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", name, err, c.err)
		}
	}
}

func TestTreeBuilderHost(t *testing.T) {
	b := NewTreeBuilder(Limits{Entries: 100, Bytes: 1 << 20, Depth: 8})
	for _, err := range []error{
		b.File(ManifestName, 0o644, strings.NewReader(hostile.Manifest), int64(len(hostile.Manifest))),
		b.File("etc/subuid", 0o644, strings.NewReader("alice:100000:65536\n"), 19),
		b.Symlink("etc/link", "subuid"),
		b.Dir("etc", 0o700), // after its children: takes the mode, no second entry
		b.File("big", 0o644, nil, MaxRead+1),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := b.Host("test")
	if err != nil {
		t.Fatal(err)
	}
	if data, err := h.ReadFile("/etc/link"); err != nil || string(data) != "alice:100000:65536\n" {
		t.Errorf("ReadFile(/etc/link) = %q, %v", data, err)
	}
	if fi, err := h.Stat("/etc"); err != nil || fi.Mode != fs.ModeDir|0o700 {
		t.Errorf("Stat(/etc) = %+v, %v", fi, err)
	}
	if _, err := h.ReadFile("/big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile(/big) = %v, want ErrTooLarge", err)
	}
	if _, err := NewTreeBuilder(Limits{Entries: 10, Bytes: 1 << 20}).Host("empty"); err == nil {
		t.Error("a tree without a manifest must be refused")
	}
}

// TestLoadTreeOfADeepTree: 3,000 nested directories of 250-character names took 1.14 GB,
// every directory keeping its full path. LoadTree now stops at its limits and reads such a
// tree through os.Root, keeping nothing of it.
func TestLoadTreeOfADeepTree(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 3,000 nested directories")
	}
	dir := filepath.Join(t.TempDir(), "deep")
	if err := hostile.DeepTree(dir, 3000, 250); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h, err := LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if kept := int64(after.HeapAlloc) - int64(before.HeapAlloc); kept > loadLimits.Bytes {
		t.Errorf("the loaded tree keeps %d MB, over LoadTree's %d MB", kept>>20, loadLimits.Bytes>>20)
	}
	if h.KernelRelease() != "6.1.0" {
		t.Errorf("manifest not read: %q", h.KernelRelease())
	}
	deep := "/" + strings.TrimSuffix(strings.Repeat(strings.Repeat("d", 250)+"/", 10), "/")
	if fi, err := h.Stat(deep); err != nil || !fi.IsDir() {
		t.Errorf("Stat of a directory 10 deep: %+v, %v", fi, err)
	}
	runtime.KeepAlive(h)
}
