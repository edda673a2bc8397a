package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes/apply"
)

// Live tests of `fix --apply`: as root, for a throwaway account, in a private mount namespace
// whose /etc and /var/backups (and, where staged, /dev/net and /usr/bin/newuidmap) are private
// copies, so that the machine's own files never change: stage a breakage, see `check --static`
// fail with the right id, `fix --apply --yes --static` repair it, `check` pass, and a second
// apply change nothing (no file in /etc or /var/backups differs in content, mode, owner or
// mtime).

// privateHost runs the shell lines of body in a private mount namespace after making /etc and
// /var/backups private copies (under dir) and running stage. body may call
//
//	run NAME ARGS...  run the binary with ARGS; NAME.out, NAME.err, NAME.rc in $T
//	snap NAME         list every file of /etc and /var/backups (mode, owner, size, mtime, sum)
//
// It returns the namespace's combined output (for failure messages).
//
// With inUserNS, it all runs in a child user namespace that maps every id to itself (so root
// stays root and files keep their owners) and owns the mount namespace: there, root may set
// the user.* sysctls, which belong to the user namespace (root on the host here cannot change
// them, and the host's values never change).
func privateHost(t *testing.T, dir, bin, stage, body string, inUserNS ...bool) string {
	t.Helper()
	script := `set -e
T=$1 BIN=$2
# Other packages' live tests (go test ./... runs packages in parallel) run useradd/userdel,
# whose lock files may vanish while cp walks /etc: try again.
copied=
for i in 1 2 3 4 5 6 7 8 9 10; do
	rm -rf "$T/etc"
	if cp -a /etc "$T/etc" 2>"$T/cp.err"; then copied=1; break; fi
	sleep 0.2
done
[ -n "$copied" ] || { cat "$T/cp.err"; exit 1; }
mount --bind "$T/etc" /etc
mkdir -p "$T/backups"
mount --bind "$T/backups" /var/backups
# The copy starts without what an earlier fix --apply on this machine may have written, so
# the staged breakage is the only one.
rm -f /etc/sysctl.d/*rootless-doctor* /etc/udev/rules.d/*rootless-doctor* /etc/modules-load.d/*rootless-doctor* \
	/etc/apparmor.d/rootless-doctor.* /etc/systemd/system/user@.service.d/*rootless-doctor*
# No package is ever installed from here (issue 10: a package step once ran apt-get install
# on the host): the package database, apt's state and /usr are read-only in this namespace,
# so apt-get and dpkg fail at once. A test that wants a package step asserts it is planned.
# The remount keeps the mount's other options (in a user namespace they are locked); --rbind
# keeps the mounts below (a bind without them is refused where they are locked).
for d in /var/lib/dpkg /var/lib/apt /var/cache/apt /usr; do
	[ -d "$d" ] || continue
	findmnt -no VFS-OPTIONS -T "$d" | grep -q '^ro' && continue
	mount --rbind "$d" "$d"
	mount -o "remount,bind,$(findmnt -no VFS-OPTIONS "$d" | sed 's/^rw/ro/')" "$d"
	if touch "$d/.rootless-doctor-test" 2>/dev/null; then rm -f "$d/.rootless-doctor-test"; echo "$d is still writable"; exit 1; fi
done
run() { _name=$1; shift; set +e; "$BIN" "$@" >"$T/$_name.out" 2>"$T/$_name.err"; echo $? >"$T/$_name.rc"; set -e; }
snap() {
	{ find /etc /var/backups -xdev \( -type f -o -type l \) -printf '%p %m %U:%G %s %T@\n'
	  find /etc /var/backups -xdev -type f -exec md5sum {} +
	  stat -c '%n %a %U' /dev/net/tun /usr/bin/newuidmap 2>/dev/null || :; } | sort >"$T/$1.snap"
}
` + stage + "\n" + body + "\n"
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, bin)
	if len(inUserNS) > 0 && inUserNS[0] {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 4294967295}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 4294967295}},
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("private host script: %v\n%s", err, out)
	}
	return string(out)
}

func readT(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return string(data)
}

func rcOf(t *testing.T, dir, name string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(readT(t, dir, name+".rc")))
	if err != nil {
		t.Fatalf("%s.rc: %v", name, err)
	}
	return n
}

