package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f.conf")
	if err := WriteAtomic(p, []byte("one\n"), 0o640, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(p, []byte("two\n"), 0o644, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(data) != "two\n" || fi.Mode().Perm() != 0o644 {
		t.Errorf("content %q mode %o", data, fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestWriteAtomicKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("old\n"), 0o600)
	os.Chown(p, 4242, 4343)
	if err := WriteAtomic(p, []byte("new\n"), 0o644, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	s := st.Sys().(*syscall.Stat_t)
	if s.Uid != 4242 || s.Gid != 4343 {
		t.Errorf("owner %d:%d, want 4242:4343", s.Uid, s.Gid)
	}
}

func TestBackupAndDiscard(t *testing.T) {
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	os.MkdirAll(etc, 0o755)
	a, b := filepath.Join(etc, "a"), filepath.Join(etc, "b")
	os.WriteFile(a, []byte("A\n"), 0o644)
	os.WriteFile(b, []byte("B\n"), 0o600)
	root := filepath.Join(dir, "backups")
	r := &Root{BackupRoot: root, Now: func() time.Time { return time.Date(2026, 11, 22, 6, 15, 0, 0, time.UTC) }}
	if got, err := r.Backup(filepath.Join(etc, "missing")); got != "" || err != nil {
		t.Errorf("missing file: %q %v", got, err)
	}
	ba, err := r.Backup(a)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "20261122T061500Z", a); ba != want {
		t.Errorf("backup at %s, want %s", ba, want)
	}
	bb, _ := r.Backup(b)
	fi, _ := os.Stat(bb)
	if data, _ := os.ReadFile(bb); string(data) != "B\n" || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup of b: %q %o", data, fi.Mode().Perm())
	}
	// A second backup of a in the same run keeps the first copy (the original).
	os.WriteFile(a, []byte("A2\n"), 0o644)
	if again, _ := r.Backup(a); again != ba {
		t.Errorf("second backup at %s", again)
	}
	if data, _ := os.ReadFile(ba); string(data) != "A\n" {
		t.Errorf("the original was overwritten: %q", data)
	}
	// Discarding once (one of two users) keeps it; both discards remove it.
	r.Discard(ba)
	if _, err := os.Stat(ba); err != nil {
		t.Errorf("discarded while still needed: %v", err)
	}
	r.Discard(ba)
	if _, err := os.Stat(ba); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("not discarded: %v", err)
	}
	r.Discard(bb)
	// Nothing kept: the run's directory is gone too.
	if _, err := os.Stat(filepath.Join(root, "20261122T061500Z")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty backup directory left: %v", err)
	}
	if err := r.Discard("/etc/passwd"); err == nil {
		t.Error("discarding outside the backup directory must fail")
	}
	// A run in the same second gets its own directory.
	r1 := &Root{BackupRoot: root, Now: r.Now}
	r2 := &Root{BackupRoot: root, Now: r.Now}
	b1, _ := r1.Backup(a)
	b2, _ := r2.Backup(a)
	if b1 == b2 || !strings.Contains(b2, "20261122T061500Z-2") {
		t.Errorf("runs share a directory: %s %s", b1, b2)
	}
}

func TestRun(t *testing.T) {
	r := &Root{}
	out, err := r.Run(context.Background(), "echo hi; echo err >&2")
	if err != nil || out != "hi\nerr\n" {
		t.Errorf("%q %v", out, err)
	}
	if _, err := r.Run(context.Background(), "exit 3"); err == nil {
		t.Error("exit 3 is an error")
	}
}

func TestReadFile(t *testing.T) {
	r := &Root{}
	p := filepath.Join(t.TempDir(), "f")
	if _, _, err := r.ReadFile(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	os.WriteFile(p, []byte("x"), 0o640)
	os.Chmod(p, 0o640)
	if c, m, err := r.ReadFile(p); string(c) != "x" || m != 0o640 || err != nil {
		t.Errorf("%q %o %v", c, m, err)
	}
	if _, _, err := r.ReadFile(filepath.Dir(p)); err == nil {
		t.Error("a directory is not a file")
	}
}

// TestKilledWriteLeavesOldOrNew kills a process at random moments while it rewrites a file
// over and over, alternating between two contents, and checks that the file is always one
// of them in full, never partial or empty. The process is this test binary, re-executed.
func TestKilledWriteLeavesOldOrNew(t *testing.T) {
	if os.Getenv("RD_WRITE_LOOP") != "" {
		writeLoop(os.Getenv("RD_WRITE_LOOP"))
		return
	}
	p := filepath.Join(t.TempDir(), "subuid")
	old := strings.Repeat("alice:100000:65536\n", 20000)
	upd := strings.Repeat("bob:300000:65536\n", 25000)
	if err := os.WriteFile(p, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriteLeavesOldOrNew$")
		cmd.Env = append(os.Environ(), "RD_WRITE_LOOP="+p)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5+i*3) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(data); s != old && s != upd {
			t.Fatalf("kill %d: the file is neither old nor new (%d bytes)", i, len(data))
		}
	}
}

