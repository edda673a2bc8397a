package host

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseManifest: any bytes give a manifest within the limits or an error wrapping
// ErrManifest, never a panic; an accepted manifest survives a round trip through JSON. Seeds:
// the fixtures' manifests and testdata/fuzz/FuzzParseManifest.
func FuzzParseManifest(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("..", "fixtures", "*", ManifestName))
	for _, p := range fixtures {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("error %v does not wrap ErrManifest", err)
			}
			return
		}
		if len(m.Files) > maxManifestFiles || len(m.Env) > maxManifestEnv || len(m.Commands) > maxManifestCommands || len(m.FSTypes) > maxManifestFSTypes {
			t.Fatalf("accepted over the limits: %d files, %d env, %d commands, %d fstypes", len(m.Files), len(m.Env), len(m.Commands), len(m.FSTypes))
		}
		for p, fm := range m.Files {
			if fm.UID != nil && (*fm.UID < 0 || int64(*fm.UID) > MaxID) || len(p) > MaxPathLen {
				t.Fatalf("accepted file %q %+v", p, fm)
			}
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManifest(again); err != nil {
			t.Fatalf("an accepted manifest does not parse again: %v\n%s", err, again)
		}
	})
}
