package cli

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestSnapshotOfFixturesReplaysTheSame snapshots every fixture (a recorded host stands in for
// the live one), as a directory and as a .tar.gz, and checks that replaying the snapshot gives
// every probe the same status and summary as the fixture itself.
func TestSnapshotOfFixturesReplaysTheSame(t *testing.T) {
	fixtures, _ := filepath.Glob(filepath.Join("..", "..", "..", "fixtures", "*", host.ManifestName))
	if len(fixtures) == 0 {
		t.Fatal("no fixtures found")
	}
	for _, mf := range fixtures {
		fixture := filepath.Dir(mf)
		t.Run(filepath.Base(fixture), func(t *testing.T) {
			for _, out := range []string{"snap", "snap.tar.gz"} {
				dst := filepath.Join(t.TempDir(), out)
				ios, _, _, _ := TestIO()
				f := NewFactory()
				f.IO = ios
				f.Host = func(root string) (host.Host, error) {
					if root == "" {
						return host.OpenTree(fixture)
					}
					return openHost(root)
				}
				if code := Execute(context.Background(), f, []string{"snapshot", "-o", dst}); code != 0 {
					t.Fatalf("snapshot exit %d", code)
				}
				want := staticResults(t, f, fixture)
				got := staticResults(t, f, dst)
				if len(got) != len(want) {
					t.Fatalf("%s: %d results, want %d", out, len(got), len(want))
				}
				for i := range want {
					if got[i].ID != want[i].ID || got[i].Status != want[i].Status || got[i].Summary != want[i].Summary {
						t.Errorf("%s: %s %s (%s), fixture %s %s (%s)", out, got[i].ID, got[i].Status, got[i].Summary,
							want[i].ID, want[i].Status, want[i].Summary)
					}
				}
			}
		})
	}
}

func staticResults(t *testing.T, f *Factory, root string) []finding.Result {
	t.Helper()
	run, err := runProbes(context.Background(), f, runSpec{Root: root, Static: true})
	if err != nil {
		t.Fatal(err)
	}
	return run.Results
}