func reportOf(t *testing.T, dir, name string) liveReport {
	t.Helper()
	var rep liveReport
	if err := json.Unmarshal([]byte(readT(t, dir, name+".out")), &rep); err != nil {
		t.Fatalf("%s: %v\n%s\n%s", name, err, readT(t, dir, name+".out"), readT(t, dir, name+".err"))
	}
	return rep
}

// hostFiles are the host's own files the tests must never change.
var hostFiles = []string{"/etc/subuid", "/etc/subgid", "/etc/login.defs"}

// snapshotHost keeps the lines of hostFiles that are not about another throwaway account:
// other packages' live tests (go test ./... runs packages in parallel) add and remove theirs.
func snapshotHost(t *testing.T, user string) map[string]string {
	m := map[string]string{}
	for _, p := range hostFiles {
		data, _ := os.ReadFile(p)
		var keep []string
		for _, l := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(l, "rdt") || strings.HasPrefix(l, user+":") {
				keep = append(keep, l)
			}
		}
		m[p] = strings.Join(keep, "\n")
	}
	return m
}

func TestLiveApply(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "mknod", "md5sum", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	hostBefore := snapshotHost(t, user)
	tunBefore, _ := os.Stat("/dev/net/tun")
	maxBefore, _ := os.ReadFile("/proc/sys/user/max_user_namespaces")
	drop := fmt.Sprintf("sed -i '/^%s:/d' /etc/subuid /etc/subgid\n", user)
	tests := []struct {
		name, stage, only, id string
		// applyRC is the exit of the first apply; stillFails: the probe fails afterwards.
		applyRC    int
		stillFails bool
		// staged is the probe's status before the fix ("" for fail).
		staged   string
		says     []string
		inUserNS bool
	}{
		{name: "max_user_namespaces=0", stage: "echo 0 >/proc/sys/user/max_user_namespaces", only: "userns", id: "userns.max", inUserNS: true,
			says: []string{"wrote /etc/sysctl.d/60-rootless-doctor.conf", "$ sysctl -p /etc/sysctl.d/60-rootless-doctor.conf", "userns.max  fail → pass"}},
		{name: "no subuid or subgid line", stage: drop, only: subidProbes, id: "idmap.subuid",
			says: []string{"usermod --add-subuids", "idmap.subuid  fail → pass", "idmap.subgid  fail → pass"}},
		{name: "a 1,000-id range", stage: drop + fmt.Sprintf("echo %[1]s:3100000000:1000 >>/etc/subuid\necho %[1]s:3100000000:1000 >>/etc/subgid\n", user),
			only: subidProbes, id: "idmap.subuid", says: []string{"usermod", "idmap.subuid  fail → pass"}},
		// A range shared with another account warns (issue 14): both engines run, their
		// containers share ids. The fix still moves the account's range.
		{name: "an overlapping range", stage: drop + fmt.Sprintf("echo rdtother:3200000000:65536 >>/etc/subuid\necho %s:3200000000:65536 >>/etc/subuid\n", user),
			only: subidProbes, id: "idmap.subuid", staged: "warn", says: []string{"usermod", "idmap.subuid  warn → pass"}},
		{name: "CRLF line ends", stage: "sed -i 's/$/\\r/' /etc/subuid",
			only: subidProbes, id: "idmap.subuid", says: []string{"sed -i", "idmap.subuid  fail → pass"}},
		{name: "/dev/net/tun 0600", stage: `mkdir -p "$T/devnet"; mknod "$T/devnet/tun" c 10 200; chmod 0600 "$T/devnet/tun"; mount --bind "$T/devnet" /dev/net`,
			only: "net.tun", id: "net.tun", says: []string{"wrote /etc/udev/rules.d/60-rootless-doctor-tun.rules", "$ chmod 0666 /dev/net/tun", "net.tun  fail → pass"}},
		{name: "newuidmap without its setuid bit", stage: `cp -p /usr/bin/newuidmap "$T/newuidmap"; chmod u-s "$T/newuidmap"; mount --bind "$T/newuidmap" /usr/bin/newuidmap`,
			only: "identity,idmap", id: "idmap.newuidmap", applyRC: 1, stillFails: true,
			says: []string{"every step is for you to do by hand", "not done: by hand", "Nothing was changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.stage, "/usr/bin/newuidmap") {
				if _, err := os.Stat("/usr/bin/newuidmap"); err != nil {
					t.Skip("skipping: newuidmap is not installed (apt-get install uidmap; .ci/run does)")
				}
			}
			dir := t.TempDir()
			args := fmt.Sprintf("--static --user %s --only %s", user, tt.only)
			log := privateHost(t, dir, bin, tt.stage, fmt.Sprintf(`
run check1 check -o json %[1]s
run apply1 fix --apply --yes %[1]s
run check2 check -o json %[1]s
snap snap1
run apply2 fix --apply --yes %[1]s
snap snap2
`, args), tt.inUserNS)
			ctx := func() string {
				return fmt.Sprintf("\napply1 (exit %s):\n%s%s\napply2:\n%s%s\nnamespace:\n%s", readT(t, dir, "apply1.rc"), readT(t, dir, "apply1.out"),
					readT(t, dir, "apply1.err"), readT(t, dir, "apply2.out"), readT(t, dir, "apply2.err"), log)
			}
			// check exits 1 either way: a staged failure, or (the overlapping range) the
			// idmap.subgid line the stage dropped.
			staged, stagedRC := "fail", 1
			if tt.staged != "" {
				staged = tt.staged
			}
			if r := statusOf(t, reportOf(t, dir, "check1"), tt.id); r.Status != staged {
				t.Fatalf("staged: %s = %s (%s), want %s", tt.id, r.Status, r.Summary, staged)
			}
			if rc := rcOf(t, dir, "check1"); rc != stagedRC {
				t.Errorf("staged: check exit %d, want %d", rc, stagedRC)
			}
			if rc := rcOf(t, dir, "apply1"); rc != tt.applyRC {
				t.Errorf("apply exit %d, want %d%s", rc, tt.applyRC, ctx())
			}
			// The outcome table pads its first column to the longest id: compare words, not
			// column widths.
			apply1 := oneSpace(readT(t, dir, "apply1.out"))
			for _, s := range tt.says {
				if !strings.Contains(apply1, oneSpace(s)) {
					t.Errorf("apply output lacks %q%s", s, ctx())
				}
			}
			after := statusOf(t, reportOf(t, dir, "check2"), tt.id)
			switch {
			case tt.stillFails && after.Status != "fail":
				t.Errorf("after apply: %s = %s, want still fail (its step is by hand)", tt.id, after.Status)
			case !tt.stillFails && after.Status != "pass":
				t.Errorf("after apply: %s = %s (%s), want pass%s", tt.id, after.Status, after.Summary, ctx())
			}
			if rc := rcOf(t, dir, "check2"); !tt.stillFails && rc != 0 {
				t.Errorf("after apply: check exit %d, want 0", rc)
			}
			if rc := rcOf(t, dir, "apply2"); rc != tt.applyRC {
				t.Errorf("second apply exit %d, want %d%s", rc, tt.applyRC, ctx())
			}
			if s1, s2 := readT(t, dir, "snap1.snap"), readT(t, dir, "snap2.snap"); s1 != s2 {
				t.Errorf("the second apply changed files:\n%s", diffLines(s1, s2))
			}
		})
	}
	if data, _ := os.ReadFile("/etc/subuid"); strings.Contains(string(data), "rdtother:") {
		t.Errorf("a staged line reached the host's /etc/subuid")
	}
	for p, now := range snapshotHost(t, user) {
		if now != hostBefore[p] {
			t.Errorf("%s changed on the host:\n%s", p, diffLines(hostBefore[p], now))
		}
	}
	if maxNow, _ := os.ReadFile("/proc/sys/user/max_user_namespaces"); !bytes.Equal(maxNow, maxBefore) {
		t.Errorf("user.max_user_namespaces changed on the host: %q → %q", maxBefore, maxNow)
	}
	if tunNow, _ := os.Stat("/dev/net/tun"); tunBefore != nil && tunNow.Mode() != tunBefore.Mode() {
		t.Errorf("/dev/net/tun changed on the host: %v → %v", tunBefore.Mode(), tunNow.Mode())
	}
}

