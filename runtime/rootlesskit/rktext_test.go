package rootlesskit

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTextsInRootlesskitSource finds, verbatim, the source of every piece of rootlesskit text
// the proof and the daemon match (rktext.go) in the rootlesskit module go.mod requires. When a
// rootlesskit bump rewords a message, this fails, naming it: update the Text and the code
// that reads it. It needs the module's source, which `go mod download` fetches.
func TestTextsInRootlesskitSource(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/rootless-containers/rootlesskit/v3").Output()
	if err != nil {
		t.Fatalf("go list -m rootlesskit: %v", err)
	}
	var mod struct{ Dir, Version string }
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatal(err)
	}
	if mod.Dir == "" {
		t.Fatalf("rootlesskit %s has no source on this machine: run go mod download", mod.Version)
	}
	var src bytes.Buffer
	err = filepath.WalkDir(mod.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		src.Write(b)
		src.WriteByte('\n')
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	texts := Texts()
	if len(texts) < 25 {
		t.Fatalf("Texts lists %d texts: it must list every Text of rktext.go", len(texts))
	}
	for _, x := range texts {
		if !strings.Contains(strings.ToLower(x.Source), strings.ToLower(x.Match)) {
			t.Errorf("%q: the source %s does not print it", x.Match, x.Source)
		}
		if !bytes.Contains(src.Bytes(), []byte(x.Source)) {
			t.Errorf("rootlesskit %s no longer has %s (matched as %q): its wording changed", mod.Version, x.Source, x.Match)
		}
	}
}

// TestPastaUsable: the proof's --net auto reads pasta's version with the parser net.driver
// uses, so the distributions' spellings count as dates.
func TestPastaUsable(t *testing.T) {
	for _, tt := range []struct {
		out string
		ok  bool
	}{
		{"pasta 2024_05_23.765eb0b\nCopyright Red Hat\n", true},
		{"pasta 0^20231204.gb86afe3-1.fc39.x86_64\n", true},   // Fedora
		{"pasta 0.0~git20240220.1e6f92b-1\n", true},           // Debian, Ubuntu
		{"pasta 2023_03_09.ee7d0b6\n", false},                 // older than 2023_12_04
		{"pasta 0.0~git20230309.7c7625d-1\n", false},          // Debian 12's date
		{"pasta unknown version\nCopyright Red Hat\n", false}, // Debian 12's build
		{"", false},
	} {
		ok, why := PastaUsable([]byte(tt.out))
		if ok != tt.ok || (!ok && why == "") {
			t.Errorf("PastaUsable(%q) = %v %q, want %v", tt.out, ok, why, tt.ok)
		}
	}
}
