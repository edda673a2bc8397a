package parse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// TestGetsubidsAgrees compares ParseSubIDs with shadow itself: for each file, as root, in a
// private mount namespace whose /etc/subuid (and /etc/nsswitch.conf, so that no libsubid
// module answers instead) are bind-mounted test files, `getsubids rdX` must list exactly the
// entries SubIDs.Shadow holds for rdX, in order; and every range ParseSubIDs accepts must be
// among them. The host's files are never touched.
func TestGetsubidsAgrees(t *testing.T) {
	livetest.NeedRoot(t, "getsubids")
	for _, p := range []string{"/etc/subuid", "/etc/nsswitch.conf"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("live test: %s is missing, nothing to bind-mount over: %v", p, err)
		}
	}
	files := map[string]string{
		"decimal":           "rdX:100000:65536\nrdY:165536:65536\n",
		"octal":             "rdX:0503240:0200000\n",
		"hex":               "rdX:0x186a0:0X10000\nrdX:0xABC:0x1\n",
		"leading zeros":     "rdX:00100000:065536\n",
		"not octal":         "rdX:08:1\nrdX:1:09\n",
		"CRLF":              "rdX:100000:65536\r\nrdX:200000:65536\r\n",
		"CR in start":       "rdX:100000\r:65536\n",
		"spaces":            "rdX: 100000:\t65536\nrdX:100000 :65536\nrdX:100000:65536 \n rdX:1:1\nrdX :1:1\n",
		"other blanks":      "rdX:\v\f\r12:3\n",
		"plus":              "rdX:+100000:+65536\n",
		"overflow":          "rdX:99999999999999999999:1\nrdX:1:18446744073709551616\nrdX:1:18446744073709551615\n",
		"negative":          "rdX:-1:5\nrdX:7:-1\nrdX:-0:1\n",
		"trailing garbage":  "rdX:100000x:1\nrdX:1:65536abc\nrdX:0x:1\n",
		"empty fields":      "rdX::1\nrdX:1:\nrdX::\n:1:1\n",
		"few fields":        "rdX\nrdX:1\n",
		"extra fields":      "rdX:1:2:3\nrdX:4:5::\n",
		"zero count":        "rdX:100000:0\n",
		"past 2^32":         "rdX:4294967295:1\nrdX:4294967290:100\nrdX:4294967294:1\n",
		"duplicate lines":   "rdX:100000:65536\nrdX:100000:65536\nrdY:100000:65536\n",
		"NIS":               "+rdX:1:1\n-rdX:2:2\n",
		"comments":          "#rdX:5:5\n# rdX:6:6\n",
		"long line":         "rdX:1:1" + strings.Repeat("0", 1016) + "\nrdX:2:2\n",
		"no final newline":  "rdX:1:1\nrdX:2:2",
		"blank lines":       "\n\n  \nrdX:3:3\n\n",
		"uppercase owner":   "RDX:1:1\nrdX:2:2\n",
		"numbers only":      "rdX:0:0\nrdX:00:00\nrdX:0x0:0x0\n",
		"octal max":         "rdX:037777777776:01\n",
		"hex digits in dec": "rdX:1a:1\n",
	}
	dir := t.TempDir()
	nss := filepath.Join(dir, "nsswitch.conf")
	if err := os.WriteFile(nss, []byte("passwd: files\ngroup: files\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, name := range names {
		content := files[name]
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, fmt.Sprintf("subuid%d", i))
			if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			var out []byte
			var runErr error
			livetest.InMountNamespace(t, map[string]string{"/etc/subuid": f, "/etc/nsswitch.conf": nss}, func() {
				out, runErr = exec.Command("getsubids", "rdX").Output()
			})
			var ee *exec.ExitError
			if runErr != nil && !(errors.As(runErr, &ee) && ee.ExitCode() == 1) {
				t.Fatalf("getsubids: %v", runErr)
			}
			var real []ShadowEntry
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				var idx int
				var e ShadowEntry
				if _, err := fmt.Sscanf(sc.Text(), "%d: %s %d %d", &idx, &e.Owner, &e.Start, &e.Count); err != nil {
					t.Fatalf("getsubids printed %q: %v", sc.Text(), err)
				}
				real = append(real, e)
			}
			parsed := ParseSubIDs([]byte(content))
			var ours []ShadowEntry
			for _, e := range parsed.Shadow {
				if e.Owner == "rdX" {
					e.Line = 0
					ours = append(ours, e)
				}
			}
			if !slices.Equal(ours, real) {
				t.Errorf("for %q getsubids lists %v, ParseSubIDs reads %v", content, real, ours)
			}
			for _, r := range parsed.Ranges {
				if r.Owner == "rdX" && !slices.Contains(real, ShadowEntry{Owner: "rdX", Start: uint64(r.Start), Count: uint64(r.Count)}) {
					t.Errorf("ParseSubIDs accepts %+v, which getsubids does not list (%v)", r, real)
				}
			}
		})
	}
}