// subidProbes are the probes the subordinate-id cases check and repair: not idmap.newuidmap,
// whose repair installs a package (see TestLiveApplyPackageStep).
const subidProbes = "identity,idmap.subuid,idmap.subgid"

var blanks = regexp.MustCompile(`[ \t]+`)

// oneSpace collapses runs of blanks, for output laid out in columns.
func oneSpace(s string) string { return blanks.ReplaceAllString(s, " ") }

// TestLiveApplyPackageStep: where newuidmap is missing (a fresh Debian without uidmap; staged
// here by hiding the programs under an overlay in the private namespace), the plan installs
// the package — and in the test's sandbox, whose package database is read-only, applying it
// fails without installing anything on the host (issue 10: the test once ran apt-get
// install uidmap on the machine).
func TestLiveApplyPackageStep(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "md5sum", "dpkg-query", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	dir := t.TempDir()
	args := fmt.Sprintf("--static --user %s --only identity,idmap.newuidmap", user)
	hide := `mkdir -p "$T/up" "$T/work"
if [ -e /usr/bin/newuidmap ]; then
	mount -t overlay overlay -o "lowerdir=/usr/bin,upperdir=$T/up,workdir=$T/work" /usr/bin
	rm -f /usr/bin/newuidmap /usr/bin/newgidmap /usr/bin/getsubids
fi`
	privateHost(t, dir, bin, hide, fmt.Sprintf(`
dpkg-query -W >"$T/dpkg.before"
run plan fix %[1]s
run apply fix --apply --yes %[1]s
dpkg-query -W >"$T/dpkg.after"
if command -v newuidmap >/dev/null; then echo installed >"$T/newuidmap"; else echo absent >"$T/newuidmap"; fi
`, args))
	plan := readT(t, dir, "plan.out")
	if !strings.Contains(plan, "apt-get install") || !strings.Contains(plan, "uidmap") {
		t.Errorf("the plan does not install uidmap:\n%s%s", plan, readT(t, dir, "plan.err"))
	}
	if rc := rcOf(t, dir, "apply"); rc == 0 {
		t.Errorf("applying the package step in the sandbox succeeded; it must fail there:\n%s", readT(t, dir, "apply.out"))
	}
	if got := strings.TrimSpace(readT(t, dir, "newuidmap")); got != "absent" {
		t.Errorf("newuidmap after the apply: %s", got)
	}
	if b, a := readT(t, dir, "dpkg.before"), readT(t, dir, "dpkg.after"); b != a {
		t.Errorf("the package set changed:\n%s", diffLines(b, a))
	}
}

