package arch

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// catalogueRef is how the code cites a failure mode (docs/contributing.md): a path a reader of
// the repository can open, with the entry's id as its fragment.
var catalogueRef = regexp.MustCompile(`docs/failures/catalogue\.json#([A-Za-z0-9_-]+)`)

// TestCatalogueCitations: every citation of docs/failures/catalogue.json in the code (comments
// and strings) names an entry the catalogue has, and no text the tool prints names the
// catalogue any other way: a user cannot follow "(catalogue: subuid-range-too-small)", which
// the live proof printed until issue 10's follow-up.
func TestCatalogueCitations(t *testing.T) {
	root := filepath.Join("..", "..")
	data, err := os.ReadFile(filepath.Join(root, "docs", "failures", "catalogue.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range entries {
		ids[e.ID] = true
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		check := func(pos token.Pos, text string, printed bool) {
			for _, m := range catalogueRef.FindAllStringSubmatch(text, -1) {
				if m[1] != "ID" && !ids[m[1]] { // "#ID" is how the docs name the form
					t.Errorf("%s: cites docs/failures/catalogue.json#%s, which the catalogue does not have", fset.Position(pos), m[1])
				}
			}
			if printed && strings.Count(text, "catalogue") != len(catalogueRef.FindAllString(text, -1)) {
				t.Errorf("%s: prints %q: cite an entry as docs/failures/catalogue.json#ID or by its upstream URL", fset.Position(pos), text)
			}
		}
		for _, cg := range f.Comments {
			check(cg.Pos(), cg.Text(), false)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					check(lit.Pos(), s, true)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
