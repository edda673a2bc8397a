package proof_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// attackArg runs the attacker of TestProveStateDirRace (see attackMain).
const attackArg = "__proof_test_attacker"

// raceRuns is how many proofs run under attack. The takeover this test guards against (issue
// 10: root wrote request.json through a planted symlink and chowned it and the payload copy by
// name) was won by the attacker within the first few runs on every try; after the fix no run
// may lose.
const raceRuns = 20

// TestProveStateDirRace runs the proof for an account while that account, in a process of its
// own, keeps planting symlinks to a root-owned canary file into every proof state dir it owns
// (over request.json, the payload copy and every other file that appears, and as request.json
// before root writes it). The proof runs as root on the account's behalf (what `check --user`,
// `prove --user` and the re-check of `fix --apply` do): root must never write, chown or chmod
// through a name inside a directory the account controls (docs/security.md). The canary must
// keep its owner, mode and content.
func TestProveStateDirRace(t *testing.T) {
	livetest.NeedRoot(t, tools...)
	livetest.Lock(t)
	name := livetest.User(t, true)
	livetest.NoLeftovers(t, name)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)

	// The proof uses the account's runtime dir when it has one (logind's /run/user/UID), else
	// the temp dir: attack both, one after the other.
	for _, base := range []string{"runtime dir", "temp dir"} {
		t.Run(base, func(t *testing.T) {
			// The canary sits in a directory only root can enter: the account can name it in
			// a symlink, but only root following that symlink can reach it.
			canary := filepath.Join(t.TempDir(), "canary")
			content := []byte("root's secret\n")
			if err := os.WriteFile(canary, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if base == "runtime dir" {
				runtimeDir(t, uid, u)
			}
			attacker := startAttacker(t, u, canary)
			for i := 1; i <= raceRuns; i++ {
				livetest.InMountNamespace(t, nil, func() {
					_, _ = proof.Run(context.Background(), proof.Options{User: name, Net: rootlesskit.NetNone, Timeout: 20 * time.Second})
				})
				if why := takenOver(canary, content); why != "" {
					t.Fatalf("run %d: the account took over the root-owned canary through the proof's state dir: %s", i, why)
				}
			}
			attacker()
		})
	}
}

// takenOver says how the canary changed, or "".
func takenOver(canary string, content []byte) string {
	var st syscall.Stat_t
	if err := syscall.Stat(canary, &st); err != nil {
		return err.Error()
	}
	if st.Uid != 0 || st.Gid != 0 {
		return fmt.Sprintf("owner now %d:%d", st.Uid, st.Gid)
	}
	if st.Mode&0o7777 != 0o600 {
		return fmt.Sprintf("mode now %o", st.Mode&0o7777)
	}
	if b, err := os.ReadFile(canary); err != nil || !bytes.Equal(b, content) {
		return fmt.Sprintf("content now %q (%v)", b, err)
	}
	return ""
}

// runtimeDir makes /run/user/UID for the account, as logind would, and removes it (and
// /run/user when this test made it) at the end.
func runtimeDir(t *testing.T, uid int, u *user.User) {
	t.Helper()
	if _, err := os.Stat("/run/user"); os.IsNotExist(err) {
		if err := os.Mkdir("/run/user", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/user") })
	}
	d := filepath.Join("/run/user", u.Uid)
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(d, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// startAttacker starts the attacker as the account and returns the function that stops it.
func startAttacker(t *testing.T, u *user.User, canary string) func() {
	t.Helper()
	cmd := exec.Command(os.Args[0], attackArg, u.Uid, u.Gid, canary, os.TempDir(), filepath.Join("/run/user", u.Uid))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	return func() {
		stop()
		if stderr.Len() > 0 {
			t.Logf("attacker: %s", stderr.String())
		}
		// The attacker may have kept adding files while root emptied a state dir, which
		// then stays: its files are the account's own, removed here (before NoLeftovers).
		uid, _ := strconv.Atoi(u.Uid)
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "rootless-doctor-proof-*"))
		for _, d := range dirs {
			var st syscall.Stat_t
			if syscall.Lstat(d, &st) == nil && int(st.Uid) == uid {
				t.Logf("left under attack: %s", d)
				os.RemoveAll(d)
			}
		}
	}
}

// attackMain is the attacker: ARGS are UID GID CANARY BASE.... It becomes the account (all
// threads: Go's syscall.Setresuid), then loops forever over the proof state dirs the account
// owns under each BASE and puts symlinks to CANARY in them: over every regular file in them
// and their subdirectories (rename over, atomically), and as request.json once the payload
// copy is there and request.json is not yet. Only root following one of them can hurt the
// canary.
func attackMain(args []string) int {
	uid, _ := strconv.Atoi(args[0])
	gid, _ := strconv.Atoi(args[1])
	canary, bases := args[2], args[3:]
	if err := syscall.Setgroups(nil); err != nil {
		fmt.Fprintln(os.Stderr, "setgroups:", err)
		return 2
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		fmt.Fprintln(os.Stderr, "setresgid:", err)
		return 2
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		fmt.Fprintln(os.Stderr, "setresuid:", err)
		return 2
	}
	plant := func(dir, name string) {
		tmp := filepath.Join(dir, ".planted-"+name)
		_ = os.Remove(tmp)
		if os.Symlink(canary, tmp) == nil {
			if os.Rename(tmp, filepath.Join(dir, name)) != nil {
				_ = os.Remove(tmp)
			}
		}
	}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, e := range ents {
			names[e.Name()] = true
			switch {
			case e.Type().IsRegular():
				plant(dir, e.Name())
			case e.IsDir() && depth < 2:
				walk(filepath.Join(dir, e.Name()), depth+1)
			}
		}
		if depth == 0 && !names["request.json"] {
			plant(dir, "request.json")
		}
	}
	for {
		for _, base := range bases {
			dirs, _ := filepath.Glob(filepath.Join(base, "rootless-doctor-proof-*"))
			for _, d := range dirs {
				var st syscall.Stat_t
				if syscall.Lstat(d, &st) == nil && int(st.Uid) == uid && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
					walk(d, 0)
				}
			}
		}
	}
}