// TestLiveApplyKilled kills `fix --apply` (SIGKILL, through its test hook) at every point
// where it can be interrupted — before and after each backup, file write, rename and command —
// and checks after each kill that every file it touches is either the old or the new content
// (and /dev/net/tun either the old or the new mode), never partial. The breakage is restored
// before each kill.
func TestLiveApplyKilled(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "mknod", "cmp", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	dir := t.TempDir()
	args := fmt.Sprintf("--static --user %s --only %s,net.tun", user, subidProbes)
	rule := "/etc/udev/rules.d/60-rootless-doctor-tun.rules"
	stage := fmt.Sprintf(`mkdir -p "$T/devnet"; mknod "$T/devnet/tun" c 10 200; chmod 0600 "$T/devnet/tun"; mount --bind "$T/devnet" /dev/net
sed -i '/^%[1]s:/d' /etc/subuid /etc/subgid
echo %[1]s:3100000000:1000 >>/etc/subuid
cp -p /etc/subuid "$T/old.subuid"; cp -p /etc/subgid "$T/old.subgid"
restore() { cp -p "$T/old.subuid" /etc/subuid; cp -p "$T/old.subgid" /etc/subgid; rm -f %[2]s; chmod 0600 /dev/net/tun; }
# The complete apply gives the new contents.
run full fix --apply --yes %[3]s
cp -p /etc/subuid "$T/new.subuid"; cp -p /etc/subgid "$T/new.subgid"; cp -p %[2]s "$T/new.rule"
valid() {
	for f in subuid subgid; do
		if cmp -s /etc/$f "$T/old.$f" || cmp -s /etc/$f "$T/new.$f"; then continue; fi
		# Between two commands of a step (usermod --del-subuids, then --add-subuids) the file
		# is the whole result of the commands before: each usermod replaces it atomically.
		if grep -qvE '^[^:#]+:[0-9]+:[0-9]+$' /etc/$f; then echo "BAD: /etc/$f is partial"; cat /etc/$f; fi
		echo "intermediate /etc/$f"
	done
	[ ! -e %[2]s ] || cmp -s %[2]s "$T/new.rule" || echo "BAD: the udev rule is partial"
	m=$(stat -c %%a /dev/net/tun); [ "$m" = 600 ] || [ "$m" = 666 ] || echo "BAD: /dev/net/tun mode $m"
}
`, user, rule, args)
	body := fmt.Sprintf(`n=1
while [ $n -lt 60 ]; do
	restore
	ROOTLESS_DOCTOR_TEST_KILL_AT=$n run kill$n fix --apply --yes %[1]s
	rc=$(cat "$T/kill$n.rc")
	echo "kill $n: exit $rc: $(grep -o 'killed at .*' "$T/kill$n.err" || echo completed)"
	valid
	# Applying again after the kill finishes the job.
	run resume$n fix --apply --yes %[1]s
	run recheck$n check -o json %[1]s
	[ "$(cat "$T/recheck$n.rc")" = 0 ] || { echo "BAD: after kill $n, apply again did not repair"; cat "$T/resume$n.out"; }
	if find /etc -name '*.rootless-doctor-tmp*' | grep .; then echo "BAD: a temporary file is left after the re-apply"; fi
	[ "$rc" = 137 ] || break
	n=$((n+1))
done
echo "points: $n"
`, args)
	log := privateHost(t, dir, bin, stage, body)
	if rc := rcOf(t, dir, "full"); rc != 1 && rc != 0 {
		t.Fatalf("the full apply: exit %d\n%s%s", rc, readT(t, dir, "full.out"), readT(t, dir, "full.err"))
	}
	if strings.Contains(log, "BAD:") {
		t.Errorf("a killed apply left a partial file:\n%s", log)
	}
	kills := strings.Count(log, "exit 137")
	if kills < 8 {
		t.Errorf("only %d kill points were exercised:\n%s", kills, log)
	}
	for _, point := range []string{"killed at backup /etc/subuid", "killed at rename " + rule, "killed at command ", "killed at after "} {
		if !strings.Contains(log, point) {
			t.Errorf("no kill at %q:\n%s", point, log)
		}
	}
	if !strings.Contains(log, "completed") {
		t.Errorf("the loop never reached a complete apply:\n%s", log)
	}
	t.Logf("%s", log)
}

