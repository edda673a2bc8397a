package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
)

// probeRun is one run of the static probes and the plan their intents make.
type probeRun struct {
	Env     *facts.Env
	Results []finding.Result
	// Requests are what the plan was built from (the sudo helper builds it again from them).
	Requests []fixes.Request
	Plan     fixes.Plan
	// PlanErr is set when the planner refused the intents (an unquotable value).
	PlanErr error
}

// runSpec says what one run covers.
type runSpec struct {
	User, Root string
	Only, Skip []string
	// Ignore waives these ids or groups (--ignore): their results are marked, not counted.
	Ignore []string
	// Static leaves the live proof out (its steps are reported as skipped, with the reason).
	Static bool
	// Net and Timeout are the live proof's (zero: its defaults).
	Net     string
	Timeout time.Duration
	// Progress shows the run as it goes (nil: not on a terminal).
	Progress *liveProgress
}

// runProbes opens the host (live, or the recorded tree at Root), runs the selected static
// probes for the account, then the live proof (on the live host, unless Static), and builds
// the fix plan of all their findings: a failed proof step carries the remedy even when a
// static probe missed the cause. The error is for exit 2: the host could not be opened.
func runProbes(ctx context.Context, f *Factory, spec runSpec) (*probeRun, error) {
	h, err := f.Host(spec.Root)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	user := spec.User
	if rec, ok := h.(*host.Recorded); ok && user == "" {
		// A snapshot taken with --user checks that account on replay too.
		user = rec.Manifest().User
	}
	env := facts.NewEnv(ctx, h, user)
	if spec.User != "" && errors.Is(env.UserErr, facts.ErrUnknownUser) {
		// A report about an account that does not exist says nothing: a usage error (issue
		// 15: it was a 30-line report and exit 1).
		return nil, usageErr("--user %s: unknown account: %v", spec.User, env.UserErr)
	}
	// A recorded host waits on no machine: run its probes in line, still under the per-probe
	// timeout (checks.Options.Sequential).
	probes := f.Probes()
	spec.Progress.staticStart(selectedCount(probes, spec))
	results := checks.Run(ctx, probes, env, checks.Options{Only: spec.Only, Skip: spec.Skip, Now: f.Now, Sequential: !h.Live(),
		Done: spec.Progress.staticDone})
	if err := interrupted(ctx); err != nil {
		return nil, err
	}
	results = append(results, liveProof(ctx, f, spec)...)
	if err := interrupted(ctx); err != nil {
		return nil, err
	}
	markIgnored(results, spec.Ignore)
	run := &probeRun{Env: env, Results: results, Requests: fixes.RequestsFrom(results)}
	run.Plan, run.PlanErr = fixes.Build(fixes.Input{Requests: run.Requests, Env: env})
	return run, nil
}

// liveProof runs the proof, or reports each of its steps skipped with the reason, and applies
// --only/--skip to the runtime.* ids.
func liveProof(ctx context.Context, f *Factory, spec runSpec) []finding.Result {
	var res []finding.Result
	switch {
	case spec.Root != "":
		res = proof.Skipped("recorded host: the live proof runs only on the machine itself")
	case spec.Static:
		res = proof.Skipped("--static: the live proof was not run")
	case f.Prove == nil:
		res = proof.Skipped("the live proof is not available in this build")
	case !anySelected(spec):
		res = proof.Skipped("not selected by --only")
	default:
		var err error
		spec.Progress.proofStart()
		res, err = f.Prove(ctx, proof.Options{User: spec.User, Net: spec.Net, Timeout: spec.Timeout, Progress: spec.Progress.proofOption()})
		if err != nil {
			res = proof.Skipped("the live proof could not start: " + err.Error())
		}
	}
	for i := range res {
		if ok, why := checks.Selected(res[i].ID, spec.Only, spec.Skip); !ok {
			id := res[i].ID
			res[i] = finding.Skipf("%s", why)
			res[i].ID, res[i].Title, res[i].Unselected = id, proof.Title(id), true
		}
	}
	return res
}

// selectedCount is how many static probes --only/--skip leave to run.
func selectedCount(probes []checks.Probe, spec runSpec) int {
	n := 0
	for _, p := range probes {
		if ok, _ := checks.Selected(p.ID, spec.Only, spec.Skip); ok {
			n++
		}
	}
	return n
}

// markIgnored marks the results --ignore waives (kubeadm's --ignore-preflight-errors): still
// reported with their status, but they fail no run.
func markIgnored(results []finding.Result, ignore []string) {
	if len(ignore) == 0 {
		return
	}
	for i := range results {
		if ok, _ := checks.Selected(results[i].ID, ignore, nil); ok {
			results[i].Ignored = true
		}
	}
}

// anySelected reports whether --only/--skip leave any runtime.* step to run.
func anySelected(spec runSpec) bool {
	for _, id := range proof.StepIDs() {
		if ok, _ := checks.Selected(id, spec.Only, spec.Skip); ok {
			return true
		}
	}
	return false
}

// selectable is every id --only/--skip accept: the static probes and the proof's steps.
func selectable(f *Factory) []checks.Probe {
	probes := f.Probes()
	for _, id := range proof.StepIDs() {
		probes = append(probes, checks.Probe{ID: id})
	}
	return probes
}

// planError is the exit-2 error for a plan the planner refused.
func planError(err error) error {
	if errors.Is(err, fixes.ErrUnsafe) || errors.Is(err, fixes.ErrInvalid) {
		return usageErr("cannot plan the fixes: %v", err)
	}
	return fmt.Errorf("cannot plan the fixes: %w", err)
}
