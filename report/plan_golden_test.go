package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/golden"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// renderPlan runs one plan renderer into a string.
func renderPlan(t *testing.T, p fixes.Plan, format string) string {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "script":
		err = WritePlanScript(&b, p, false)
	case "root":
		err = WritePlanScript(&b, p, true)
	case "text":
		err = WritePlanText(&b, p)
	case "json":
		err = WritePlanJSON(&b, p)
	case "ansible":
		err = WritePlanAnsible(&b, p)
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatalf("rendering %s: %v", format, err)
	}
	return b.String()
}

var goldenExt = map[string]string{"script": ".sh", "root": ".root.sh", "text": ".txt", "json": ".json", "ansible": ".ansible.yml"}

func buildScenario(t *testing.T, sc scenario) fixes.Plan {
	t.Helper()
	p, err := fixes.Build(fixes.Input{Requests: sc.reqs, Env: &facts.Env{Distro: osRelease(t, releases[sc.release]), Host: sc.host.Host()}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p
}

// TestPlanGolden renders every scenario and compares with testdata/plans/ (go test ./report -update
// rewrites them). Every script is also checked with sh -n and shellcheck.
func TestPlanGolden(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			p := buildScenario(t, sc)
			for _, f := range append([]string{"script"}, sc.formats...) {
				golden.Assert(t, renderPlan(t, p, f), "plans/"+sc.name+goldenExt[f])
			}
			checkShell(t, p)
		})
	}
}

// uncomment turns the commented optional block of a script back into shell.
func uncomment(script string) string {
	i := strings.Index(script, "# of the lines below and run them as well.\n")
	if i < 0 {
		return ""
	}
	var out []string
	for _, l := range strings.Split(script[i:], "\n")[1:] {
		out = append(out, strings.TrimPrefix(strings.TrimPrefix(l, "#"), " "))
	}
	return "#!/bin/sh\nset -eux\n" + strings.Join(out, "\n")
}

// checkShell parses both forms of the script (and the optional block, uncommented) with
// sh -n, and lints them with shellcheck.
func checkShell(t *testing.T, p fixes.Plan) {
	t.Helper()
	dir := t.TempDir()
	scripts := map[string]string{
		"sudo.sh":     renderPlan(t, p, "script"),
		"root.sh":     renderPlan(t, p, "root"),
		"optional.sh": uncomment(renderPlan(t, p, "root")),
	}
	var files []string
	for _, name := range []string{"sudo.sh", "root.sh", "optional.sh"} {
		text := scripts[name]
		if text == "" {
			continue
		}
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
		if out, err := exec.Command("sh", "-n", file).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s\n%s", name, err, out, text)
		}
	}
	t.Run("shellcheck", func(t *testing.T) {
		sc, err := exec.LookPath("shellcheck")
		if err != nil {
			t.Skip("skipping: shellcheck is not installed (apt-get install -y shellcheck)")
		}
		args := append([]string{"--shell=sh", "--severity=style"}, files...)
		if out, err := exec.Command(sc, args...).CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	})
}
