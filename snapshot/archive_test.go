package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

type tarEntry struct{ name, body, link string }

func writeTestTar(t *testing.T, p string, entries []tarEntry) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.link != "" {
			hdr = &tar.Header{Name: e.name, Mode: 0o777, Typeflag: tar.TypeSymlink, Linkname: e.link}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestArchiveEntryNames: a non-UTF-8 name was reported as "leaves the tree".
func TestArchiveEntryNames(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.tar.gz")
	if err := hostile.WriteArchive(p, hostile.ArchiveNonUTF8); err != nil {
		t.Fatal(err)
	}
	_, err := OpenArchive(p)
	if !errors.Is(err, host.ErrBadName) || !strings.Contains(err.Error(), "not UTF-8") || strings.Contains(err.Error(), "leaves the tree") {
		t.Errorf("a non-UTF-8 name: %v", err)
	}
	writeTestTar(t, p, []tarEntry{{name: "manifest.json", body: hostile.Manifest}, {name: "../etc/passwd", body: "x"}})
	if _, err := OpenArchive(p); err == nil || !strings.Contains(err.Error(), "leaves the tree") {
		t.Errorf("an entry outside the tree: %v", err)
	}
	writeTestTar(t, p, []tarEntry{{name: "manifest.json", body: hostile.Manifest}, {name: "etc", body: "x"}, {name: "etc/passwd", body: "x"}})
	if _, err := OpenArchive(p); !errors.Is(err, host.ErrBadName) {
		t.Errorf("an entry under a file: %v", err)
	}
	writeTestTar(t, p, []tarEntry{{name: "manifest.json", body: hostile.Manifest}, {name: "l", link: "/" + strings.Repeat("x", host.MaxPathLen)}})
	if _, err := OpenArchive(p); !errors.Is(err, host.ErrBadName) {
		t.Errorf("a link target over PATH_MAX: %v", err)
	}
}

func TestOpenArchiveRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	for name, entries := range map[string][]tarEntry{
		"abs.tar.gz":    {{name: "/etc/passwd", body: "x"}, {name: host.ManifestName, body: `{"version":1}`}},
		"dotdot.tar.gz": {{name: "../../x", body: "x"}, {name: host.ManifestName, body: `{"version":1}`}},
		"none.tar.gz":   {{name: "etc/passwd", body: "x"}},
	} {
		p := filepath.Join(dir, name)
		writeTestTar(t, p, entries)
		if _, err := OpenArchive(p); err == nil {
			t.Errorf("%s: opened, want an error", name)
		}
	}
	// A symlink pointing out of the tree resolves inside it.
	p := filepath.Join(dir, "link.tar.gz")
	writeTestTar(t, p, []tarEntry{{name: "etc/shadow", link: "/../../../../etc/shadow"}, {name: host.ManifestName, body: `{"version":1}`}})
	h, err := OpenArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := h.ReadFile("/etc/shadow"); err == nil {
		t.Errorf("read %q through an escaping link", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc")); err == nil {
		t.Error("opening an archive wrote to disk")
	}
}
