package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// fakeSys is an in-memory System: files, a script of command results, and a log of what
// was done. Commands change files through effects.
type fakeSys struct {
	files   map[string]string
	modes   map[string]fs.FileMode
	backups map[string]string
	// fail makes a command fail when it contains the key.
	fail map[string]bool
	// succeed makes an Unless condition succeed when it equals the key.
	succeed map[string]bool
	// effects change files when a command containing the key runs.
	effects map[string]func(*fakeSys)
	log     []string
}

func newFake() *fakeSys {
	return &fakeSys{files: map[string]string{}, modes: map[string]fs.FileMode{}, backups: map[string]string{},
		fail: map[string]bool{}, succeed: map[string]bool{}, effects: map[string]func(*fakeSys){}}
}

func (f *fakeSys) Run(_ context.Context, c string) (string, error) {
	f.log = append(f.log, "run "+c)
	if f.succeed[c] {
		return "", nil
	}
	for k := range f.fail {
		if strings.Contains(c, k) {
			return "boom\n", errors.New("exit status 1")
		}
	}
	for k, e := range f.effects {
		if strings.Contains(c, k) {
			e(f)
		}
	}
	if strings.HasPrefix(c, "dpkg ") {
		return "", errors.New("exit status 1")
	}
	return "", nil
}

func (f *fakeSys) ReadFile(p string) ([]byte, fs.FileMode, error) {
	c, ok := f.files[p]
	if !ok {
		return nil, 0, fmt.Errorf("open %s: %w", p, fs.ErrNotExist)
	}
	return []byte(c), f.modes[p], nil
}

func (f *fakeSys) WriteFile(p string, content []byte, mode fs.FileMode) error {
	f.log = append(f.log, "write "+p)
	f.files[p], f.modes[p] = string(content), mode
	return nil
}

func (f *fakeSys) Backup(p string) (string, error) {
	c, ok := f.files[p]
	if !ok {
		return "", nil
	}
	dst := "/backup" + p
	f.log = append(f.log, "backup "+p)
	f.backups[dst] = c
	return dst, nil
}

func (f *fakeSys) Discard(b string) error {
	f.log = append(f.log, "discard "+b)
	delete(f.backups, b)
	return nil
}

func testPlan() fixes.Plan {
	return fixes.Plan{Steps: []fixes.Step{
		{ID: "sysctl", Title: "Set the sysctl", Fixes: []string{"userns.max"},
			Files:    []fixes.File{{Path: "/etc/sysctl.d/60-rootless-doctor.conf", Mode: "0644", Content: "user.max_user_namespaces = 28633\n"}},
			Commands: []string{"sysctl -p /etc/sysctl.d/60-rootless-doctor.conf"}},
		{ID: "subids.alice", Title: "Give alice ids", Fixes: []string{"idmap.subuid"},
			Commands: []string{"if ! grep -qxF alice:165536:65536 /etc/subuid; then usermod --add-subuids 165536-231071 alice; fi"}},
		{ID: "packages", Title: "Install uidmap", Fixes: []string{"idmap.newuidmap"},
			Commands: []string{"apt-get install -y uidmap </dev/null"}, Unless: "dpkg -s uidmap"},
		{ID: "manual.x", Title: "Do it by hand", Manual: true, Fixes: []string{"cgroup.version"}, Commands: []string{}},
		{ID: "session.relogin", Title: "Log out and in", Manual: true, Relogin: true, Commands: []string{}},
		{ID: "sysctl.optional", Title: "Optional", Optional: true, Commands: []string{"sysctl -w net.ipv4.ping_group_range='0 1'"}},
	}}
}

