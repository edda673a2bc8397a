package checks

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

// stuckHost is a host whose reads of some paths never return (until the test ends): a FIFO
// in a tree, a hung NFS mount, as a read that honours no context.
type stuckHost struct {
	host.Host
	stuck   map[string]bool
	release chan struct{}
}

func newStuckHost(t *testing.T, h host.Host, paths ...string) *stuckHost {
	s := &stuckHost{Host: h, stuck: map[string]bool{}, release: make(chan struct{})}
	for _, p := range paths {
		s.stuck[p] = true
	}
	t.Cleanup(func() { close(s.release) })
	return s
}

func (s *stuckHost) ReadFile(p string) ([]byte, error) {
	if s.stuck[p] {
		<-s.release
		return nil, errors.New("released")
	}
	return s.Host.ReadFile(p)
}

// TestInLineProbesHaveATimeout: recorded hosts ran their probes with no timeout, so one read
// that never returned hung `check --root` for good.
func TestInLineProbesHaveATimeout(t *testing.T) {
	h := newStuckHost(t, alice().File("/etc/subuid", "alice:100000:65536\n").Host(), "/etc/subuid", "/etc/subgid")
	read := func(p string) func(context.Context, *facts.Env) finding.Result {
		return func(_ context.Context, e *facts.Env) finding.Result {
			if _, err := e.Host.ReadFile(p); err != nil {
				return finding.Undecided(err, "cannot read %s", p)
			}
			return finding.Passf("read %s", p)
		}
	}
	probes := []Probe{
		{ID: "a.stuck", Run: read("/etc/subuid")},
		{ID: "a.fine", Run: read("/etc/passwd")},
		{ID: "b.stuck", Run: read("/etc/subgid")},
		{ID: "b.fine", Run: func(context.Context, *facts.Env) finding.Result { return finding.Passf("fine") }},
	}
	env := facts.NewEnv(context.Background(), h, "")
	var res []finding.Result
	hostile.Within(t, "Run", 10*time.Second, func() {
		res = Run(context.Background(), probes, env, Options{Sequential: true, Timeout: 100 * time.Millisecond})
	})
	for i, want := range []string{"could not check: the probe did not finish", "read /etc/passwd", "could not check: the probe did not finish", "fine"} {
		if !strings.HasPrefix(res[i].Summary, want) {
			t.Errorf("%s: %s %q, want %q", res[i].ID, res[i].Status, res[i].Summary, want)
		}
	}
}

// TestInLineRunEndsWithItsContext: SIGINT cancels the run's context; the run must end then,
// whatever a probe is blocked in.
func TestInLineRunEndsWithItsContext(t *testing.T) {
	h := newStuckHost(t, alice().Host(), "/etc/subuid")
	probes := []Probe{
		{ID: "a.fine", Run: func(context.Context, *facts.Env) finding.Result { return finding.Passf("fine") }},
		{ID: "a.stuck", Run: func(_ context.Context, e *facts.Env) finding.Result {
			e.Host.ReadFile("/etc/subuid")
			return finding.Passf("late")
		}},
		{ID: "a.after", Run: func(context.Context, *facts.Env) finding.Result { return finding.Passf("after") }},
	}
	env := facts.NewEnv(context.Background(), h, "")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	var res []finding.Result
	hostile.Within(t, "Run", 10*time.Second, func() {
		res = Run(ctx, probes, env, Options{Sequential: true, Timeout: time.Hour})
	})
	if res[0].Status != finding.Pass || res[1].Status != finding.Warn || res[2].Status != finding.Warn || !errors.Is(res[1].Err, context.Canceled) {
		t.Errorf("results %+v", res)
	}
}

