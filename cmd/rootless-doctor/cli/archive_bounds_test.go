package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
	"github.com/rootless-doctor/rootless-doctor/snapshot"
)

// runChild runs the command line in a child process (TestMain) and returns its exit code,
// stderr and peak RSS.
func runChild(t *testing.T, args ...string) (code int, stderr string, rss int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "RD_CLI_MAIN=1", "NO_COLOR=1")
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	rss, err := hostile.RunMeasured(cmd)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, errb.String(), rss
}

// TestArchiveBombsAreBounded: archives whose names, link targets or manifest the memory caps
// did not count (1.2–3.1 MB of gzip took 1.33–4.29 GB), and a gzip stream of gigabytes the
// reader skipped through. Each must be refused with exit 2, with its RSS bounded.
func TestArchiveBombsAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("makes archives of hundreds of megabytes uncompressed")
	}
	// What an accepted snapshot costs, measured the same way: the bound is relative to it.
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.tar.gz")
	if err := snapshot.WriteArchive(filepath.Join("..", "..", "..", "fixtures", "debian-12-ok"), ok); err != nil {
		t.Fatal(err)
	}
	code, stderr, base := runChild(t, "check", "--root", ok)
	if code == ExitError {
		t.Fatalf("a fixture's archive: exit %d: %s", code, stderr)
	}
	// The budget (64 MiB kept), the manifest and its decoding, gzip and tar buffers.
	limit := base + 192<<20
	start := time.Now()
	for _, c := range []struct {
		name string
		gen  func(io.Writer) error
		want string
	}{
		{"1 MB symlink targets", func(w io.Writer) error { return hostile.ArchiveSymlinks(w, 100, 1_000_000) }, "a target of 1000000 bytes"},
		{"4 KB symlink targets", func(w io.Writer) error { return hostile.ArchiveSymlinks(w, 25_000, 4000) }, "recorded host over its memory budget"},
		{"long names", func(w io.Writer) error { return hostile.ArchiveLongNames(w, 25_000, 4000) }, "recorded host over its memory budget"},
		{"a million commands", func(w io.Writer) error { return hostile.ArchiveManifest(w, hostile.ManifestCommands(1_000_000)) }, "commands: more than"},
		{"4 GiB of a skipped entry", func(w io.Writer) error { return hostile.ArchiveStreamBomb(w, 'Z', 4<<30) }, "decompressed"},
		{"4 GiB regular file", func(w io.Writer) error { return hostile.ArchiveStreamBomb(w, '0', 4<<30) }, "decompressed"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".tar.gz")
		if err := hostile.WriteArchive(p, c.gen); err != nil {
			t.Fatal(err)
		}
		code, stderr, rss := runChild(t, "check", "--root", p)
		if code != ExitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", c.name, code, stderr, c.want)
		}
		if rss > limit {
			t.Errorf("%s: peak RSS %d MB, over %d MB (an accepted snapshot: %d MB)", c.name, rss>>20, limit>>20, base>>20)
		}
		t.Logf("%s: exit %d, peak RSS %d MB (%s)", c.name, code, rss>>20, time.Since(start))
		os.Remove(p)
	}
}
