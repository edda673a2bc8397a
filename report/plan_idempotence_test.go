package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// The idempotence proof of issue 3 item 3: as root, in a throwaway mount namespace whose
// /etc (a tmpfs copy of the real one), /dev/net and /var/lib/systemd are private, run a
// generated script twice; the second run must change no byte. Commands that would touch the
// real kernel or the network (sysctl, modprobe, systemctl, loginctl, apparmor_parser,
// udevadm, apt-get, dpkg-query) are shims on PATH that log their calls; usermod, grep, sed,
// chmod and the file writes are real. The same is done with the Ansible playbook when
// ansible-playbook is installed.

const (
	childDirEnv  = "ROOTLESS_DOCTOR_IDEMPOTENCE_DIR"
	childModeEnv = "ROOTLESS_DOCTOR_IDEMPOTENCE_MODE"
)

func TestIdempotence(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		idempotenceChild(t, dir, os.Getenv(childModeEnv))
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: the idempotence test runs the generated script as root in a private mount namespace; run go test as root (CI does)")
	}
	// script: the Debian script (usermod); append: the Alpine script (guarded appends and
	// sed, with an overlapping range cut and a file without a final newline); ansible: the
	// playbook.
	for _, mode := range []string{"script", "append", "ansible"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "ansible" {
				if _, err := exec.LookPath("ansible-playbook"); err != nil {
					t.Skip("skipping: ansible-playbook is not installed (apt-get install -y ansible-core)")
				}
			}
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestIdempotence$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childModeEnv+"="+mode)
			// Go unshares the mount namespace in the child before exec and makes / rprivate,
			// so nothing the child mounts reaches the host.
			cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
			out, err := cmd.CombinedOutput()
			if err != nil {
				if errors.Is(err, syscall.EPERM) {
					t.Skipf("skipping: cannot create a mount namespace here: %v", err)
				}
				t.Fatalf("child: %v\n%s", err, out)
			}
			if testing.Verbose() {
				t.Logf("child output:\n%s", out)
			}
		})
	}
}

// The id files the idempotence test starts from: other accounts, overlapping each other.
const (
	pinnedSubuid = "rdother:100000:65536\nrdover:150000:65536\nrdoct:0503240:0200000\n"
	pinnedSubgid = "rdother:100000:65536\nrdover:150000:65536\n"
)

const shim = `#!/bin/sh
name=${0##*/}
echo "$name $*" >>"$STUB_LOG"
case $name in
apt-get) [ "$1" = update ] || touch "$STUB_STATE/installed" ;;
dpkg-query) [ -e "$STUB_STATE/installed" ] || exit 1; echo installed ;;
loginctl) mkdir -p /var/lib/systemd/linger && : >"/var/lib/systemd/linger/$2" ;;
esac
`

