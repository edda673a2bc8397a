package proof_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/runtime/livetest"
)

// cgroupStepArg runs the cgroup step alone and prints its report (JSON).
const cgroupStepArg = "__proof_test_cgroup_step"

type stepJSON struct {
	Status   finding.Status     `json:"status"`
	Summary  string             `json:"summary"`
	Evidence []finding.Evidence `json:"evidence"`
}

// Issue 12, problem 1: from a login shell (its group's parent not delegated) runtime.cgroup
// was skipped. With a real systemd user manager of a throwaway account (livetest.UserManager)
// the step, run as the account in its session group, gets a delegated scope from the manager
// and sets its limit there; without a bus it says so.
func TestLiveCgroupScopeFromSession(t *testing.T) {
	livetest.NeedRoot(t, "useradd", "userdel")
	livetest.Lock(t)
	account := livetest.User(t, false)
	livetest.NoLeftovers(t, account)
	exe := livetest.ExecutableCopy(t)
	livetest.UserManager(t, account, nil, func(m *livetest.Manager) {
		step := func(env ...string) stepJSON {
			t.Helper()
			cmd := m.Command(exe, cgroupStepArg)
			cmd.Env = append(cmd.Env, env...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("the cgroup step as %s: %v\n%s", account, err, out)
			}
			var s stepJSON
			if err := json.Unmarshal(out, &s); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			return s
		}

		// No subtests: the commands must start on the goroutine that holds the namespace.
		{
			s := step("DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR=/nonexistent")
			if s.Status != finding.Skip || !strings.Contains(s.Summary, "no systemd user manager") {
				t.Errorf("without a bus: got %s %q, want a skip saying there is no user manager", s.Status, s.Summary)
			}
		}
		{
			s := step()
			t.Logf("runtime.cgroup from the session group: %s %q\n%v", s.Status, s.Summary, s.Evidence)
			var scope string
			for _, e := range s.Evidence {
				if e.Source == "systemd --user" {
					scope = e.Value
				}
			}
			if !strings.Contains(scope, "Delegate=yes") || !strings.Contains(scope, "/manager/app.slice/rootless-doctor-proof-") {
				t.Errorf("no delegated scope of the manager in the evidence: %q (%s %q)", scope, s.Status, s.Summary)
			}
			// The limit is enforced when the manager has the pids controller to delegate (a
			// cgroup v2 host); on a hybrid host the unified hierarchy has none.
			want := finding.Warn
			if slices.Contains(m.Controllers, "pids") {
				want = finding.Pass
			}
			if s.Status != want {
				t.Errorf("got %s %q, want %s (controllers the manager has: %v); evidence %v", s.Status, s.Summary, want, m.Controllers, s.Evidence)
			}
		}
	})
}
