// Package hostile makes hostile inputs for the tests of docs/bounded-inputs.md: archive bombs,
// deep trees, huge manifests. They are generated when a test runs, from a few numbers, so no
// multi-megabyte file is committed; testdata/hostile/*.txtar (make stress) and the package
// tests call the same generators. It also measures what a child process cost (MaxRSS).
package hostile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Manifest is the smallest manifest a recorded host accepts.
const Manifest = `{"version": 1, "kernel": "6.1.0", "self": {"uid": 1000, "gid": 1000, "name": "alice"}}` + "\n"

// tarGz writes a gzipped tar whose entries fill calls; gzip.BestSpeed keeps the making of a
// multi-hundred-megabyte stream to a second or two.
func tarGz(w io.Writer, fill func(*tar.Writer) error) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := fill(tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func writeFile(tw *tar.Writer, name, body string) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := io.WriteString(tw, body)
	return err
}

// ArchiveSymlinks is a snapshot archive with n symlinks whose targets are targetLen bytes
// (PAX records carry up to 1 MiB): 1.2–3.1 MB of gzip that took 1.33–4.29 GB before the
// targets were counted.
func ArchiveSymlinks(w io.Writer, n, targetLen int) error {
	target := "/" + strings.Repeat("t", targetLen-1)
	return tarGz(w, func(tw *tar.Writer) error {
		if err := writeFile(tw, "manifest.json", Manifest); err != nil {
			return err
		}
		for i := range n {
			hdr := &tar.Header{Name: fmt.Sprintf("l/%d", i), Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777, Format: tar.FormatPAX}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		return nil
	})
}

// ArchiveLongNames is a snapshot archive with n empty files whose names are about nameLen
// bytes: the names alone are what the tree keeps.
func ArchiveLongNames(w io.Writer, n, nameLen int) error {
	return tarGz(w, func(tw *tar.Writer) error {
		if err := writeFile(tw, "manifest.json", Manifest); err != nil {
			return err
		}
		pad := strings.Repeat("n", max(nameLen-12, 1))
		for i := range n {
			if err := writeFile(tw, fmt.Sprintf("d/%s%010d", pad, i), ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// ManifestCommands is a manifest with n recorded commands (a million took 478 MB).
func ManifestCommands(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"version": 1, "commands": [`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"argv":["a"]}`)
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// ArchiveManifest is a snapshot archive holding only manifest.
func ArchiveManifest(w io.Writer, manifest []byte) error {
	return tarGz(w, func(tw *tar.Writer) error { return writeFile(tw, "manifest.json", string(manifest)) })
}

// ArchiveStreamBomb is a snapshot archive with one entry of type typeflag holding size bytes
// of zeros, made of concatenated gzip members (gzip.Reader reads them as one stream, RFC 1952
// §2.2) so that making it takes no time: each member holds 1 MiB of zeros in about a
// kilobyte. An entry of a type the reader skips ('Z', unknown) is still decompressed to be
// skipped: before the stream was capped, gigabytes of it cost the time of gunzipping them.
func ArchiveStreamBomb(w io.Writer, typeflag byte, size int64) error {
	const chunk = 1 << 20
	member := func(data []byte) ([]byte, error) {
		var b bytes.Buffer
		zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(data); err != nil {
			return nil, err
		}
		err = zw.Close()
		return b.Bytes(), err
	}
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	if err := writeFile(tw, "manifest.json", Manifest); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: size, Typeflag: typeflag}); err != nil {
		return err
	}
	tw.Flush()
	first, err := member(head.Bytes())
	if err != nil {
		return err
	}
	zeros, err := member(make([]byte, chunk))
	if err != nil {
		return err
	}
	if _, err := w.Write(first); err != nil {
		return err
	}
	for left := size; left > 0; left -= chunk {
		m := zeros
		if left < chunk {
			if m, err = member(make([]byte, left)); err != nil {
				return err
			}
		}
		if _, err := w.Write(m); err != nil {
			return err
		}
	}
	// Padding to the block and the two zero blocks that end a tar.
	pad := (512-size%512)%512 + 1024
	last, err := member(make([]byte, pad))
	if err != nil {
		return err
	}
	_, err = w.Write(last)
	return err
}

// ArchiveNonUTF8 is a snapshot archive with an entry whose name is not UTF-8.
func ArchiveNonUTF8(w io.Writer) error {
	return tarGz(w, func(tw *tar.Writer) error {
		if err := writeFile(tw, "manifest.json", Manifest); err != nil {
			return err
		}
		return writeFile(tw, "etc/\xff\xfe", "x")
	})
}

// WriteArchive makes an archive at p with gen.
func WriteArchive(p string, gen func(io.Writer) error) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if err := gen(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// DeepTree makes a recorded host at dir whose directories nest depth deep, each name nameLen
// bytes (3,000 × 250 took 1.14 GB when every directory kept its full path). Paths that deep
// are longer than PATH_MAX, so each level is made relative to the one above.
func DeepTree(dir string, depth, nameLen int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(Manifest), 0o644); err != nil {
		return err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	name := strings.Repeat("d", nameLen)
	for range depth {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return err
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return err
		}
		fd = next
	}
	return unix.Close(fd)
}

// PeakRSSEnv names the file a child process measured with RunMeasured writes its peak RSS to.
const PeakRSSEnv = "HOSTILE_PEAK_RSS_FILE"

// WritePeakRSS writes the process's peak resident set (VmHWM of /proc/self/status, in bytes)
// to the file PeakRSSEnv names, if it names one. A child started for RunMeasured calls it as
// it exits. Not getrusage's ru_maxrss: exec keeps the high-water mark of the process it
// replaced (exec_mmap's setmax_mm_hiwater_rss), and a child of a test process starts as a
// copy of the whole test process.
func WritePeakRSS() {
	out := os.Getenv(PeakRSSEnv)
	if out == "" {
		return
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			_ = os.WriteFile(out, []byte(strings.TrimSpace(v)), 0o644)
		}
	}
}

// RunMeasured runs cmd, a child that calls WritePeakRSS as it exits, and returns its peak
// RSS in bytes and how it ended.
func RunMeasured(cmd *exec.Cmd) (int64, error) {
	f, err := os.CreateTemp("", "peak-rss")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, PeakRSSEnv+"="+f.Name())
	runErr := cmd.Run()
	data, err := os.ReadFile(f.Name())
	if err != nil || len(data) == 0 {
		return 0, errors.Join(runErr, fmt.Errorf("the child did not report its peak RSS: %v", err))
	}
	var kb int64
	if _, err := fmt.Sscanf(string(data), "%d kB", &kb); err != nil {
		return 0, errors.Join(runErr, fmt.Errorf("peak RSS %q: %w", data, err))
	}
	return kb << 10, runErr
}

// Within fails t if fn has not returned after limit. It is for tests of waits that used to
// last for ever (a FIFO, a silent bus, a helper holding a pipe), not a timing: limit is far
// above what fn takes.
func Within(t testing.TB, what string, limit time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s: still running after %s", what, limit)
	}
}

// Gone fails t if process pid is still running a few seconds from now (a zombie waiting for
// init counts as gone), and kills it then.
func Gone(t testing.TB, pid int) {
	t.Helper()
	for range 50 {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return // reaped
		}
		// The state follows the ")" that ends the command name.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	unix.Kill(pid, unix.SIGKILL)
	t.Errorf("process %d is still running", pid)
}

// PidFrom reads the pid a shell script wrote to p.
func PidFrom(t testing.TB, p string) int {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("no pid in %s: %v", p, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