func idempotenceChild(t *testing.T, dir, mode string) {
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must(syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""), "making / private")

	// A private copy of /etc, with two test accounts added.
	etc := filepath.Join(dir, "etc")
	must(os.Mkdir(etc, 0o755), "mkdir")
	must(syscall.Mount("tmpfs", etc, "tmpfs", 0, "mode=0755"), "mounting tmpfs")
	// Tests of other packages run in parallel and create throwaway accounts: useradd's lock
	// files (/etc/passwd.lock, …) can vanish while cp walks /etc. Copy again when that happens.
	for try := 1; ; try++ {
		out, err := exec.Command("cp", "-a", "/etc/.", etc+"/").CombinedOutput()
		if err == nil {
			break
		}
		if try == 5 {
			t.Fatalf("copying /etc: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	appendTo := func(name, text string) {
		f, err := os.OpenFile(filepath.Join(etc, name), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		must(err, "opening "+name)
		_, err = f.WriteString(text)
		must(err, "writing "+name)
		must(f.Close(), "closing "+name)
	}
	// The id files start from pinned content, not from the host's: other accounts' lines,
	// overlapping each other (issue 10: the test failed where the host's /etc/subuid held
	// such lines), so the plan must find room around them.
	must(os.WriteFile(filepath.Join(etc, "subuid"), []byte(pinnedSubuid), 0o644), "pinning subuid")
	must(os.WriteFile(filepath.Join(etc, "subgid"), []byte(pinnedSubgid), 0o644), "pinning subgid")
	appendTo("passwd", "rdtest:x:1234:1234::/nonexistent:/usr/sbin/nologin\nrdhost$:x:1235:1235::/nonexistent:/usr/sbin/nologin\n")
	appendTo("group", "rdtest:x:1234:\nrdhost$:x:1235:\n")
	if _, err := os.Stat(filepath.Join(etc, "shadow")); err == nil {
		appendTo("shadow", "rdtest:!:19000::::::\nrdhost$:!:19000::::::\n")
	}
	if mode == "append" {
		for _, f := range []string{"subuid", "subgid"} {
			data, _ := os.ReadFile(filepath.Join(etc, f))
			if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
				data = append(data, '\n')
			}
			must(os.WriteFile(filepath.Join(etc, f), data, 0o644), "resetting "+f)
		}
		appendTo("subuid", "rdtest:400000:1000\n")
		appendTo("subgid", "rdtest:300000:10") // no final newline
	}
	must(syscall.Mount(etc, "/etc", "", syscall.MS_BIND, ""), "bind-mounting /etc")

	// /dev/net/tun as a plain file with mode 0600, and a private /var/lib/systemd.
	for _, d := range []string{"/dev/net", "/var/lib/systemd"} {
		if _, err := os.Stat(d); err != nil {
			t.Skipf("skipping: %s does not exist here", d)
		}
		must(syscall.Mount("tmpfs", d, "tmpfs", 0, "mode=0755"), "mounting tmpfs on "+d)
	}
	must(os.WriteFile("/dev/net/tun", nil, 0o600), "creating /dev/net/tun")

	// Shims for what would touch the kernel or the network.
	bin := filepath.Join(dir, "bin")
	must(os.Mkdir(bin, 0o755), "mkdir bin")
	must(os.WriteFile(filepath.Join(bin, "shim"), []byte(shim), 0o755), "writing shim")
	for _, c := range []string{"sysctl", "modprobe", "systemctl", "loginctl", "apparmor_parser", "udevadm", "apt-get", "dpkg-query"} {
		must(os.Symlink("shim", filepath.Join(bin, c)), "linking shim")
	}
	// We are root already: sudo just runs its command, so the `sudo sh -eux <<'EOF'` form
	// runs as printed.
	must(os.WriteFile(filepath.Join(bin, "sudo"), []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755), "writing sudo")
	state := filepath.Join(dir, "state")
	must(os.Mkdir(state, 0o755), "mkdir state")
	logFile := filepath.Join(dir, "calls.log")
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STUB_LOG="+logFile, "STUB_STATE="+state,
		"HOME="+dir, "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "ansible-tmp"), "ANSIBLE_NOCOLOR=1",
		"ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_HOST_KEY_CHECKING=0")

	// The plan, built from the private /etc through the live host.
	reqs := []fixes.Request{
		req("idmap.newuidmap", finding.InstallTool(string(distro.ToolNewuidmap), "newuidmap is missing")),
		req("net.tun", finding.LoadModule("tun", "tun is not loaded")),
		req("userns.max", finding.SetSysctl("user.max_user_namespaces", "28633", "user namespaces are off")),
		req("idmap.subuid", finding.AddSubIDs("rdtest", "both", 65536, nil, "rdtest has no range")),
		req("idmap.subuid", finding.AddSubIDs("rdhost$", "uid", 1000, nil, "rdhost$ has no range")),
		req("userns.apparmor", finding.AppArmorProfile("/usr/local/bin/rootlesskit", "restricted")),
		req("cgroup.delegation", finding.DelegateControllers(nil, "not delegated")),
		req("net.tun", finding.DeviceMode("/dev/net/tun", "0666", "mode 0600")),
		req("session.linger", finding.EnableLinger("rdtest", "linger off")),
		req("storage.data-root", finding.ManualStep("nfs", "move the data root off NFS")),
		req("net.ping", finding.SetSysctl("net.ipv4.ping_group_range", "0 2147483647", "no ping").Optionally()),
	}
	release := "debian-12"
	switch mode {
	case "ansible":
		reqs = reqs[1:] // the apt module would really install
	case "append":
		release = "alpine-3.20"
		reqs = []fixes.Request{
			req("idmap.subuid", finding.AddSubIDs("rdtest", "both", 65536, []string{"400000-400499"}, "part of the range is someone else's")),
			req("idmap.subuid", finding.AddSubIDs("rdhost$", "uid", 1000, nil, "rdhost$ has no range")),
			req("net.tun", finding.DeviceMode("/dev/net/tun", "0666", "mode 0600")),
		}
	}
	fenv := &facts.Env{Distro: osRelease(t, releases[release]), Host: host.NewLive()}
	if mode == "ansible" {
		// The plan's account: the playbook names it through its variable.
		fenv.User = facts.Account{Name: "rdtest", UID: 1234, GID: 1234}
	}
	p, err := fixes.Build(fixes.Input{Requests: reqs, Env: fenv})
	must(err, "Build")

	var runs []func() (string, error)
	var checkDiff func() (string, error)
	switch mode {
	case "script", "append":
		// The Debian run uses the sudo form people paste; the Alpine run the bare script.
		var b bytes.Buffer
		must(WritePlanScript(&b, p, mode == "append"), "WritePlanScript")
		script := filepath.Join(dir, "fix.sh")
		must(os.WriteFile(script, b.Bytes(), 0o755), "writing script")
		optional := filepath.Join(dir, "optional.sh")
		var root bytes.Buffer
		must(WritePlanScript(&root, p, true), "WritePlanScript")
		must(os.WriteFile(optional, []byte(uncomment(root.String())), 0o755), "writing optional script")
		run := func(file string) func() (string, error) {
			return func() (string, error) {
				cmd := exec.Command("sh", file)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
		}
		runs = []func() (string, error){run(script)}
		if uncomment(root.String()) != "" {
			runs = append(runs, run(optional))
		}
	case "ansible":
		var b bytes.Buffer
		must(WritePlanAnsible(&b, p), "WritePlanAnsible")
		playbook := filepath.Join(dir, "fix.yml")
		must(os.WriteFile(playbook, b.Bytes(), 0o644), "writing playbook")
		// One playbook for a group of hosts (issue 15): the account is a variable, and the
		// range is computed on the host. This host is not the one the plan was made on:
		// someone took the range the plan chose for rdtest since; the playbook must go
		// around it (the disjointness check below), where a baked-in range would collide.
		if pb := b.String(); strings.Contains(pb, `"rdtest:`) || strings.Contains(pb, `- "rdtest"`) || !strings.Contains(pb, `"{{ rootless_doctor_account }}:{{ `) {
			t.Errorf("the playbook's tasks name the account instead of its variable:\n%s", pb)
		}
		taken := regexp.MustCompile(`--add-subuids (\d+)-`).FindStringSubmatch(strings.Join(p.Steps[stepIndex(t, p, "subid.add.rdtest")].Commands, "\n"))
		if taken == nil {
			t.Fatalf("no range in the plan's script for rdtest")
		}
		appendTo("subuid", "rdsquat:"+taken[1]+":65536\n")
		run := func(tags string, extra ...string) func() (string, error) {
			return func() (string, error) {
				args := append([]string{"-i", "localhost,", "-c", "local", "-e", "ansible_become=false",
					"-e", "ansible_python_interpreter=/usr/bin/python3", "--tags", tags}, extra...)
				cmd := exec.Command("ansible-playbook", append(args, playbook)...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err == nil && !strings.Contains(string(out), "failed=0") {
					err = errors.New("a task failed")
				}
				return string(out), err
			}
		}
		runs = []func() (string, error){run("all"), run("optional")}
		checkDiff = run("all,optional", "--check", "--diff")
	}

	for i, run := range runs {
		must(os.WriteFile(logFile, nil, 0o644), "truncating log")
		before := hashTrees(t)
		out1, err := run()
		if err != nil {
			t.Fatalf("run %d, first time: %v\n%s", i, err, out1)
		}
		after1 := hashTrees(t)
		if diff := diffHashes(before, after1); diff == "" {
			t.Fatalf("run %d changed nothing the first time:\n%s", i, out1)
		} else {
			t.Logf("run %d, first time, changed:\n%s", i, diff)
		}
		logged, _ := os.ReadFile(logFile)
		must(os.WriteFile(logFile, nil, 0o644), "truncating log")
		out2, err := run()
		if err != nil {
			t.Fatalf("run %d, second time: %v\n%s", i, err, out2)
		}
		if diff := diffHashes(after1, hashTrees(t)); diff != "" {
			t.Fatalf("run %d changed files the second time:\n%s\n%s", i, diff, out2)
		}
		again, _ := os.ReadFile(logFile)
		t.Logf("run %d calls, first time:\n%ssecond time:\n%s", i, logged, again)
		// modprobe may run again: its guard (/sys/module/NAME) is missing for some built-in
		// modules; loading a loaded module changes nothing.
		for _, c := range []string{"apt-get", "loginctl"} {
			if strings.Contains(string(again), c+" ") {
				t.Errorf("run %d called %s the second time", i, c)
			}
		}
		if mode == "ansible" && !strings.Contains(out2, "changed=0") {
			t.Errorf("ansible reports changes the second time:\n%s", out2)
		}
	}
	if checkDiff != nil {
		// After the runs, --check --diff shows nothing to change (and changes nothing).
		before := hashTrees(t)
		out, err := checkDiff()
		if err != nil || !strings.Contains(out, "changed=0") || strings.Contains(out, "+++ after") {
			t.Errorf("ansible-playbook --check --diff after the runs: %v\n%s", err, out)
		}
		if diff := diffHashes(before, hashTrees(t)); diff != "" {
			t.Errorf("--check changed files:\n%s", diff)
		}
	}

	// What the first run should have done.
	subuid, _ := os.ReadFile("/etc/subuid")
	subgid, _ := os.ReadFile("/etc/subgid")
	for _, want := range []string{"rdtest:", "rdhost$:"} {
		if !strings.Contains(string(subuid), want) {
			t.Errorf("/etc/subuid lacks %s:\n%s", want, subuid)
		}
	}
	if !strings.Contains(string(subgid), "rdtest:") || strings.Contains(string(subgid), "rdhost$:") {
		t.Errorf("/etc/subgid:\n%s", subgid)
	}
	// Every line the plan added is disjoint from every other line.
	ranges := parse.ParseSubIDs(subuid).Ranges
	for i := range ranges {
		if ranges[i].Owner != "rdtest" && ranges[i].Owner != "rdhost$" {
			continue
		}
		for j := range ranges {
			if i != j && ranges[i].Overlaps(ranges[j]) {
				t.Errorf("/etc/subuid ranges overlap: %q and %q", ranges[i].Text, ranges[j].Text)
			}
		}
	}
	if fi, err := os.Stat("/dev/net/tun"); err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("/dev/net/tun: %v %v", fi.Mode(), err)
	}
	if mode == "append" {
		if !regexp.MustCompile(`(?m)^rdtest:400500:500$`).Match(subuid) || strings.Contains(string(subuid), "rdtest:400000:1000") {
			t.Errorf("the overlapping range was not cut:\n%s", subuid)
		}
		// The staged line may be the file's first (a fresh machine has no other account with
		// subordinate ids): match it at the start of any line.
		if !regexp.MustCompile(`(?m)^rdtest:300000:10\nrdtest:`).Match(subgid) {
			t.Errorf("the line without a final newline was not kept apart:\n%s", subgid)
		}
		return
	}
	for _, f := range []string{fixes.SysctlFile, fixes.OptionalSysctlFile, fixes.DelegateFile, fixes.ModulesFile, "/etc/udev/rules.d/60-rootless-doctor-tun.rules",
		"/etc/apparmor.d/rootless-doctor.usr.local.bin.rootlesskit", "/var/lib/systemd/linger/rdtest"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not written: %v", err)
		}
	}
}