func TestApplyRunsOnlyThePlan(t *testing.T) {
	f := newFake()
	f.files["/etc/subuid"], f.modes["/etc/subuid"] = "root:100000:65536\n", 0o644
	f.files["/etc/subgid"], f.modes["/etc/subgid"] = "root:100000:65536\n", 0o644
	f.effects["usermod"] = func(f *fakeSys) { f.files["/etc/subuid"] += "alice:165536:65536\n" }
	var log bytes.Buffer
	out := (&Applier{Sys: f, Log: &log}).Apply(context.Background(), testPlan())
	states := []string{}
	for _, s := range out.Steps {
		states = append(states, s.State)
	}
	want := []string{StateDone, StateDone, StateDone, StateManual, StateManual, StateOptional}
	if !slices.Equal(states, want) {
		t.Fatalf("states = %v, want %v\n%s", states, want, log.String())
	}
	if out.Failed() || !out.Changed() {
		t.Errorf("Failed = %v, Changed = %v", out.Failed(), out.Changed())
	}
	wantLog := []string{
		"write /etc/sysctl.d/60-rootless-doctor.conf",
		"run sysctl -p /etc/sysctl.d/60-rootless-doctor.conf",
		"backup /etc/subgid", "backup /etc/subuid",
		"run if ! grep -qxF alice:165536:65536 /etc/subuid; then usermod --add-subuids 165536-231071 alice; fi",
		"discard /backup/etc/subgid",
		"run dpkg -s uidmap",
		"run apt-get install -y uidmap </dev/null",
	}
	if !slices.Equal(f.log, wantLog) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(f.log, "\n"), strings.Join(wantLog, "\n"))
	}
	// Only /etc/subuid changed: its backup is kept, the unchanged /etc/subgid's is dropped.
	if got := slices.Sorted(maps.Keys(f.backups)); !slices.Equal(got, []string{"/backup/etc/subuid"}) {
		t.Errorf("backups = %v", got)
	}
	if f.backups["/backup/etc/subuid"] != "root:100000:65536\n" {
		t.Errorf("the backup is not the old content: %q", f.backups["/backup/etc/subuid"])
	}
	if got := out.Steps[1].Changed; !slices.Equal(got, []string{"/etc/subuid"}) {
		t.Errorf("changed = %v", got)
	}
	// Never written: files not in the plan; never run: manual and optional steps.
	for _, l := range f.log {
		if strings.Contains(l, "ping_group_range") {
			t.Errorf("optional step ran: %s", l)
		}
	}
	var rep bytes.Buffer
	if err := WriteOutcome(&rep, testPlan(), out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"1. Set the sysctl: done", "4. Do it by hand: not done: by hand", "5. Log out and in: not done: log out and in again", "O1. Optional: not done: optional"} {
		if !strings.Contains(rep.String(), s) {
			t.Errorf("outcome lacks %q:\n%s", s, rep.String())
		}
	}
}

func TestApplyTwiceChangesNothing(t *testing.T) {
	f := newFake()
	f.files["/etc/subuid"], f.modes["/etc/subuid"] = "", 0o644
	f.files["/etc/subgid"], f.modes["/etc/subgid"] = "", 0o644
	f.effects["usermod"] = func(f *fakeSys) {
		if !strings.Contains(f.files["/etc/subuid"], "alice") {
			f.files["/etc/subuid"] += "alice:165536:65536\n"
		}
	}
	p := testPlan()
	(&Applier{Sys: f}).Apply(context.Background(), p)
	before := maps.Clone(f.files)
	f.log = nil
	f.succeed["dpkg -s uidmap"] = true
	out := (&Applier{Sys: f}).Apply(context.Background(), p)
	if !maps.Equal(before, f.files) {
		t.Errorf("the second apply changed files")
	}
	for _, l := range f.log {
		if strings.HasPrefix(l, "write ") {
			t.Errorf("the second apply wrote: %s", l)
		}
	}
	if len(f.backups) != 0 && out.Changed() {
		t.Errorf("second apply: changed %v", out.Steps)
	}
	if out.Changed() {
		t.Errorf("second apply reports changes")
	}
	if got := out.Steps[2].State; got != StateAlready {
		t.Errorf("Unless succeeded: state = %s, want %s", got, StateAlready)
	}
}

func TestApplyWritesWhenModeDiffers(t *testing.T) {
	f := newFake()
	p := testPlan()
	f.files[p.Steps[0].Files[0].Path], f.modes[p.Steps[0].Files[0].Path] = p.Steps[0].Files[0].Content, 0o600
	(&Applier{Sys: f}).Apply(context.Background(), fixes.Plan{Steps: p.Steps[:1]})
	if f.modes[p.Steps[0].Files[0].Path] != 0o644 {
		t.Errorf("mode = %o", f.modes[p.Steps[0].Files[0].Path])
	}
	if !slices.Contains(f.log, "backup "+p.Steps[0].Files[0].Path) {
		t.Errorf("no backup before the change: %v", f.log)
	}
}

