package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestBootSysctls(t *testing.T) {
	m := alice().
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
	got, problems := bootSysctl(e, "kernel.a")
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
	if last, ok := bootValue(e, "kernel.a"); !ok || last.Value != "4" || last.Line != 1 {
		t.Errorf("bootValue = %+v, %v", last, ok)
	}
	if s, _ := bootSysctl(e, "user.max_user_namespaces"); len(s) != 0 {
		t.Errorf("a masked directory's file was read: %+v", s)
	}
	if _, ok := bootValue(e, "kernel.none"); ok {
		t.Errorf("bootValue of an unset key is ok")
	}
}
