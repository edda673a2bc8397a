package checks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// DefaultTimeout bounds one probe. Static probes take microseconds to a few milliseconds; a
// probe that runs a command waits at most host.DefaultCommandTimeout for it.
const DefaultTimeout = 10 * time.Second

// Options tune a run.
type Options struct {
	// Only and Skip select probes by id ("idmap.subuid") or group ("idmap"). Probes not
	// selected still appear in the results, as skip, so report consumers can rely on the ids.
	Only, Skip []string
	// Timeout bounds each probe (DefaultTimeout when zero).
	Timeout time.Duration
	// Now is the clock for durations (time.Now when nil); golden tests pin it.
	Now func() time.Time
	// Sequential runs probes one after another in one worker goroutine (runInLine), with the
	// same policies and per-probe timeout as the parallel run. Meant for recorded hosts, where
	// probes wait on no machine: starting two goroutines per probe (and growing their stacks)
	// was a fifth of a replay's time (BenchmarkReplay).
	Sequential bool
	// Done, when set, is called with each selected probe's result as it ends (from the
	// runner's goroutines, so it must be safe for concurrent use): live progress.
	Done func(finding.Result)
}

// Selected applies --only/--skip to an id that is not a registered probe (the live proof's
// runtime.* steps): ok false with the reason when it was left out.
func Selected(id string, only, skip []string) (ok bool, why string) {
	return selected(Probe{ID: id}, Options{Only: only, Skip: skip})
}

// ErrUnknownProbe is returned (wrapped) by Select for an id or group no probe has.
var ErrUnknownProbe = errors.New("no such probe or group")

// Select validates --only/--skip against probes.
func Select(probes []Probe, only, skip []string) error {
	for _, sel := range append(append([]string{}, only...), skip...) {
		if !matchesAny(probes, sel) {
			return fmt.Errorf("%w: %q (see `rootless-doctor probes`)", ErrUnknownProbe, sel)
		}
	}
	return nil
}

func matchesAny(probes []Probe, sel string) bool {
	for _, p := range probes {
		if matches(p, sel) {
			return true
		}
	}
	return false
}

// matches: an exact id, a group ("idmap"), or a group with a wildcard ("idmap.*").
func matches(p Probe, sel string) bool {
	sel = strings.TrimSuffix(strings.TrimSpace(sel), ".*")
	return p.ID == sel || p.Group() == sel
}

func selected(p Probe, opt Options) (bool, string) {
	for _, s := range opt.Skip {
		if matches(p, s) {
			return false, "skipped with --skip"
		}
	}
	if len(opt.Only) == 0 {
		return true, ""
	}
	for _, s := range opt.Only {
		if matches(p, s) {
			return true, ""
		}
	}
	return false, "not selected by --only"
}

// Run runs the probes against env and returns one result per probe, in registry order.
// It never panics: a probe that panics, times out or cannot decide becomes a result through
// one policy (undecided).
func Run(ctx context.Context, probes []Probe, env *facts.Env, opt Options) []finding.Result {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	results := make([]finding.Result, len(probes))
	var wg sync.WaitGroup
	var inLine []int
	launch := func(i int, p Probe) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runOne(ctx, p, env, opt)
			if opt.Done != nil {
				opt.Done(results[i])
			}
		}()
	}
	for i, p := range probes {
		if ok, why := selected(p, opt); !ok {
			results[i] = finish(p, finding.Skipf("%s", why), 0)
			results[i].Unselected = true
			continue
		}
		if opt.Sequential {
			inLine = append(inLine, i)
			continue
		}
		if p.Starts {
			launch(i, p) // first: its processes overlap the other probes (Probe.Starts)
		}
	}
	if !opt.Sequential {
		for i, p := range probes {
			if !p.Starts && !results[i].Unselected {
				launch(i, p)
			}
		}
	}
	wg.Wait()
	if len(inLine) > 0 {
		runInLine(ctx, probes, inLine, env, opt, results)
	}
	return results
}