// TestNewEnvIsBounded: the distribution and the account are resolved before any probe, and a
// FIFO at the live /etc/os-release hung check and fix there.
func TestNewEnvIsBounded(t *testing.T) {
	h := newStuckHost(t, alice().File("/etc/os-release", "ID=debian\n").Host(), "/etc/os-release")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var env *facts.Env
	hostile.Within(t, "NewEnv", 10*time.Second, func() { env = facts.NewEnv(ctx, h, "") })
	if env.Distro.ID != "unknown" || !strings.Contains(env.Distro.Problem, "did not finish") || !errors.Is(env.UserErr, context.DeadlineExceeded) {
		t.Errorf("distro %+v, user error %v", env.Distro, env.UserErr)
	}
}

// hungTools is a host whose commands all time out, counting how many were run.
type hungTools struct {
	host.Host
	mu   sync.Mutex
	runs []string
}

func (h *hungTools) Run(_ context.Context, argv ...string) (host.Output, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs = append(h.runs, strings.Join(argv, " "))
	return host.Output{}, fmt.Errorf("running %s: %w after 5s", strings.Join(argv, " "), host.ErrTimeout)
}

// TestTimedOutToolIsReportedAsSuch: a slirp4netns that hangs is one that does not run (its
// --help is not asked too, which would wait as long again), and the report says it timed out.
func TestTimedOutToolIsReportedAsSuch(t *testing.T) {
	h := &hungTools{Host: alice().Exec("/usr/bin/slirp4netns").Host()}
	env := facts.NewEnv(context.Background(), h, "")
	h.runs = nil
	r := Run(context.Background(), []Probe{netDriver}, env, Options{Sequential: true})[0]
	if r.Status != finding.Fail || !strings.Contains(r.Summary, "does not run") || !strings.Contains(r.Summary, "timed out") {
		t.Errorf("net.driver with a hung slirp4netns: %s %q %q", r.Status, r.Summary, r.Details)
	}
	for _, run := range h.runs {
		if strings.Contains(run, "slirp4netns --help") {
			t.Errorf("after --version timed out, --help was run too: %q", h.runs)
		}
	}
}

