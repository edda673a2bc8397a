package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// Live integration tests: run the real binary as root on this machine for a throwaway account
// with subordinate ids, stage breakages that are undone by construction, and check that the
// right probe reports them. Staged files live in a private mount namespace (`unshare --mount`
// plus a bind mount over /etc/subuid), so the machine's own files are never edited; the account
// is removed afterwards. They skip, saying why, where they cannot run.

type liveResult struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Summary string `json:"summary"`
}

type liveReport struct {
	Schema  string       `json:"schema"`
	Results []liveResult `json:"results"`
	OK      bool         `json:"ok"`
}

func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("live integration test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("live integration test: needs root to create a throwaway account")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("live integration test: %s is not installed", tool)
		}
	}
	// go test runs packages in parallel, and other packages' live tests run useradd on this
	// machine: one live test at a time, or "the host's /etc/subuid is unchanged" races them.
	livetest.Lock(t)
}

// buildBinary builds rootless-doctor into a directory every account can read.
func buildBinary(t *testing.T) string {
	t.Helper()
	return buildBinaryEnv(t)
}

// buildBinaryEnv is buildBinary with more environment for go build (CGO_ENABLED=0).
func buildBinaryEnv(t *testing.T, env ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rdoctor-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Both binaries, as `make install` installs them: the gvisor-tap-vsock network runs in
	// the helper beside rootless-doctor.
	cmd := exec.Command("go", "build", "-o", dir+"/", ".", "../rootless-doctor-gvisor")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "rootless-doctor")
}

// throwawayUser creates an account with a home and one 65,536-id subordinate range, and
// removes it (home, subordinate ids and all) when the test ends — even when useradd or the
// test fails half-way: the cleanup is registered first (issue 10: a failed run left
// rdtNNNN:100000:65536 in /etc/subuid).
func throwawayUser(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("rdt%d", os.Getpid()%100000)
	livetest.RemoveAccountAtEnd(t, name)
	if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	// useradd allocates subordinate ids itself on most distributions; make sure of one range.
	if !hasLine(t, "/etc/subuid", name+":") || !hasLine(t, "/etc/subgid", name+":") {
		out, err := exec.Command("usermod", "--add-subuids", "3000000000-3000065535", "--add-subgids", "3000000000-3000065535", name).CombinedOutput()
		if err != nil {
			t.Fatalf("usermod --add-subuids: %v\n%s", err, out)
		}
	}
	return name
}

func hasLine(t *testing.T, path, prefix string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// runCheck runs `check --static -o json ARGS` and decodes the report. stage, when not empty,
// maps a system file to replacement content bind-mounted over it in a private mount namespace.
func runCheck(t *testing.T, bin string, stage map[string]string, args ...string) (liveReport, int) {
	t.Helper()
	var script strings.Builder
	dir := t.TempDir()
	i := 0
	for target, content := range stage {
		src := filepath.Join(dir, fmt.Sprintf("staged%d", i))
		i++
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&script, "mount --bind %q %q\n", src, target)
	}
	var rep liveReport
	code, _ := runInPrivateMountNS(t, script.String(), append([]string{bin, "check", "--static", "-o", "json"}, args...), &rep)
	return rep, code
}

// runInPrivateMountNS runs argv in a private mount namespace (`unshare --mount`) after the
// shell lines of setup (bind mounts that stage a breakage), decodes its stdout as JSON into out
// and returns the exit code and stderr. Nothing staged reaches the host's mount table.
func runInPrivateMountNS(t *testing.T, setup string, argv []string, out any) (int, string) {
	t.Helper()
	script := "set -e\n" + setup + "exec \"$@\"\n"
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh"}, argv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v\n%s", argv, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("decoding the report of %v (exit %d): %v\nstdout: %s\nstderr: %s", argv, code, err, stdout.String(), stderr.String())
	}
	return code, stderr.String()
}