// runInLine runs probes[idx[0]], probes[idx[1]], … one after another in one worker goroutine,
// each with opt.Timeout, like runOne. A probe still running at its deadline is reported
// undecided, its worker abandoned (it may be blocked for good: a recorded tree is any
// directory), and a new worker carries on with the next probe; when ctx ends, every probe not
// done is undecided at once. Before issue 10 recorded hosts ran their probes with no timeout,
// and a FIFO in a tree hung the run for good.
func runInLine(ctx context.Context, probes []Probe, idx []int, env *facts.Env, opt Options, results []finding.Result) {
	type done struct {
		k int
		r finding.Result
	}
	timer := time.NewTimer(opt.Timeout)
	defer timer.Stop()
	for k := 0; k < len(idx); {
		ch := make(chan done, len(idx)-k) // an abandoned worker never blocks on a send
		var abandoned atomic.Bool
		from := k
		goInLine(func() {
			dl := newInLineDeadlines(ctx, len(idx)-from)
			defer dl.stop()
			for j := from; j < len(idx) && !abandoned.Load(); j++ {
				r := runDirect(dl.next(opt.Timeout), probes[idx[j]], env, opt)
				dl.done()
				ch <- done{j, r}
			}
		})
	wait:
		for k < len(idx) {
			timer.Reset(opt.Timeout)
			select {
			case d := <-ch:
				results[idx[d.k]] = d.r
				if opt.Done != nil {
					opt.Done(d.r)
				}
				k++
			case <-timer.C:
				abandoned.Store(true)
				p := probes[idx[k]]
				results[idx[k]] = finish(p, finding.Undecided(context.DeadlineExceeded, "the probe did not finish within %s", opt.Timeout), opt.Timeout)
				k++
				break wait
			case <-ctx.Done():
				abandoned.Store(true)
				for ; k < len(idx); k++ {
					p := probes[idx[k]]
					results[idx[k]] = finish(p, finding.Undecided(ctx.Err(), "the run was stopped before the probe finished"), 0)
				}
			}
		}
	}
}

// inLineDeadlines give the probes one runInLine worker runs, one after another, each its own
// deadline, opt.Timeout after it starts, as context.WithTimeout did for each (issue 16: that
// was ~3% of a replayed host's CPU time, four allocations and a timer per probe). The worker
// has one context, cancelled with the run's, and one timer, reset for each probe, which
// cancels that context when a probe passes its deadline: the probe's context (inLineCtx)
// is then done, its Err context.DeadlineExceeded, as a timeout context's would be. The worker
// is abandoned then (runInLine), and its context with it; the next probe gets a new one.
// A context derived from a probe's (only live hosts' commands derive one, and these are not
// run in line: cli/run.go) ends with context.Canceled at the deadline, not with
// DeadlineExceeded.
type inLineDeadlines struct {
	parent context.Context // the run's
	ctx    context.Context // the worker's
	cancel context.CancelCauseFunc
	base   time.Time
	// mu makes fire's check of the running probe and its cancel one step against done and
	// next: without it, a timer that read the deadline of a probe returning just at it could
	// cancel the worker's context after the next probe had started on it.
	mu sync.Mutex
	// cur is the running probe's deadline in nanoseconds after base, 0 between probes.
	cur   int64
	timer *time.Timer
	ctxs  []inLineCtx // one per probe, allocated at once
}

// errInLineDeadline is the cause of a worker's context that a probe's deadline cancelled.
var errInLineDeadline = fmt.Errorf("the probe did not finish in time: %w", context.DeadlineExceeded)

func newInLineDeadlines(parent context.Context, probes int) *inLineDeadlines {
	d := &inLineDeadlines{parent: parent, base: time.Now(), ctxs: make([]inLineCtx, probes)}
	d.ctx, d.cancel = context.WithCancelCause(parent)
	d.timer = time.AfterFunc(time.Duration(math.MaxInt64), d.fire)
	return d
}

// next is the context of the next probe, which runs for at most timeout.
func (d *inLineDeadlines) next(timeout time.Duration) context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if context.Cause(d.ctx) == errInLineDeadline {
		// The last probe returned after its deadline, before runInLine's own timer
		// abandoned this worker: the next probe starts afresh, as with a context of its own.
		d.ctx, d.cancel = context.WithCancelCause(d.parent)
	}
	at := time.Since(d.base) + timeout
	d.cur = int64(at)
	c := &d.ctxs[0]
	d.ctxs = d.ctxs[1:]
	*c = inLineCtx{Context: d.ctx, deadline: d.base.Add(at)}
	d.timer.Reset(timeout)
	return c
}

// done: the probe returned; the timer may still fire for it, and then does nothing.
func (d *inLineDeadlines) done() {
	d.mu.Lock()
	d.cur = 0
	d.mu.Unlock()
}

// fire cancels the worker's context when the running probe is past its deadline. A timer
// that fired for a probe that has returned finds no probe (0) or the next one's later
// deadline, which it waits for.
func (d *inLineDeadlines) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	at := d.cur
	if at == 0 {
		return
	}
	if left := time.Duration(at) - time.Since(d.base); left > 0 {
		d.timer.Reset(left)
		return
	}
	d.cancel(errInLineDeadline)
}

