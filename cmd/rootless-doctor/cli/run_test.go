package cli

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/host"
)

// TestOneSysctlScanPerRun: one run (every static probe, then the plan of their findings) lists
// /etc/sysctl.d once. The userns probes and the planner's check for files that would undo its
// sysctl at boot read the one boot-configuration model of the run (facts.Env.SysctlBoot).
// Before issue 11 the memo ran outside its lock and the planner scanned the directories
// again with a scanner of its own: two to three listings per run.
func TestOneSysctlScanPerRun(t *testing.T) {
	tree, err := host.OpenTree(filepath.Join("..", "..", "..", "fixtures", "centos-7-maxuserns-zero"))
	if err != nil {
		t.Fatal(err)
	}
	h := host.NewCounting(tree)
	ios, _, _, _ := TestIO()
	f := NewFactory()
	f.IO = ios
	f.Host = func(string) (host.Host, error) { return h, nil }
	run, err := runProbes(context.Background(), f, runSpec{Root: "tree", Static: true})
	if err != nil {
		t.Fatal(err)
	}
	if run.PlanErr != nil || run.Plan.Empty() {
		t.Fatalf("the fixture must give a plan with a sysctl step: %+v %v", run.Plan, run.PlanErr)
	}
	if n := h.Lists("/etc/sysctl.d"); n != 1 {
		t.Errorf("/etc/sysctl.d listed %d times in one run, want 1", n)
	}
}
