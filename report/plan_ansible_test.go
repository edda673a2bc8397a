package report

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// TestAnsibleSyntax checks every scenario's playbook with ansible-playbook --syntax-check,
// and reads it back with Python's YAML parser (which ansible-core uses) to prove that
// every file content and argument survives the quoting.
func TestAnsibleSyntax(t *testing.T) {
	ap, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Skip("skipping: ansible-playbook is not installed (apt-get install -y ansible-core)")
	}
	dir := t.TempDir()
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			p := buildScenario(t, sc)
			// A plan read back from JSON has no typed tasks: its playbook is built from the
			// files and commands, and must be valid too.
			var decoded fixes.Plan
			if err := json.Unmarshal([]byte(renderPlan(t, p, "json")), &decoded); err != nil {
				t.Fatal(err)
			}
			generic := filepath.Join(dir, sc.name+".generic.yml")
			if err := os.WriteFile(generic, []byte(renderPlan(t, decoded, "ansible")), 0o644); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, sc.name+".yml")
			if err := os.WriteFile(file, []byte(renderPlan(t, p, "ansible")), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(ap, "--syntax-check", "-i", "localhost,", generic)
			cmd.Env = append(os.Environ(), "HOME="+dir, "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"), "ANSIBLE_NOCOLOR=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ansible-playbook --syntax-check of the generic playbook: %v\n%s", err, out)
			}
			cmd = exec.Command(ap, "--syntax-check", "-i", "localhost,", file)
			cmd.Env = append(os.Environ(), "HOME="+dir, "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"), "ANSIBLE_NOCOLOR=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ansible-playbook --syntax-check: %v\n%s", err, out)
			}
			// Round trip: the content of every copy task equals the file of the plan.
			out, err := exec.Command("python3", "-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", file).Output()
			if err != nil {
				t.Fatalf("reading the playbook back: %v", err)
			}
			var plays []struct {
				Tasks []map[string]any `json:"tasks"`
			}
			if err := json.Unmarshal(out, &plays); err != nil || len(plays) != 1 {
				t.Fatalf("playbook shape: %v %s", err, out)
			}
			want := map[string]string{}
			for _, s := range p.Steps {
				for _, f := range s.Files {
					want[f.Path] = f.Content
				}
			}
			for _, task := range plays[0].Tasks {
				c, ok := task["ansible.builtin.copy"].(map[string]any)
				if !ok {
					continue
				}
				dest, _ := c["dest"].(string)
				if got, _ := c["content"].(string); got != want[dest] {
					t.Errorf("content of %s read back as %q, want %q", dest, got, want[dest])
				}
				delete(want, dest)
			}
			if len(want) != 0 {
				t.Errorf("files without a copy task: %v", want)
			}
			for _, task := range plays[0].Tasks {
				if name, _ := task["name"].(string); !strings.Contains(name, ". ") && name != "Nothing to fix" {
					t.Errorf("task name without its step number: %q", name)
				}
			}
		})
	}
}