func TestApplyStopsAtFirstFailure(t *testing.T) {
	f := newFake()
	f.fail["usermod"] = true
	var log bytes.Buffer
	out := (&Applier{Sys: f, Log: &log}).Apply(context.Background(), testPlan())
	if !out.Failed() {
		t.Fatal("not failed")
	}
	if s := out.Steps[1]; s.State != StateFailed || s.Err == nil {
		t.Errorf("step 2 = %s (%v)", s.State, s.Err)
	}
	if s := out.Steps[2]; s.State != StateNotRun {
		t.Errorf("step 3 = %s, want not run", s.State)
	}
	for _, l := range f.log {
		if strings.Contains(l, "apt-get") || strings.Contains(l, "dpkg") {
			t.Errorf("ran after the failure: %s", l)
		}
	}
	if !strings.Contains(log.String(), "boom") || !strings.Contains(log.String(), "failed:") {
		t.Errorf("log lacks the command's output or the failure:\n%s", log.String())
	}
	var rep bytes.Buffer
	WriteOutcome(&rep, testPlan(), out)
	if !strings.Contains(rep.String(), "2. Give alice ids: FAILED") || !strings.Contains(rep.String(), "3. Install uidmap: not done (an earlier step failed)") {
		t.Errorf("outcome:\n%s", rep.String())
	}
}

func TestApplyRefusesAnUnsafePlan(t *testing.T) {
	f := newFake()
	p := fixes.Plan{Steps: []fixes.Step{{ID: "x", Title: "x", Commands: []string{"echo\nEOF"}}}}
	out := (&Applier{Sys: f}).Apply(context.Background(), p)
	if !out.Failed() || len(f.log) != 0 {
		t.Errorf("failed = %v, log = %v", out.Failed(), f.log)
	}
}

func TestTouched(t *testing.T) {
	s := fixes.Step{Commands: []string{
		`[ -z "$(tail -c 1 /etc/subuid)" ] || echo >>/etc/subuid`,
		"awk -F: 'x' /etc/subgid /etc/group",
		"if grep -qxF 'alice:1:2' /etc/subuid; then usermod --del-subuids 1-2 alice; fi",
		"chmod 0666 /dev/net/tun",
		"grep -qxF x /etc/login.defs || printf '%s\\n' x >> /etc/login.defs",
		"[ -e /etc/subuid ] || { : >/etc/subuid; chmod 0644 /etc/subuid; }",
		"if grep -qxF 'a:1:2' /etc/subgid; then sed -i '/^a:1:2$/d' /etc/subgid; fi",
	}}
	want := []string{"/etc/login.defs", "/etc/subgid", "/etc/subuid"}
	if got := touched(s); !slices.Equal(got, want) {
		t.Errorf("touched = %v, want %v", got, want)
	}
}

func TestRunnable(t *testing.T) {
	if Runnable(fixes.Plan{Steps: []fixes.Step{{Manual: true}, {Optional: true}}}) {
		t.Error("manual and optional steps are not runnable")
	}
	if !Runnable(testPlan()) {
		t.Error("testPlan is runnable")
	}
}

// TestTouchedCRLF: the planner's CRLF repair edits /etc/subuid with sed -i, and the applier
// must see that write so that it backs the file up first.
func TestTouchedCRLF(t *testing.T) {
	p, err := fixes.Build(fixes.Input{Requests: []fixes.Request{
		{ProbeID: "idmap.subuid", Intent: finding.StripCR("/etc/subuid", "CRLF")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) == 0 || p.Steps[0].ID != "crlf.subuid" {
		t.Fatalf("steps: %+v", p.Steps)
	}
	if got := touched(p.Steps[0]); !slices.Equal(got, []string{"/etc/subuid"}) {
		t.Errorf("touched = %v: the applier would not back /etc/subuid up", got)
	}
}