func statusOf(t *testing.T, rep liveReport, id string) liveResult {
	t.Helper()
	for _, r := range rep.Results {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s", id)
	return liveResult{}
}

func TestLiveCheckOnBehalf(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	subuid, _ := os.ReadFile("/etc/subuid")
	subgid, _ := os.ReadFile("/etc/subgid")

	rep, _ := runCheck(t, bin, nil, "--user", user)
	if rep.Schema != "rootless-doctor/v1" {
		t.Fatalf("schema = %q", rep.Schema)
	}
	for _, id := range []string{"identity.user", "idmap.subuid", "idmap.subgid"} {
		if r := statusOf(t, rep, id); r.Status != "pass" {
			t.Errorf("healthy account: %s = %s (%s)", id, r.Status, r.Summary)
		}
	}

	without := dropLines(string(subuid), user+":")
	otherStart := firstStartOfOther(string(subuid), user)
	tests := []struct {
		name   string
		stage  map[string]string
		id     string
		status string
	}{
		{"no subuid line", map[string]string{"/etc/subuid": without}, "idmap.subuid", "fail"},
		{"no subgid line", map[string]string{"/etc/subgid": dropLines(string(subgid), user+":")}, "idmap.subgid", "fail"},
		{"a range of 1,000 ids", map[string]string{"/etc/subuid": without + user + ":3100000000:1000\n"}, "idmap.subuid", "fail"},
		// A range shared with another account warns (issue 14): the engines run, their
		// containers share ids.
		{"overlapping range", map[string]string{"/etc/subuid": without + "rdtother:3200000000:65536\n" + user + ":3200000000:65536\n"}, "idmap.subuid", "warn"},
	}
	if otherStart != "" {
		tests = append(tests, struct {
			name   string
			stage  map[string]string
			id     string
			status string
		}{"range of an existing account", map[string]string{"/etc/subuid": without + user + ":" + otherStart + ":65536\n"}, "idmap.subuid", "warn"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, code := runCheck(t, bin, tt.stage, "--user", user, "--only", "identity,idmap")
			if r := statusOf(t, rep, tt.id); r.Status != tt.status {
				t.Errorf("%s = %s (%s), want %s", tt.id, r.Status, r.Summary, tt.status)
			}
			if tt.status == "fail" && code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
		})
	}
	// The staged files were private: the real ones are untouched.
	if now, _ := os.ReadFile("/etc/subuid"); !bytes.Equal(now, subuid) {
		t.Fatal("/etc/subuid changed on the host")
	}
}

func TestLiveCheckAsTheAccount(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "runuser", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	run := func(env ...string) liveReport {
		t.Helper()
		args := append([]string{"-u", user, "--", "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/home/" + user}, env...)
		args = append(args, bin, "check", "--static", "-o", "json", "--only", "identity,session.xdg-runtime-dir")
		out, err := exec.Command("runuser", args...).Output()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		var rep liveReport
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("decoding: %v\n%s", err, out)
		}
		return rep
	}
	if r := statusOf(t, run(), "identity.user"); r.Status != "pass" {
		t.Errorf("identity.user as the account = %s (%s)", r.Status, r.Summary)
	}
	if r := statusOf(t, run(), "session.xdg-runtime-dir"); r.Status != "fail" {
		t.Errorf("XDG_RUNTIME_DIR unset: %s (%s), want fail", r.Status, r.Summary)
	}
	if r := statusOf(t, run("XDG_RUNTIME_DIR=/tmp"), "session.xdg-runtime-dir"); r.Status != "fail" {
		t.Errorf("XDG_RUNTIME_DIR=/tmp: %s (%s), want fail", r.Status, r.Summary)
	}
	runDir := runDirFor(t, user)
	if r := statusOf(t, run("XDG_RUNTIME_DIR="+runDir), "session.xdg-runtime-dir"); r.Status != "pass" {
		t.Errorf("XDG_RUNTIME_DIR=%s: %s (%s), want pass", runDir, r.Status, r.Summary)
	}
}

// runDirFor makes /run/user/UID (0700, owned by the account) as logind would, and removes it at
// the end. Without logind (CI, this machine) /run/user itself is made too, mode 0755 like
// logind's, and removed afterwards: MkdirAll would give it the leaf's 0700 and lock the account
// out of its own runtime dir.
func runDirFor(t *testing.T, user string) string {
	t.Helper()
	if _, err := os.Stat("/run/user"); os.IsNotExist(err) {
		if err := os.Mkdir("/run/user", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/user") })
	}
	runDir := filepath.Join("/run/user", fmt.Sprint(uidOf(t, user)))
	if err := os.Mkdir(runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	if out, err := exec.Command("chown", user+":", runDir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	return runDir
}

func uidOf(t *testing.T, user string) int {
	out, err := exec.Command("id", "-u", user).Output()
	if err != nil {
		t.Fatal(err)
	}
	var uid int
	fmt.Sscan(string(out), &uid)
	return uid
}

func dropLines(content, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(content, "\n") {
		if l != "" && !strings.HasPrefix(l, prefix) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// firstStartOfOther returns the start of another account's range, to stage a collision.
func firstStartOfOther(content, user string) string {
	for _, l := range strings.Split(content, "\n") {
		f := strings.Split(l, ":")
		if len(f) == 3 && f[0] != user && f[0] != "" && !strings.HasPrefix(f[0], "#") {
			return f[1]
		}
	}
	return ""
}
