package facts

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestBootSysctls(t *testing.T) {
	m := host.NewMemory().
		File("/usr/lib/sysctl.d/50-default.conf", "kernel.a = 1\nuser.max_user_namespaces = 0\n").
		File("/usr/lib/sysctl.d/10-masked.conf", "kernel.a = masked\n").
		Symlink("/etc/sysctl.d/10-masked.conf", "/dev/null").
		File("/run/sysctl.d/50-default.conf", "kernel.a = from-run\n"). // masks /usr/lib's file of the same name
		File("/usr/local/lib/sysctl.d/70-local.conf", "kernel.a = 3\n").
		File("/lib/sysctl.d/05-lib.conf", "kernel.a = 0\n").
		File("/etc/sysctl.d/README", "kernel.a = not a conf file\n").
		File("/etc/sysctl.d/.hidden.conf", "kernel.a = hidden\n").
		Symlink("/etc/sysctl.d/99-sysctl.conf", "../sysctl.conf").
		File("/etc/sysctl.conf", "kernel/a = 4\n").
		File("/etc/sysctl.d/80-secret.conf", "kernel.a = secret\n").Meta("/etc/sysctl.d/80-secret.conf", host.FileMeta{Mode: "0000"})
	e := NewEnv(context.Background(), m.Host(), "")
	boot := e.SysctlBoot()
	got, problems := boot.Of("kernel.a"), boot.Problems
	var order []string
	for _, s := range got {
		order = append(order, s.File+"="+s.Value)
	}
	want := "/lib/sysctl.d/05-lib.conf=0 /run/sysctl.d/50-default.conf=from-run /usr/local/lib/sysctl.d/70-local.conf=3 /etc/sysctl.d/99-sysctl.conf=4"
	if strings.Join(order, " ") != want {
		t.Errorf("order =\n%s\nwant\n%s", strings.Join(order, " "), want)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "80-secret.conf") {
		t.Errorf("problems = %q", problems)
	}
	if last, ok := boot.Last("kernel.a"); !ok || last.Value != "4" || last.Line != 1 {
		t.Errorf("Last = %+v, %v", last, ok)
	}
	if s := boot.Of("user.max_user_namespaces"); len(s) != 0 {
		t.Errorf("a masked directory's file was read: %+v", s)
	}
	if _, ok := boot.Last("kernel.none"); ok {
		t.Errorf("Last of an unset key is ok")
	}
}

// TestSysctlBootOnce: however many probes ask, concurrently, the boot configuration is read
// once per run. Before issue 11 the memo ran its function outside its lock and the planner
// had a scan of its own: /etc/sysctl.d was listed three times in one run (see also
// TestOneSysctlScanPerRun in package checks, which counts a whole check and plan).
func TestSysctlBootOnce(t *testing.T) {
	h := host.NewCounting(host.NewMemory().File("/etc/sysctl.d/99-x.conf", "user.max_user_namespaces = 0\n").Host())
	e := NewEnv(context.Background(), h, "")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { e.SysctlBoot() })
	}
	wg.Wait()
	if n := h.Lists("/etc/sysctl.d"); n != 1 {
		t.Errorf("/etc/sysctl.d listed %d times, want 1", n)
	}
	if s, ok := e.SysctlBoot().Last("user.max_user_namespaces"); !ok || s.Value != "0" || s.Real != "/etc/sysctl.d/99-x.conf" || s.Name != "99-x.conf" {
		t.Errorf("Last = %+v, %v", s, ok)
	}
}