// TestLiveApplyPromptNo answers "n" on a piped stdin, which is not a terminal: nothing is
// asked, nothing changes, exit 2 with the reason. (Answering "n" on a terminal is tested in
// cli/apply_test.go: exit 1, nothing changed.)
func TestLiveApplyPromptNo(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "md5sum", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	dir := t.TempDir()
	privateHost(t, dir, bin, fmt.Sprintf("sed -i '/^%s:/d' /etc/subuid /etc/subgid", user), fmt.Sprintf(`
snap before
set +e
echo n | "$BIN" fix --apply --static --user %s --only `+subidProbes+` >"$T/no.out" 2>"$T/no.err"; echo $? >"$T/no.rc"
set -e
snap after
`, user))
	if rc := rcOf(t, dir, "no"); rc != 2 {
		t.Errorf("exit %d, want 2", rc)
	}
	if e := readT(t, dir, "no.err"); !strings.Contains(e, "nothing was changed") {
		t.Errorf("stderr: %s", e)
	}
	if b, a := readT(t, dir, "before.snap"), readT(t, dir, "after.snap"); b != a {
		t.Errorf("answering no changed files:\n%s", diffLines(b, a))
	}
}

// diffLines lists the lines only in a (-) or only in b (+).
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}

// TestLiveApplyHelper feeds the real binary's hidden helper, as root, what an account given
// sudo for it could send: the requests of the old protocol (run a command, write a file, read
// /etc/shadow), a sysctl no probe sets, a plan for another account, a plan whose digest is not
// the plan's. SUDO_UID names the throwaway account, as sudo would. Each must be refused (exit
// 2) before anything changes (issue 10: the helper ran, wrote and read whatever it was sent).
func TestLiveApplyHelper(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	victim := filepath.Join(t.TempDir(), "victim")
	shadow, _ := os.ReadFile("/etc/shadow")
	firstShadow, _, _ := strings.Cut(string(shadow), "\n")
	order := func(u string, digest string, in ...finding.Intent) string {
		var reqs []apply.Request
		for _, i := range in {
			reqs = append(reqs, apply.Request{Probe: "test", Intent: i})
		}
		b, _ := json.Marshal(apply.Order{User: u, Requests: reqs, Digest: digest})
		return string(b)
	}
	for name, raw := range map[string]string{
		"run":             `{"op":"run","command":"echo pwned >` + victim + `; touch ` + victim + `.new"}`,
		"write":           `{"op":"write","path":"` + victim + `","content":"cHduZWQK","mode":420}`,
		"read":            `{"op":"read","path":"/etc/shadow"}`,
		"sysctl":          order(user, "sha256:0", finding.SetSysctl("kernel.core_pattern", "|"+victim, "")),
		"another account": order("root", "sha256:0", finding.EnableLinger("root", "")),
		"digest":          order(user, "sha256:0", finding.EnableLinger(user, "")),
		"device with ..":  order(user, "sha256:0", finding.DeviceMode("/dev/net/../../etc/shadow", "0666", "")),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, apply.HelperCommand)
			cmd.Env = append(os.Environ(), fmt.Sprintf("SUDO_UID=%d", uidOf(t, user)))
			cmd.Stdin = strings.NewReader(raw + "\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("exit %v, want 2\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), `"refused"`) {
				t.Errorf("no refusal on stdout: %s", stdout.String())
			}
			if b, _ := os.ReadFile(victim); string(b) != "keep\n" {
				t.Errorf("the victim was written: %q", b)
			}
			if _, err := os.Stat(victim + ".new"); err == nil {
				t.Error("the command ran")
			}
			if firstShadow != "" && strings.Contains(stdout.String()+stderr.String(), firstShadow) {
				t.Error("the helper returned /etc/shadow")
			}
		})
	}
	// Not root: refused at once.
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, apply.HelperCommand)
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "must run as root") {
		t.Errorf("as nobody: %v %s", err, out)
	}
}

