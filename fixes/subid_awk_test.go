package fixes

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFreeRangeAwk runs the query the Ansible form uses to compute a free range on each host,
// with the awk of this machine: it goes around every line of the subid file as shadow reads
// it (an octal start included), around real ids, inside login.defs' bounds, and says "have"
// when the account already has enough.
func TestFreeRangeAwk(t *testing.T) {
	awk, err := exec.LookPath("awk")
	if err != nil {
		t.Skip("skipping: no awk")
	}
	for _, d := range []string{"{{", "{%", "{#"} {
		if strings.Contains(freeRangeAwk, d) || strings.Contains(freeAwk, d) {
			t.Fatalf("the awk program holds %q, which Ansible would template", d)
		}
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	defs := write("login.defs", "# comment\nSUB_UID_MIN\t\t 100000\nSUB_UID_MAX\t600100000\n")
	passwd := write("passwd", "root:x:0:0::/root:/bin/sh\nodd:x:231100:231100::/:/bin/false\n")
	for _, tt := range []struct {
		name, subuid, user string
		count              int64
		want               string
	}{
		{"empty", "", "alice", 65536, "100000"},
		// 0503240 is octal (165536) to shadow: 100000-165535 and 165536-231071 are taken, and
		// uid 231100 is a real uid.
		{"octal and real ids", "bob:100000:65536\nrdoct:0503240:0200000\n", "alice", 65536, "231101"},
		{"has enough", "alice:300000:65536\n", "alice", 65536, "have"},
		{"has too few", "alice:100000:1000\n", "alice", 65536, "101000"},
		{"skipped lines", "+nis:100000:65536\nbad line\nzero:100000:0\n", "alice", 1000, "100000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sub := write("subuid", tt.subuid)
			argv := freeRangeArgv(sub, passwd, "subuids", tt.user, tt.count)
			for i, a := range argv {
				if a == "defs=/etc/login.defs" {
					argv[i] = "defs=" + defs
				}
			}
			out, err := exec.Command(awk, argv[1:]...).Output()
			if err != nil || strings.TrimSpace(string(out)) != tt.want {
				t.Errorf("got %q (%v), want %s", out, err, tt.want)
			}
		})
	}
	// No room: a usage-sized message and exit 1.
	small := write("small.defs", "SUB_UID_MIN 100000\nSUB_UID_MAX 100999\n")
	argv := freeRangeArgv(write("subuid", "bob:100000:500\n"), passwd, "subuids", "alice", 1000)
	for i, a := range argv {
		if a == "defs=/etc/login.defs" {
			argv[i] = "defs=" + small
		}
	}
	if out, err := exec.Command(awk, argv[1:]...).CombinedOutput(); err == nil || !strings.Contains(string(out), "no free range") {
		t.Errorf("no room: %v %q", err, out)
	}
}
