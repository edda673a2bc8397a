package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/report"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
)

// liveProgress shows a check or a proof as it runs, on a terminal only (IOStreams.Progress):
// one line for the static probes (a count while they run, then their time), one line per step
// of the live proof as the proof's processes report it ended (status, id, duration, summary:
// proof.Options.Progress, real events, not a timer), and a spinner line for the step that
// runs, with its elapsed time — so a helper that hangs shows where, and for how long, before
// the time limit. Before the report is printed every line it drew is erased: the screen ends
// with the report alone, and a pipe or a file never sees any of it (issue 15).
type liveProgress struct {
	w    io.Writer
	size func() (int, int)
	now  func() time.Time

	mu       sync.Mutex
	static   staticCount
	steps    map[string]proof.Event
	proofAt  time.Time // when the proof started (zero: not started)
	lastDone time.Time // when the last step ended: the running one started then
	frame    int
	drawn    int // lines on the screen now
	stop     chan struct{}
	stopped  sync.WaitGroup
}

type staticCount struct {
	total, done, failed, warned int
	start                       time.Time
	took                        time.Duration
}

// spinnerFrames are the braille spinner of many CLIs (cli-spinners' "dots").
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// newProgress returns the progress of one run, or nil (every method is a no-op on nil) when
// the streams are not terminals.
func newProgress(ios *IOStreams, now func() time.Time) *liveProgress {
	if ios == nil || ios.Progress == nil {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	p := &liveProgress{w: ios.Progress, size: ios.Size, now: now, steps: map[string]proof.Event{}, stop: make(chan struct{})}
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.frame++
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// staticStart says n static probes are starting.
func (p *liveProgress) staticStart(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.static = staticCount{total: n, start: p.now()}
	p.draw()
}

// staticDone counts one static probe that ended (from the runner's goroutines).
func (p *liveProgress) staticDone(r finding.Result) {
	if p == nil || r.Unselected {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.static.done++
	switch r.Status {
	case finding.Fail:
		p.static.failed++
	case finding.Warn:
		p.static.warned++
	}
	if p.static.done == p.static.total {
		p.static.took = p.now().Sub(p.static.start)
	}
	p.draw()
}

// proofStart says the live proof starts.
func (p *liveProgress) proofStart() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.proofAt, p.lastDone = p.now(), p.now()
	p.draw()
}

// proofEvent records a step that ended (proof.Options.Progress).
func (p *liveProgress) proofEvent(e proof.Event) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.steps[e.ID] = e
	p.lastDone = p.now()
	p.draw()
}

// close stops the spinner and erases everything drawn.
func (p *liveProgress) close() {
	if p == nil {
		return
	}
	close(p.stop)
	p.stopped.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
	p.drawn = 0
}

// erase moves to the first line drawn and clears to the end of the screen.
func (p *liveProgress) erase() {
	if p.drawn == 0 {
		return
	}
	s := "\r"
	if p.drawn > 1 {
		s += fmt.Sprintf("\x1b[%dA", p.drawn-1)
	}
	_, _ = io.WriteString(p.w, s+"\x1b[J")
}

// lines are what the progress shows now.
func (p *liveProgress) lines() []string {
	spin := spinnerFrames[p.frame%len(spinnerFrames)]
	var out []string
	const width = 17 // "runtime.overlay" and a little room
	row := func(mark, label, took, text string) string {
		return strings.TrimRight(fmt.Sprintf("  %s %-*s %9s  %s", mark, width, label, took, text), " ")
	}
	if s := p.static; s.total > 0 {
		if s.done < s.total {
			out = append(out, row(spin, "static probes", "", fmt.Sprintf("%d of %d done", s.done, s.total)))
		} else {
			mark := "✓"
			switch {
			case s.failed > 0:
				mark = "✗"
			case s.warned > 0:
				mark = "!"
			}
			out = append(out, row(mark, "static probes", report.DurationText(s.took), fmt.Sprintf("%d probes: %d failed, %d warned", s.total, s.failed, s.warned)))
		}
	}
	if p.proofAt.IsZero() {
		return out
	}
	running := false
	for _, id := range proof.StepIDs() {
		e, ok := p.steps[id]
		switch {
		case ok:
			out = append(out, row(report.Symbol(e.Status), id, report.DurationText(e.Duration), oneLineText(e.Summary)))
		case !running:
			running = true
			out = append(out, row(spin, id, report.DurationText(p.now().Sub(p.lastDone)), ""))
		}
	}
	return out
}

// draw redraws the block in place: back to its first line, clear, write. Lines are cut to the
// terminal's width (a wrapped line could not be erased) and to its height.
func (p *liveProgress) draw() {
	ls := p.lines()
	cols, rows := 0, 0
	if p.size != nil {
		cols, rows = p.size()
	}
	if rows > 1 && len(ls) > rows-1 {
		ls = ls[len(ls)-(rows-1):]
	}
	if cols > 1 {
		for i, l := range ls {
			ls[i] = ansi.Truncate(l, cols-1, "…")
		}
	}
	p.erase()
	_, _ = io.WriteString(p.w, strings.Join(ls, "\n"))
	p.drawn = len(ls)
}

// oneLineText keeps the first line of text from a process, without control characters.
func oneLineText(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// proofOption is the proof's Progress callback (nil without a terminal).
func (p *liveProgress) proofOption() func(proof.Event) {
	if p == nil {
		return nil
	}
	return p.proofEvent
}
