package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFleetMemoryIsFlatInHostCount: a fleet kept every host's whole tree alive until the
// end (rep.Plan = &run.Plan held the run, its Env and its Host): 400 copies of a 218 KB
// snapshot took 1.05 GB. Each tree here carries 8 MiB more than its probes read; 4× the hosts
// must cost about what 1× does, not 4× the trees.
func TestFleetMemoryIsFlatInHostCount(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two fleets of recorded hosts")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := exec.Command("cp", "-r", filepath.Join("..", "..", "..", "fixtures", "debian-12-ok"), tree).Run(); err != nil {
		t.Fatal(err)
	}
	// Loaded with the tree (LoadTree keeps files up to MaxRead), never read by a probe; sparse.
	for _, pad := range []string{"pad1", "pad2"} {
		if err := os.WriteFile(filepath.Join(tree, pad), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filepath.Join(tree, pad), 4<<20); err != nil {
			t.Fatal(err)
		}
	}
	fleet := func(n int) int64 {
		var roots []string
		for i := range n {
			p := filepath.Join(dir, fmt.Sprintf("host-%d-%d", n, i))
			if err := os.Symlink(tree, p); err != nil {
				t.Fatal(err)
			}
			roots = append(roots, p)
		}
		code, stderr, rss := runChild(t, "check", "--root", strings.Join(roots, ","))
		if code != ExitOK {
			t.Fatalf("a fleet of %d: exit %d: %s", n, code, stderr)
		}
		return rss
	}
	const n = 25
	one, four := fleet(n), fleet(4*n)
	t.Logf("peak RSS: %d hosts %d MB, %d hosts %d MB", n, one>>20, 4*n, four>>20)
	// Kept per host now: its report (tens of kilobytes), until issue 16 streams the fleet. A
	// tree kept alive is 8 MiB: 600 MB for the 75 more hosts. Allowed: a tenth of that.
	if grown := four - one; grown > 60<<20 {
		t.Errorf("%d more hosts cost %d MB more: the trees are kept (%d MB for %d hosts, %d MB for %d)", 3*n, grown>>20, one>>20, n, four>>20, 4*n)
	}
}