// TestInLineWorkersAreReused: replaying hosts one after another starts no goroutine per host
// once a worker waits idle (a new one grew its stack again for every host, issue 16).
func TestInLineWorkersAreReused(t *testing.T) {
	env := facts.NewEnv(context.Background(), alice().Host(), "")
	probes := []Probe{{ID: "a.fine", Run: func(context.Context, *facts.Env) finding.Result { return finding.Passf("fine") }}}
	created := func() uint64 {
		s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	Run(context.Background(), probes, env, Options{Sequential: true}) // leaves a worker idle
	before := created()
	for range 100 {
		if r := Run(context.Background(), probes, env, Options{Sequential: true})[0]; r.Status != finding.Pass {
			t.Fatalf("%+v", r)
		}
	}
	// A few for the runtime's own (a GC's workers).
	if n := created() - before; n > 10 {
		t.Errorf("100 in-line runs started %d goroutines, want the idle worker reused", n)
	}
}

// TestInLineProbeContexts: each in-line probe's context has the probe's own deadline,
// opt.Timeout after it starts (not the worker's first probe's), is done at it with
// context.DeadlineExceeded, and a probe after one that timed out starts with a live context.
func TestInLineProbeContexts(t *testing.T) {
	const timeout = 150 * time.Millisecond
	type seen struct {
		deadline   time.Duration // after the probe started
		ok         bool
		errAtStart error
		waited     time.Duration
		err        error
	}
	var mu sync.Mutex
	got := map[string]seen{}
	probe := func(id string, work func(ctx context.Context)) Probe {
		return Probe{ID: id, Run: func(ctx context.Context, _ *facts.Env) finding.Result {
			start := time.Now()
			dl, ok := ctx.Deadline()
			s := seen{deadline: dl.Sub(start), ok: ok, errAtStart: ctx.Err()}
			work(ctx)
			s.waited, s.err = time.Since(start), ctx.Err()
			mu.Lock()
			got[id] = s
			mu.Unlock()
			if s.err != nil {
				return finding.Undecided(s.err, "own")
			}
			return finding.Passf("fine")
		}}
	}
	waitDone := func(ctx context.Context) {
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	sleep := func(context.Context) { time.Sleep(timeout / 2) }
	probes := []Probe{
		probe("a.slow1", sleep), probe("a.slow2", sleep), probe("a.slow3", sleep), probe("a.slow4", sleep),
		probe("b.late", waitDone), probe("b.after", sleep), probe("c.late", waitDone), probe("c.after", func(context.Context) {}),
	}
	env := facts.NewEnv(context.Background(), alice().Host(), "")
	var res []finding.Result
	hostile.Within(t, "Run", 20*time.Second, func() {
		res = Run(context.Background(), probes, env, Options{Sequential: true, Timeout: timeout})
	})
	// Let the abandoned probes record what they saw.
	hostile.Within(t, "the late probes", 10*time.Second, func() {
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n == len(probes) {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	for i, p := range probes {
		s, r := got[p.ID], res[i]
		if !s.ok || s.deadline > timeout || s.deadline < timeout-50*time.Millisecond || s.errAtStart != nil {
			t.Errorf("%s: deadline %v after its start (%v), error at start %v; want %v", p.ID, s.deadline, s.ok, s.errAtStart, timeout)
		}
		if strings.HasSuffix(p.ID, ".late") {
			if s.err != context.DeadlineExceeded || s.waited < timeout-10*time.Millisecond || r.Status != finding.Warn || !errors.Is(r.Err, context.DeadlineExceeded) {
				t.Errorf("%s: done after %v with %v; result %s %q %v", p.ID, s.waited, s.err, r.Status, r.Summary, r.Err)
			}
			continue
		}
		if s.err != nil || r.Status != finding.Pass {
			t.Errorf("%s: context ended (%v) after %v; result %s %q", p.ID, s.err, s.waited, r.Status, r.Summary)
		}
	}
}

// TestInLineDeadlines: after a probe that returned past its deadline (before runInLine's
// timer abandoned its worker), the next probe's context is live; the run's cancellation
// reaches the probe's context with the run's error; and a worker's probes cost no
// allocation each beyond their own (a context.WithTimeout each cost four, issue 16).
func TestInLineDeadlines(t *testing.T) {
	d := newInLineDeadlines(context.Background(), 2)
	c1 := d.next(time.Millisecond)
	hostile.Within(t, "the first deadline", 10*time.Second, func() { <-c1.Done() })
	if c1.Err() != context.DeadlineExceeded {
		t.Errorf("past its deadline: %v", c1.Err())
	}
	d.done()
	c2 := d.next(time.Hour)
	if c2.Err() != nil || c1.Err() != context.DeadlineExceeded {
		t.Errorf("the next probe's context: %v (the last's %v)", c2.Err(), c1.Err())
	}
	d.done()
	d.stop()
	if c2.Err() != context.Canceled {
		t.Errorf("after the worker stopped: %v", c2.Err())
	}

	parent, cancel := context.WithCancel(context.Background())
	d = newInLineDeadlines(parent, 1)
	c := d.next(time.Hour)
	cancel()
	if <-c.Done(); c.Err() != context.Canceled {
		t.Errorf("the run cancelled: %v", c.Err())
	}
	d.stop()

	env := facts.NewEnv(context.Background(), alice().Host(), "")
	probe := Probe{ID: "a.fine", Run: func(context.Context, *facts.Env) finding.Result {
		return finding.Result{Status: finding.Pass, Summary: "fine"}
	}}
	one := []Probe{probe}
	many := make([]Probe, 101)
	for i := range many {
		many[i] = probe
	}
	opt := Options{Sequential: true, Now: func() time.Time { return time.Time{} }}
	base := testing.AllocsPerRun(20, func() { Run(context.Background(), one, env, opt) })
	all := testing.AllocsPerRun(20, func() { Run(context.Background(), many, env, opt) })
	// One is finish's: the summary made one line (strings.Fields). A context.WithTimeout per
	// probe made it 5.1.
	if per := (all - base) / 100; per > 2 {
		t.Errorf("%.1f allocations per in-line probe beyond the first, want at most 2", per)
	}
}
