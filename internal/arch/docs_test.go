package arch

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks"
)

var update = flag.Bool("update", false, "rewrite the generated sections of the docs")

// section replaces (with -update) or checks the text between the markers
// "<!-- BEGIN generated: NAME -->" and "<!-- END generated: NAME -->" of a file of the
// repository.
func section(t *testing.T, file, name, want string) {
	t.Helper()
	p := filepath.Join("..", "..", file)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	begin := "<!-- BEGIN generated: " + name + " (go test ./internal/arch -update) -->\n"
	end := "<!-- END generated: " + name + " -->"
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no section %q between the markers %q and %q", file, name, begin, end)
	}
	got := s[i+len(begin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(p, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the section %q is not what the code says; run go test ./internal/arch -update (make docs). It should be:\n%s", file, name, want)
}

// TestArchitectureGraph: the package graph of docs/architecture.md is the one go list sees.
func TestArchitectureGraph(t *testing.T) {
	pkgs := ourPackages(t)
	var names []string
	for p := range pkgs {
		if p == "internal/arch" {
			continue
		}
		names = append(names, p)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart BT\n")
	for _, p := range names {
		for _, imp := range pkgs[p] {
			fmt.Fprintf(&b, "  %s --> %s\n", node(p), node(imp))
		}
	}
	b.WriteString("```\n\n| package | imports of this module |\n| --- | --- |\n")
	for _, p := range names {
		imps := pkgs[p]
		cell := "—"
		if len(imps) > 0 {
			cell = "`" + strings.Join(imps, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", p, cell)
	}
	section(t, "docs/architecture.md", "package graph", b.String())
}

func node(p string) string {
	return strings.NewReplacer("/", "_", "-", "_").Replace(p) + "[" + p + "]"
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// TestProbeTables: the probe tables of README.md and docs/probes.md are the registry's.
func TestProbeTables(t *testing.T) {
	var readme, probes strings.Builder
	readme.WriteString("| id | what it reads | fails / warns when |\n| --- | --- | --- |\n")
	probes.WriteString("| id | title | what it reads | fixes it may ask for | fails / warns when |\n| --- | --- | --- | --- | --- |\n")
	for _, p := range checks.All() {
		var kinds []string
		for _, k := range p.Fixes {
			kinds = append(kinds, string(k))
		}
		fmt.Fprintf(&readme, "| `%s` | %s | %s |\n", p.ID, cell(strings.Join(p.Reads, "; ")), cell(p.Fails))
		fmt.Fprintf(&probes, "| `%s` | %s | %s | %s | %s |\n", p.ID, cell(p.Title), cell(strings.Join(p.Reads, "; ")), strings.Join(kinds, ", "), cell(p.Fails))
	}
	section(t, "README.md", "probe table", readme.String())
	section(t, "docs/probes.md", "probe table", probes.String())
}
