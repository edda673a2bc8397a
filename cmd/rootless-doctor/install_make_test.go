package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstall: `make install` with PREFIX and DESTDIR puts the binary, one man page per
// command (generated from the cobra tree) and the completion scripts where packagers expect
// them, and nothing outside DESTDIR; bash loads the completion it installed.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds the binary and the man pages (skipped with -short)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("skipping: make is not installed")
	}
	stage, work := t.TempDir(), t.TempDir()
	cmd := exec.Command("make", "-C", filepath.Join("..", ".."), "install", "PREFIX=/usr", "DESTDIR="+stage,
		"BIN="+filepath.Join(work, "rootless-doctor"), "MANOUT="+filepath.Join(work, "man"))
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, f := range []string{"usr/bin/rootless-doctor", "usr/share/man/man1/rootless-doctor.1", "usr/share/man/man1/rootless-doctor-check.1",
		"usr/share/man/man1/rootless-doctor-prove.1", "usr/share/man/man1/rootless-doctor-explain.1", "usr/share/man/man1/rootless-doctor-version.1",
		"usr/share/man/man1/rootless-doctor-completion.1",
		"usr/share/bash-completion/completions/rootless-doctor", "usr/share/zsh/site-functions/_rootless-doctor",
		"usr/share/fish/vendor_completions.d/rootless-doctor.fish"} {
		fi, err := os.Stat(filepath.Join(stage, f))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(stage, "usr/share/man/man1/rootless-doctor-check.1"))
	for _, want := range []string{`.TH "ROOTLESS-DOCTOR" "1" "Jan 1970"`, "--ignore", "--report", "--timeout"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("rootless-doctor-check.1 lacks %q", want)
		}
	}
	if _, err := exec.LookPath("bash"); err == nil {
		out, err := exec.Command("bash", "-c", "source \"$1\" && complete -p rootless-doctor", "bash",
			filepath.Join(stage, "usr/share/bash-completion/completions/rootless-doctor")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "rootless-doctor") {
			t.Errorf("bash cannot load the completion: %v\n%s", err, out)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		out, err := exec.Command("man", "-l", filepath.Join(stage, "usr/share/man/man1/rootless-doctor.1")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "rootless-doctor") {
			t.Errorf("man -l: %v\n%s", err, out)
		}
	}
}
