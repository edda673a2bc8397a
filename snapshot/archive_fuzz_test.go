package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

// FuzzOpenArchive: any tar stream (gzipped here, so the fuzzer mutates the tar itself) opens
// as a recorded host within archiveLimits or is refused with an error, never a panic; an
// opened host answers reads without leaving its tree. Seeds: a fixture's archive and the
// hostile shapes of testdata/fuzz/FuzzOpenArchive. Seeds stay a few blocks long: the fuzzer
// minimizes every new input, byte by byte, and a whole fixture's archive stalls it.
func FuzzOpenArchive(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.tar.gz")
	if err := hostile.WriteArchive(p, smallSnapshot); err == nil {
		if data, err := gunzip(p); err == nil {
			f.Add(data)
		}
	}
	for _, gen := range []func(io.Writer) error{
		hostile.ArchiveNonUTF8,
		func(w io.Writer) error { return hostile.ArchiveSymlinks(w, 2, 5000) },
	} {
		if err := hostile.WriteArchive(p, gen); err == nil {
			if data, err := gunzip(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, tarData []byte) {
		p := filepath.Join(t.TempDir(), "f.tar.gz")
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(tarData)
		zw.Close()
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := OpenArchive(p)
		if err != nil {
			return
		}
		if h.Live() {
			t.Fatal("an archive opened as the live host")
		}
		for _, q := range []string{"/etc/subuid", "/etc/os-release", "/etc/passwd", "/" + host.ManifestName, "/../../etc/subuid"} {
			data, err := h.ReadFile(q)
			if err == nil && len(data) > host.MaxRead {
				t.Fatalf("ReadFile(%s) returned %d bytes, over MaxRead", q, len(data))
			}
			if _, err := h.Stat(q); err != nil && !errors.Is(err, fs.ErrNotExist) {
				var pe *fs.PathError
				if !errors.As(err, &pe) {
					t.Fatalf("Stat(%s): %v is not a path error", q, err)
				}
			}
		}
		if ents, err := h.ReadDir("/"); err == nil && len(ents) > host.MaxDirEntries {
			t.Fatalf("ReadDir(/) listed %d entries", len(ents))
		}
	})
}

func gunzip(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// smallSnapshot is a snapshot archive of a few entries: a manifest with metadata, a file,
// a directory and a symlink, as snapshot -o x.tar.gz writes them.
func smallSnapshot(w io.Writer) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, h := range []struct {
		hdr  tar.Header
		body string
	}{
		{tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Mode: 0o644}, `{"version":1,"kernel":"6.1.0","self":{"uid":1000,"gid":1000,"name":"alice"},"files":{"/dev/net/tun":{"type":"char","major":10,"minor":200}}}`},
		{tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, ""},
		{tar.Header{Name: "etc/subuid", Typeflag: tar.TypeReg, Mode: 0o644}, "alice:100000:65536\n"},
		{tar.Header{Name: "etc/os-release", Typeflag: tar.TypeSymlink, Linkname: "../usr/lib/os-release"}, ""},
	} {
		h.hdr.Size = int64(len(h.body))
		if err := tw.WriteHeader(&h.hdr); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, h.body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