// hashTrees hashes every path, mode, owner, link target and content under the trees the
// plan may touch.
func hashTrees(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range []string{"/etc", "/dev/net", "/var/lib/systemd"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err != nil {
				return err
			}
			h := sha256.New()
			fmt.Fprintf(h, "%o %d %d ", st.Mode, st.Uid, st.Gid)
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				h.Write([]byte(target))
			case d.Type().IsRegular():
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				h.Write(data)
			}
			out[p] = hex.EncodeToString(h.Sum(nil))
			return nil
		})
		if err != nil {
			t.Fatalf("hashing %s: %v", root, err)
		}
	}
	return out
}

func diffHashes(a, b map[string]string) string {
	var d []string
	for p, h := range a {
		if b[p] == "" {
			d = append(d, "removed "+p)
		} else if b[p] != h {
			d = append(d, "changed "+p)
		}
	}
	for p := range b {
		if a[p] == "" {
			d = append(d, "added "+p)
		}
	}
	slices.Sort(d)
	return strings.Join(d, "\n")
}

// stepIndex is the index of the step with id in p.
func stepIndex(t *testing.T, p fixes.Plan, id string) int {
	t.Helper()
	for i, s := range p.Steps {
		if s.ID == id {
			return i
		}
	}
	t.Fatalf("no step %s in the plan", id)
	return -1
}
