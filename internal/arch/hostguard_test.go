package arch

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// rootTest marks a test that does something only as root (docs/contributing.md: tests that
// need root skip with a printed reason elsewhere).
var rootTest = regexp.MustCompile(`os\.Geteuid\(\)|\bNeedRoot\(|\bneedRoot\(|livetest\.Lock\(`)

// TestLiveTestsAreGuarded: every package with tests that run as root has a TestMain that wraps
// its tests in livetest.HostGuard, which fails the run when /etc/subuid, /etc/subgid, the
// installed packages or /run/user differ afterwards (issue 10: a live test ran apt-get install
// on the host and left a line in /etc/subuid, and nothing noticed).
func TestLiveTestsAreGuarded(t *testing.T) {
	root := filepath.Join("..", "..")
	live := map[string]bool{}
	guarded := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") || p == filepath.Join(root, "internal", "arch", "hostguard_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(p))
		if rootTest.Match(data) {
			live[dir] = true
		}
		if strings.Contains(string(data), "HostGuard(m)") {
			guarded[dir] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for dir := range live {
		if !guarded[dir] {
			missing = append(missing, dir)
		}
	}
	sort.Strings(missing)
	for _, dir := range missing {
		t.Errorf("%s has tests that run as root but no TestMain with livetest.HostGuard(m) (see checks/parse/main_test.go)", dir)
	}
	if len(live) < 5 {
		t.Errorf("only %d packages with tests that run as root found: the scan is broken", len(live))
	}
}
