package vm

import (
	"context"
	"fmt"
	"time"
)

// Builds gets the images of a run's guests ready in the background, one suite after the
// other in the order the guests boot: while the first guest runs, the next suites' images
// build (mmdebstrap mostly waits on the network and dpkg), so on a fresh machine only the
// first image's build delays the lab. Builds are sequential: two at once would only compete
// for the same two cores and the same mirror.
type Builds struct {
	order []string
	m     map[string]*build
}

// BuildResult is one suite's image, or why there is none.
type BuildResult struct {
	Image Image
	// Cached: the image was in the cache; Took is then the time to find it.
	Cached bool
	Took   time.Duration
	Err    error
}

type build struct {
	done chan struct{}
	res  BuildResult
}

// EnsureFunc makes one suite's image ready: from the cache (cached true) or built.
type EnsureFunc func(ctx context.Context, s Suite) (img Image, cached bool, err error)

// StartBuilds starts getting the images of guests ready, in guest order, each suite once.
func StartBuilds(ctx context.Context, guests []Guest, ensure EnsureFunc) (*Builds, error) {
	b := &Builds{m: map[string]*build{}}
	var suites []Suite
	for _, g := range guests {
		if _, ok := b.m[g.Suite]; ok {
			continue
		}
		s, err := SuiteByName(g.Suite)
		if err != nil {
			return nil, err
		}
		b.m[s.Name] = &build{done: make(chan struct{})}
		b.order = append(b.order, s.Name)
		suites = append(suites, s)
	}
	go func() {
		for _, s := range suites {
			bd := b.m[s.Name]
			t0 := time.Now()
			img, cached, err := ensure(ctx, s)
			bd.res = BuildResult{Image: img, Cached: cached, Took: time.Since(t0), Err: err}
			close(bd.done)
		}
	}()
	return b, nil
}

// Wait returns the image of suite once it is ready (or ctx ends).
func (b *Builds) Wait(ctx context.Context, suite string) BuildResult {
	bd, ok := b.m[suite]
	if !ok {
		return BuildResult{Err: fmt.Errorf("no image build was started for suite %q", suite)}
	}
	select {
	case <-bd.done:
		return bd.res
	case <-ctx.Done():
		return BuildResult{Err: ctx.Err()}
	}
}

// WaitAll waits for every build, so that none is left running when the run ends.
func (b *Builds) WaitAll(ctx context.Context) {
	for _, s := range b.order {
		b.Wait(ctx, s)
	}
}
