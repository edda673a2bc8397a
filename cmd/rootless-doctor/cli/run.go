package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/fixes"
)

// probeRun is one run of the static probes and the plan their intents make.
type probeRun struct {
	Env     *checks.Env
	Results []checks.Result
	Plan    fixes.Plan
	// PlanErr is set when the planner refused the intents (an unquotable value).
	PlanErr error
}

// runProbes opens the host (live, or the recorded tree at root), runs the selected probes for
// the account and builds the fix plan of their findings. The error is for exit 2: the host
// could not be opened.
func runProbes(ctx context.Context, f *Factory, user, root string, only, skip []string) (*probeRun, error) {
	h, err := f.Host(root)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	env := checks.NewEnv(ctx, h, user)
	results := checks.Run(ctx, f.Probes(), env, checks.Options{Only: only, Skip: skip, Now: f.Now})
	run := &probeRun{Env: env, Results: results}
	run.Plan, run.PlanErr = fixes.Build(fixes.Input{Requests: requests(results), Distro: env.Distro, Host: h})
	return run, nil
}

// requests turns the intents of failing and warning results into planner requests. Passing
// and skipped results ask for nothing even if a probe attached an intent.
func requests(results []checks.Result) []fixes.Request {
	var reqs []fixes.Request
	for _, r := range results {
		if r.Status != checks.Fail && r.Status != checks.Warn {
			continue
		}
		for _, in := range r.Intents {
			reqs = append(reqs, fixes.Request{ProbeID: r.ID, Intent: in})
		}
	}
	return reqs
}

// planError is the exit-2 error for a plan the planner refused.
func planError(err error) error {
	if errors.Is(err, fixes.ErrUnsafe) || errors.Is(err, fixes.ErrInvalid) {
		return usageErr("cannot plan the fixes: %v", err)
	}
	return fmt.Errorf("cannot plan the fixes: %w", err)
}