func writeLoop(p string) {
	old := strings.Repeat("alice:100000:65536\n", 20000)
	upd := strings.Repeat("bob:300000:65536\n", 25000)
	for i := 0; ; i++ {
		c := old
		if i%2 == 0 {
			c = upd
		}
		if err := WriteAtomic(p, []byte(c), 0o644, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func TestHookBeforeRename(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("old\n"), 0o644)
	var seen string
	WriteAtomic(p, []byte("new\n"), 0o644, func(point string) {
		seen = point
		// At the hook, the new content is complete in the temporary file and the target
		// still holds the old one.
		if data, _ := os.ReadFile(p); !bytes.Equal(data, []byte("old\n")) {
			t.Errorf("target changed before the rename: %q", data)
		}
	})
	if seen != "rename "+p {
		t.Errorf("hook point %q", seen)
	}
}

func TestWriteAtomicRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "60-x.rules")
	stale := filepath.Join(dir, ".60-x.rules.rootless-doctor-tmp12345")
	other := filepath.Join(dir, ".other.rootless-doctor-tmp1")
	os.WriteFile(stale, []byte("half"), 0o600)
	os.WriteFile(other, []byte("x"), 0o600)
	if err := WriteAtomic(p, []byte("new\n"), 0o644, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file left: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's temporary file was removed: %v", err)
	}
}

// Discard removes only a backup this run made: a path that climbs out of the backup
// directory with ".." passed the old prefix check and was removed (issue 10).
func TestDiscardRefusesOtherPaths(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "etc", "a")
	os.MkdirAll(filepath.Dir(src), 0o755)
	os.WriteFile(src, []byte("A\n"), 0o644)
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	r := &Root{BackupRoot: filepath.Join(dir, "bk")}
	bk, err := r.Backup(src)
	if err != nil {
		t.Fatal(err)
	}
	base := r.BackupDir()
	rel, _ := filepath.Rel(base, victim)
	for _, p := range []string{base + "/" + rel, base + "/etc/../../../victim", victim, base + "/not-a-backup"} {
		if err := r.Discard(p); err == nil {
			t.Errorf("Discard(%q) was accepted", p)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("Discard removed a file outside the run's backups: %q", b)
	}
	if err := r.Discard(bk); err != nil {
		t.Errorf("Discard of the run's own backup: %v", err)
	}
}

// TestReadAndBackupAreBounded: the applier's reads of the files it changes follow the rules
// of every read (docs/bounded-inputs.md): a file over host.MaxRead is refused, not read whole
// (before, ReadFile and Backup read any size into memory), and a FIFO is refused without
// blocking; Backup keeps the modification time of the file it read.
func TestReadAndBackupAreBounded(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(host.MaxRead + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := &Root{BackupRoot: filepath.Join(dir, "backups")}
	if _, _, err := r.ReadFile(big); !errors.Is(err, host.ErrTooLarge) {
		t.Errorf("ReadFile of %d bytes: %v, want ErrTooLarge", host.MaxRead+1, err)
	}
	if _, err := r.Backup(big); !errors.Is(err, host.ErrTooLarge) {
		t.Errorf("Backup of %d bytes: %v, want ErrTooLarge", host.MaxRead+1, err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := r.ReadFile(fifo); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, host.ErrNotRegular) {
			t.Errorf("ReadFile of a FIFO: %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFile of a FIFO blocked")
	}
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("s\n"), 0o644)
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(small, old, old)
	b, err := r.Backup(small)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(b); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("backup's time: %v %v, want %v", fi.ModTime(), err, old)
	}
}