// TestLiveApplyThroughSudo is `fix --apply` of an ordinary account with a sudoers rule that
// lets it run only the helper, in a private mount namespace (a private /etc with the rule, a
// tun node of mode 0600 over /dev/net/tun): the account answers "y" on a terminal, sudo starts
// the helper, which builds the plan again, applies it, and the re-check passes. The same
// account then uses its sudo rule directly to send the helper a command of its own: refused,
// nothing done.
func TestLiveApplyThroughSudo(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "mknod", "sudo", "runuser", "script", "timeout", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	dir := t.TempDir()
	stage := fmt.Sprintf(`mkdir -p "$T/devnet"; mknod "$T/devnet/tun" c 10 200; chmod 0600 "$T/devnet/tun"; mount --bind "$T/devnet" /dev/net
printf '%%s ALL=(root) NOPASSWD: %%s %s\n' %s "$BIN" >/etc/sudoers.d/rootless-doctor-test
chmod 0440 /etc/sudoers.d/rootless-doctor-test`, apply.HelperCommand, user)
	// The [y/N] prompt reads a line: the answer ends with Enter, as a person types it.
	asUser := fmt.Sprintf("runuser -u %s -- env -i TERM=xterm-256color PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/home/%s", user, user)
	privateHost(t, dir, bin, stage, fmt.Sprintf(`
set +e
(sleep 2; printf 'y\n') | timeout 120 script -qec '%[1]s %[2]s fix --apply --static --only net.tun' /dev/null >"$T/yes.out" 2>&1; echo $? >"$T/yes.rc"
stat -c %%a /dev/net/tun >"$T/yes.mode"
echo '{"op":"run","command":"id >/etc/pwned"}' | %[1]s sudo -n -- %[2]s %[3]s >"$T/attack.out" 2>&1; echo $? >"$T/attack.rc"
[ -e /etc/pwned ] && echo yes >"$T/pwned"
set -e
`, asUser, bin, apply.HelperCommand))
	out := readT(t, dir, "yes.out")
	if rc, mode := rcOf(t, dir, "yes"), strings.TrimSpace(readT(t, dir, "yes.mode")); rc != 0 || mode != "666" {
		t.Errorf(`"y" through sudo: exit %d, mode %s; want 0 and 666%s`, rc, mode, out)
	}
	for _, s := range []string{"You are not root: the steps will run through sudo", "wrote /etc/udev/rules.d/60-rootless-doctor-tun.rules", "$ chmod 0666 /dev/net/tun", "net.tun  fail → pass"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if rc := rcOf(t, dir, "attack"); rc != 2 {
		t.Errorf("the account's own request through sudo: exit %d, want 2\n%s", rc, readT(t, dir, "attack.out"))
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Errorf("the helper ran the account's command as root:\n%s", readT(t, dir, "attack.out"))
	}
}

// TestLiveApplyPromptTTY answers the [y/N] prompt on a terminal (a pseudo-terminal made by
// script(1)): "n" changes nothing and exits 1 (the finding stands), "y" applies.
func TestLiveApplyPromptTTY(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "mknod", "script", "timeout", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	dir := t.TempDir()
	cmd := fmt.Sprintf("%s fix --apply --static --user %s --only net.tun", bin, user)
	privateHost(t, dir, bin, `mkdir -p "$T/devnet"; mknod "$T/devnet/tun" c 10 200; chmod 0600 "$T/devnet/tun"; mount --bind "$T/devnet" /dev/net`, fmt.Sprintf(`
set +e
(sleep 2; printf 'n\n') | timeout 60 script -qec '%[1]s' /dev/null >"$T/no.out" 2>&1; echo $? >"$T/no.rc"
stat -c %%a /dev/net/tun >"$T/no.mode"
(sleep 2; printf 'y\n') | timeout 60 script -qec '%[1]s' /dev/null >"$T/yes.out" 2>&1; echo $? >"$T/yes.rc"
stat -c %%a /dev/net/tun >"$T/yes.mode"
set -e
`, cmd))
	if rc, mode := rcOf(t, dir, "no"), strings.TrimSpace(readT(t, dir, "no.mode")); rc != 1 || mode != "600" {
		t.Errorf(`answering "n": exit %d, mode %s; want 1 and 600 (unchanged)%s`, rc, mode, readT(t, dir, "no.out"))
	}
	if !strings.Contains(readT(t, dir, "no.out"), "Not applied: nothing was changed.") {
		t.Errorf(`answering "n":%s`, readT(t, dir, "no.out"))
	}
	if rc, mode := rcOf(t, dir, "yes"), strings.TrimSpace(readT(t, dir, "yes.mode")); rc != 0 || mode != "666" {
		t.Errorf(`answering "y": exit %d, mode %s; want 0 and 666%s`, rc, mode, readT(t, dir, "yes.out"))
	}
}

// TestLiveApplyDuplicateRange: an account whose range is listed twice in /etc/subuid (a
// playbook that appended it again) fails idmap.subuid — RootlessKit and Podman pass every
// line, and the kernel rejects the overlapping extents — and `fix --apply` removes the later
// copy only: the range its container storage is mapped with stays, once, on its first line,
// getsubids lists it once, and the live proof passes (issue 10: the fix removed every line of
// the range and gave a fresh one, unmapping the account's existing files).
func TestLiveApplyDuplicateRange(t *testing.T) {
	needRoot(t, "useradd", "userdel", "usermod", "unshare", "getsubids", "newuidmap", "md5sum", "go")
	bin := buildBinary(t)
	user := throwawayUser(t)
	hostBefore := snapshotHost(t, user)
	dir := t.TempDir()
	line := fmt.Sprintf("%s:3100000000:65536", user)
	stage := fmt.Sprintf(`sed -i '/^%[1]s:/d' /etc/subuid /etc/subgid
echo %[2]s >>/etc/subuid; echo rdtother:3200000000:65536 >>/etc/subuid; echo %[2]s >>/etc/subuid
echo %[2]s >>/etc/subgid
grep -n '^%[1]s:' /etc/subuid | head -n 1 | cut -d: -f1 >"$T/first"`, user, line)
	args := fmt.Sprintf("--static --user %s --only %s", user, subidProbes)
	privateHost(t, dir, bin, stage, fmt.Sprintf(`
run check1 check -o json %[1]s
run apply1 fix --apply --yes %[1]s
grep -n '^%[2]s:' /etc/subuid >"$T/subuid.lines" || :
grep -c '^%[2]s:' /etc/subgid >"$T/subgid.count" || :
grep -c '^rdtother:' /etc/subuid >"$T/other.count" || :
getsubids %[2]s >"$T/getsubids.out" 2>&1 || :
run check2 check -o json %[1]s
run prove prove -o json --net none --user %[2]s
snap snap1
run apply2 fix --apply --yes %[1]s
snap snap2
`, args, user))
	ctx := func() string {
		return fmt.Sprintf("\napply1 (exit %s):\n%s%s", readT(t, dir, "apply1.rc"), readT(t, dir, "apply1.out"), readT(t, dir, "apply1.err"))
	}
	r := statusOf(t, reportOf(t, dir, "check1"), "idmap.subuid")
	if r.Status != "fail" {
		t.Fatalf("staged: idmap.subuid = %s (%s), want fail", r.Status, r.Summary)
	}
	if !strings.Contains(r.Summary, "listed twice") {
		t.Errorf("staged: idmap.subuid says %q, want it to say the range is listed twice", r.Summary)
	}
	if rc := rcOf(t, dir, "apply1"); rc != 0 {
		t.Errorf("apply exit %d, want 0%s", rc, ctx())
	}
	// The host's file holds other accounts' lines before the staged ones.
	if got, want := strings.TrimSpace(readT(t, dir, "subuid.lines")), strings.TrimSpace(readT(t, dir, "first"))+":"+line; got != want {
		t.Errorf("the account's lines in /etc/subuid after the apply: %q, want %q (its range once, on its first line)%s", got, want, ctx())
	}
	if got := strings.TrimSpace(readT(t, dir, "subgid.count")); got != "1" {
		t.Errorf("/etc/subgid holds %s lines of the account, want its 1 untouched", got)
	}
	if got := strings.TrimSpace(readT(t, dir, "other.count")); got != "1" {
		t.Errorf("another account's line: %s left, want 1", got)
	}
	if got, want := strings.TrimSpace(readT(t, dir, "getsubids.out")), fmt.Sprintf("0: %s 3100000000 65536", user); got != want {
		t.Errorf("getsubids after the apply: %q, want %q", got, want)
	}
	if r := statusOf(t, reportOf(t, dir, "check2"), "idmap.subuid"); r.Status != "pass" {
		t.Errorf("after apply: idmap.subuid = %s (%s), want pass%s", r.Status, r.Summary, ctx())
	}
	var prove proveReport
	if err := json.Unmarshal([]byte(readT(t, dir, "prove.out")), &prove); err != nil {
		t.Fatalf("prove: %v\n%s%s", err, readT(t, dir, "prove.out"), readT(t, dir, "prove.err"))
	}
	for _, r := range prove.Results {
		if r.ID == "runtime.idmap" && r.Status != "pass" || r.Status == "fail" {
			t.Errorf("the live proof after the apply: %s = %s (%s)", r.ID, r.Status, r.Summary)
		}
	}
	if rc := rcOf(t, dir, "prove"); rc != 0 {
		t.Errorf("prove exit %d, want 0\n%s", rc, readT(t, dir, "prove.err"))
	}
	if rc := rcOf(t, dir, "apply2"); rc != 0 {
		t.Errorf("second apply exit %d, want 0", rc)
	}
	if s1, s2 := readT(t, dir, "snap1.snap"), readT(t, dir, "snap2.snap"); s1 != s2 {
		t.Errorf("the second apply changed files:\n%s", diffLines(s1, s2))
	}
	for p, now := range snapshotHost(t, user) {
		if now != hostBefore[p] {
			t.Errorf("%s changed on the host:\n%s", p, diffLines(hostBefore[p], now))
		}
	}
}
