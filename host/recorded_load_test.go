package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadTree(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) { writeTree(t, dir, map[string]string{rel: data}) }
	write(ManifestName, `{"version":1,"files":{"/usr/bin/newuidmap":{"mode":"4755"}}}`)
	write("etc/subuid", "alice:100000:65536\n")
	write("usr/lib/os-release", "ID=debian\n")
	write("usr/bin/newuidmap", "")
	if err := os.Symlink("../usr/lib/os-release", filepath.Join(dir, "etc/os-release")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/../../../../etc/hostname", filepath.Join(dir, "etc/escape")); err != nil {
		t.Fatal(err)
	}
	h, err := LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.fsys.(*memFS); !ok {
		t.Fatalf("a small tree must be loaded into memory, got %T", h.fsys)
	}
	if data, err := h.ReadFile("/etc/os-release"); err != nil || string(data) != "ID=debian\n" {
		t.Errorf("through a relative link: %q, %v", data, err)
	}
	if _, err := h.ReadFile("/etc/escape"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an escaping link must stay in the tree: %v", err)
	}
	if fi, err := h.Stat("/usr/bin/newuidmap"); err != nil || fi.Mode&fs.ModeSetuid == 0 {
		t.Errorf("manifest mode: %+v, %v", fi, err)
	}
	ents, err := h.ReadDir("/")
	if err != nil || len(ents) != 2 || ents[0].Name() != "etc" || ents[1].Name() != "usr" {
		t.Errorf("ReadDir(/) = %v, %v (sorted, without the manifest)", ents, err)
	}
	if p, err := h.EvalSymlinks("/etc/os-release"); err != nil || p != "/usr/lib/os-release" {
		t.Errorf("EvalSymlinks = %q, %v", p, err)
	}

	// A file over the read limit is kept as its size alone: ErrTooLarge as on a live host.
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxRead+1); err != nil {
		t.Fatal(err)
	}
	h, err = LoadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mem, ok := h.fsys.(*memFS); !ok || len(mem.files["big"].data) != 0 {
		t.Error("a file over the limit must be kept as its size, without its content")
	}
	if _, err := h.ReadFile("/big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big file: %v", err)
	}
	if fi, err := h.Stat("/big"); err != nil || fi.Size != MaxRead+1 {
		t.Errorf("big file: Stat = %+v, %v", fi, err)
	}
	if _, err := LoadTree(filepath.Join(dir, "nope")); err == nil {
		t.Error("a missing tree must be an error")
	}
}