func (d *inLineDeadlines) stop() {
	d.timer.Stop()
	d.cancel(nil)
}

// inLineCtx is one in-line probe's context: the worker's, with the probe's deadline.
type inLineCtx struct {
	context.Context
	deadline time.Time
}

func (c *inLineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Err is context.DeadlineExceeded once the probe's deadline cancelled the worker's context,
// as a timeout context's Err; else the worker's (the run's error when the run was cancelled).
func (c *inLineCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == errInLineDeadline {
		return context.DeadlineExceeded
	}
	return err
}

// idleInLine holds the job channels of runInLine's workers that finished their host's probes
// and wait for another's, at most its capacity of them. A new goroutine's stack starts small
// and was grown (copied) again for every replayed host, 3% of a fleet's CPU time (issue 16);
// a worker taken from here has its stack grown already.
var idleInLine = make(chan chan func(), 16)

// goInLine runs f on an idle runInLine worker, or on a new one.
func goInLine(f func()) {
	select {
	case jobs := <-idleInLine:
		jobs <- f
	default:
		go inLineWorker(f)
	}
}

// inLineWorker runs f, then waits in idleInLine for the next job while there is room. A worker
// abandoned in a probe that never returns is never offered again.
func inLineWorker(f func()) {
	var jobs chan func()
	for {
		f()
		f = nil // keep nothing of the finished host while idle
		if jobs == nil {
			jobs = make(chan func())
		}
		select {
		case idleInLine <- jobs:
		default:
			return
		}
		f = <-jobs
	}
}

func runOne(ctx context.Context, p Probe, env *facts.Env, opt Options) finding.Result {
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	start := opt.Now()
	done := make(chan finding.Result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- finding.Undecided(fmt.Errorf("probe %s panicked: %v\n%s", p.ID, v, debug.Stack()), "the probe crashed")
			}
		}()
		if p.Run == nil {
			done <- finding.Undecided(errors.New("probe has no Run function"), "the probe is not runnable")
			return
		}
		done <- env.ProbeResult(p.ID, func() finding.Result { return p.Run(ctx, env) })
	}()
	var r finding.Result
	select {
	case r = <-done:
	case <-ctx.Done():
		r = finding.Undecided(ctx.Err(), "the probe did not finish within %s", opt.Timeout)
	}
	return finish(p, r, opt.Now().Sub(start))
}

// runDirect runs one probe in the caller's goroutine: the same policies as runOne but the
// timeout, which runInLine applies around it.
func runDirect(ctx context.Context, p Probe, env *facts.Env, opt Options) (r finding.Result) {
	start := opt.Now()
	defer func() {
		if v := recover(); v != nil {
			r = finding.Undecided(fmt.Errorf("probe %s panicked: %v\n%s", p.ID, v, debug.Stack()), "the probe crashed")
		}
		r = finish(p, r, opt.Now().Sub(start))
	}()
	if p.Run == nil {
		return finding.Undecided(errors.New("probe has no Run function"), "the probe is not runnable")
	}
	return env.ProbeResult(p.ID, func() finding.Result { return p.Run(ctx, env) })
}

// finish applies the policies and fills what the runner owns.
func finish(p Probe, r finding.Result, d time.Duration) finding.Result {
	r.ID, r.Title, r.Duration = p.ID, p.Title, d
	if r.Err != nil || !r.Status.Valid() {
		r = undecided(r)
	}
	if r.Summary == "" {
		r.Summary = string(r.Status)
	}
	// A summary is one line whatever a probe copied into it from the host.
	r.Summary = strings.Join(strings.Fields(r.Summary), " ")
	return r
}

// undecided is the one policy for a probe that could not tell: a warning, because the doctor
// cannot vouch for what it could not read, and a CI gate with --fail-on warn should notice.
// The error goes into the details for -v.
func undecided(r finding.Result) finding.Result {
	if r.Err == nil {
		r.Err = fmt.Errorf("probe returned the invalid status %q", r.Status)
	}
	r.Status = finding.Warn
	if r.Summary == "" {
		r.Summary = "could not check"
	} else {
		r.Summary = "could not check: " + r.Summary
	}
	msg := r.Err.Error()
	if first, _, ok := strings.Cut(msg, "\n"); ok {
		// Keep the panic's stack out of the one-line detail; it stays in Err.
		msg = first
	}
	r.Details = append(r.Details, "error: "+msg)
	return r
}
