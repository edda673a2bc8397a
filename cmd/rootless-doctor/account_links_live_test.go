package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLiveRootReadsAccountLinks: an account plants symlinks at the configuration files root
// reads for it (~/.config/containers/storage.conf, ~/.config/docker/daemon.json) pointing to
// files only root can read. `check --user` and `snapshot --user` (a tree and a .tar.gz), run
// by root, must not reveal their content: the finding says the file is a symlink the account
// cannot read (issue 10: root read it, and its graphroot became evidence). A link to a file of
// the account's own (a dotfiles directory) is still followed.
func TestLiveRootReadsAccountLinks(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "runuser", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	home := "/home/" + user
	secret := fmt.Sprintf("CANARY-%d-root-only", os.Getpid())
	canaryDir, err := os.MkdirTemp("", "rdoctor-canary-") // root's, 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(canaryDir) })
	toml := filepath.Join(canaryDir, "storage.conf")
	js := filepath.Join(canaryDir, "daemon.json")
	for p, content := range map[string]string{
		toml: fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = \"/%s\"\n", secret),
		js:   fmt.Sprintf(`{"data-root": "/%s"}`+"\n", secret),
	} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	asUser := func(script string) {
		t.Helper()
		if out, err := exec.Command("runuser", "-u", user, "--", "sh", "-ec", script).CombinedOutput(); err != nil {
			t.Fatalf("as %s: %v\n%s", user, err, out)
		}
	}
	asUser(fmt.Sprintf(`cd %s
mkdir -p .config/containers .config/docker dotfiles
ln -s %s .config/containers/storage.conf
printf '{"data-root": "%s/docker-data"}\n' >dotfiles/daemon.json
ln -s ../../dotfiles/daemon.json .config/docker/daemon.json
`, home, toml, home))

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatal(err)
			}
		}
		return out.String()
	}
	out := run("check", "--static", "--user", user, "--only", "storage", "-o", "json")
	if strings.Contains(out, secret) {
		t.Errorf("check --user revealed the root-only file:\n%s", out)
	}
	if !strings.Contains(out, "it is a symlink to "+toml) || !strings.Contains(out, "permission denied") {
		t.Errorf("check --user does not say the configuration is a link the account cannot read:\n%s", out)
	}
	if !strings.Contains(out, home+"/docker-data") {
		t.Errorf("the account's own link (dotfiles) was not followed:\n%s", out)
	}

	// Now the docker link too points at root's file.
	asUser(fmt.Sprintf("ln -sf %s %s/.config/docker/daemon.json", js, home))
	out = run("check", "--static", "--user", user, "--only", "storage", "-o", "text")
	if strings.Contains(out, secret) {
		t.Errorf("check --user revealed the root-only file:\n%s", out)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "host.tar.gz")
	tree := filepath.Join(dir, "tree")
	for _, o := range []string{archive, tree} {
		if out := run("snapshot", "--user", user, "-o", o); strings.Contains(out, secret) {
			t.Errorf("snapshot -o %s printed the root-only file:\n%s", o, out)
		}
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(secret)) {
		t.Errorf("the snapshot archive holds the root-only file")
	}
	err = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("the snapshot tree holds the root-only file at %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// What the account's engine would see is what root reports: the replay says the same.
	replay := run("check", "--root", tree, "--only", "storage", "-o", "json")
	if strings.Contains(replay, secret) || !strings.Contains(replay, "permission denied") {
		t.Errorf("the replay of the snapshot:\n%s", replay)
	}
}
