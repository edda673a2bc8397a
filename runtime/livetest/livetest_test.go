package livetest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLockRefusesALink: the live-test lock is a fixed name in /tmp, where any account may
// plant a symlink; root's O_CREAT open followed it and created the file it points to (on a
// machine with fs.protected_symlinks 0, like this one). It must refuse the link and create
// nothing.
func TestLockRefusesALink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "nologin")
	old := lockPath
	t.Cleanup(func() { lockPath = old })
	lockPath = filepath.Join(dir, "rootless-doctor-live-test.lock")
	if err := os.Symlink(target, lockPath); err != nil {
		t.Fatal(err)
	}
	if release, err := lockFile(); err == nil {
		release()
		t.Error("the lock was taken through a symlink")
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link's target was created: %v", err)
	}
	// A lock file of another account is refused too.
	if os.Geteuid() == 0 {
		os.Remove(lockPath)
		if err := os.WriteFile(lockPath, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(lockPath, 4000002, 4000002); err != nil {
			t.Fatal(err)
		}
		if release, err := lockFile(); err == nil {
			release()
			t.Error("the lock was taken on another account's file")
		}
	}
	os.Remove(lockPath)
	release, err := lockFile()
	if err != nil {
		t.Fatalf("a fresh lock: %v", err)
	}
	release()
}

// TestRemoveLeftover: a proof state dir the account left is removed through descriptors: a
// link inside is unlinked, not followed; a parent swapped for a link is not followed; a
// directory that is no longer the account's is left alone.
func TestRemoveLeftover(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (chown)")
	}
	const uid = 4000002
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "rootless-doctor-proof-x"), 0o700); err != nil {
		t.Fatal(err)
	}
	canary := filepath.Join(outside, "canary")
	if err := os.WriteFile(canary, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	acct := filepath.Join(base, "acct")
	d := filepath.Join(acct, "rootless-doctor-proof-x")
	if err := os.MkdirAll(filepath.Join(d, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{acct, d, filepath.Join(d, "sub")} {
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(d, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	if err := removeLeftover(d, uid); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state dir is still there: %v", err)
	}
	if _, err := os.Stat(canary); err != nil {
		t.Errorf("a link inside was followed: %v", err)
	}
	// The account swaps its directory for a link to root's: nothing there is removed.
	if err := os.Remove(acct); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, acct); err != nil {
		t.Fatal(err)
	}
	if err := removeLeftover(d, uid); !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("through a swapped parent: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "rootless-doctor-proof-x")); err != nil {
		t.Errorf("root's directory was removed through the account's link: %v", err)
	}
	// Not the account's: left alone.
	if err := removeLeftover(filepath.Join(outside, "rootless-doctor-proof-x"), uid); err == nil {
		t.Error("a directory of root's was removed as the account's")
	}
}
