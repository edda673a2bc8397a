package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
)

// `snapshot -o DIR` in a directory another account can write (issue 10): the tree went to
// DIR.tmp, which it emptied first (deleting whatever was planted there) and then opened by
// name, so that a symlink swapped in between made it write the snapshot wherever the symlink
// pointed. Now the tree goes to a new directory of a random name, made with mkdirat and
// checked through its descriptor, and is renamed into place (docs/security.md, "Files").

// TestWriteTreeLeavesPlantedTmpAlone: a DIR.tmp that was there before is neither emptied nor
// used.
func TestWriteTreeLeavesPlantedTmpAlone(t *testing.T) {
	rec := NewRecording(source())
	probe(t, rec)
	dir := filepath.Join(t.TempDir(), "snap")
	if err := os.MkdirAll(dir+".tmp", 0o777); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir+".tmp", "theirs"), []byte("keep"), 0o644)
	if err := rec.WriteTree(dir, RecordOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir+".tmp", "theirs")); string(b) != "keep" || err != nil {
		t.Errorf("the planted DIR.tmp was emptied: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir+".tmp", host.ManifestName)); err == nil {
		t.Error("the snapshot was written into the planted DIR.tmp")
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Fatalf("snapshot dir: %v %v, want a 0755 directory", fi, err)
	}
	if _, err := host.OpenTree(dir); err != nil {
		t.Error(err)
	}
}

// TestWriteTreeRace swaps every temporary directory of the snapshot, as soon as it appears, for
// a symlink to a directory the attacker wants written, while snapshots are written over and
// over. Nothing may land in that directory.
func TestWriteTreeRace(t *testing.T) {
	if testing.Short() {
		t.Skip("race loop: skipped with -short")
	}
	rec := NewRecording(source())
	probe(t, rec)
	shared := t.TempDir()
	target := t.TempDir()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for !stop.Load() {
			ents, _ := os.ReadDir(shared)
			for _, e := range ents {
				if !strings.Contains(e.Name(), ".tmp") || !e.IsDir() {
					continue
				}
				p := filepath.Join(shared, e.Name())
				n++
				if os.Rename(p, filepath.Join(shared, "moved-"+e.Name()+"-"+string(rune('a'+n%26)))) == nil {
					_ = os.Symlink(target, p)
				}
			}
			// Plant the old fixed name ahead of the writer too.
			for i := range 5 {
				_ = os.Symlink(target, filepath.Join(shared, "snap"+string(rune('0'+i))+".tmp"))
			}
		}
	}()
	for i := range 300 {
		_ = rec.WriteTree(filepath.Join(shared, "snap"+string(rune('0'+i%5))), RecordOptions{})
		if ents, _ := os.ReadDir(target); len(ents) > 0 {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("write %d: the snapshot landed in the symlink's target: %v", i, ents)
		}
		os.RemoveAll(filepath.Join(shared, "snap"+string(rune('0'+i%5))))
	}
	stop.Store(true)
	wg.Wait()
}
