package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/rootless-doctor/rootless-doctor"

// allowed is the import table: the packages of this module each package may import (its
// tests are free). The layers and the reasons are in docs/architecture.md; a package that is
// not listed fails the test until it is given its place here and there.
var allowed = map[string][]string{
	// The vocabulary and the machine door import nothing of ours.
	"finding": nil,
	"host":    nil,
	// Leaf helpers.
	"internal/safefs":  nil,
	"internal/hostile": nil,
	"internal/arch":    nil,
	// bench/startup.sh's floor: a static hello-world.
	"bench/hello":     nil,
	"distro":          {"host"},
	"checks/parse":    {"finding"},
	"checks/apparmor": {"host", "finding", "checks/parse"},
	"checks/facts":    {"host", "distro", "finding", "checks/parse", "checks/apparmor"},
	// Probes import neither the planner nor the renderers nor the runtime.
	"checks":      {"host", "distro", "finding", "checks/parse", "checks/apparmor", "checks/facts"},
	"fixes":       {"host", "distro", "finding", "checks/parse", "checks/facts"},
	"fixes/apply": {"host", "distro", "finding", "checks/facts", "fixes", "internal/safefs"},
	"report":      {"host", "distro", "finding", "checks", "checks/facts", "fixes", "fixes/apply"},
	"snapshot":    {"host", "finding", "checks/parse", "checks/facts", "internal/safefs"},
	// The runtime imports no CLI, no probes, no planner.
	"runtime/rootlesskit":         {"finding", "checks/parse"},
	"runtime/rootlesskit/gvisor":  {"runtime/rootlesskit"},
	"runtime/proof":               {"distro", "finding", "checks/parse", "runtime/rootlesskit", "runtime/service", "internal/safefs"},
	"runtime/daemon":              {"finding", "runtime/rootlesskit", "internal/safefs"},
	"runtime/service":             {"internal/safefs"},
	"runtime/service/fakesystemd": nil,
	"runtime/livetest":            {"internal/safefs"},
	// The command line may import anything.
	"cmd/rootless-doctor/cli":    {"*"},
	"cmd/rootless-doctor":        {"*"},
	"cmd/rootless-doctor/mangen": {"*"},
	// The helper that links the gvisor-tap-vsock network: the roles only.
	"cmd/rootless-doctor-gvisor": {"runtime/proof", "runtime/daemon", "runtime/rootlesskit", "runtime/rootlesskit/gvisor"},
	"fixtures":                   {"host"},
	"internal/fixturetree":       {"fixtures"},
	// The VM lab drives the built binary inside guests; it imports nothing of ours.
	"test/vm": nil,
}

// goPackage is what `go list -json` says of one package.
type goPackage struct {
	ImportPath string
	Imports    []string
	Module     *struct{ Path string }
}

// ourPackages lists this module's packages with their direct imports of this module, through
// `go list -deps -json ./...` (every package the build reaches, so a package only another
// package imports is not missed).
func ourPackages(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		name := rel(p.ImportPath)
		var ours []string
		for _, imp := range p.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				ours = append(ours, rel(imp))
			}
		}
		sort.Strings(ours)
		pkgs[name] = ours
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages of this module", len(pkgs))
	}
	return pkgs
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }

// TestImportDirections enforces the allowed import directions (docs/architecture.md).
func TestImportDirections(t *testing.T) {
	for pkg, imports := range ourPackages(t) {
		ok, known := allowed[pkg]
		if !known {
			t.Errorf("%s is not in the import table of internal/arch: give it a layer there and in docs/architecture.md", pkg)
			continue
		}
		if slices.Contains(ok, "*") {
			continue
		}
		for _, imp := range imports {
			if !slices.Contains(ok, imp) {
				t.Errorf("%s imports %s, which its layer may not (docs/architecture.md)", pkg, imp)
			}
		}
	}
}
