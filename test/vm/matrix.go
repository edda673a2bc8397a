package vm

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Row is one comparison: in a guest and scenario, at one step, what the doctor claimed and what
// the engine did.
type Row struct {
	Guest, Scenario string
	// Step is when: "as staged", "after fix", "in a Delegate=yes scope", ...
	Step string
	// Claim is what is compared: "ready", "limits", "cpuset", "-p", "linger", ...
	Claim  string
	Doctor string
	Engine string
	Agree  bool
	// Known names the problem of issue 12 that makes this row disagree today ("#1"), so the
	// fix can flip it; shown only while the row disagrees.
	Known string
}

// Timing is one measured duration.
type Timing struct {
	What string
	Took time.Duration
}

// Matrix collects the rows and timings of a lab run.
type Matrix struct {
	mu      sync.Mutex
	Rows    []Row
	Timings []Timing
	Notes   []string
	// NotRun are the guest/scenario cells a run left out (its time budget was spent): they
	// count against the lab, as a disagreement does.
	NotRun [][2]string
}

// Skip records a guest/scenario cell that was not run.
func (m *Matrix) Skip(guest, scenario string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.NotRun = append(m.NotRun, [2]string{guest, scenario})
}

// Add records a row.
func (m *Matrix) Add(r Row) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Rows = append(m.Rows, r)
}

// Time records a duration.
func (m *Matrix) Time(what string, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Timings = append(m.Timings, Timing{what, took})
}

// Note records a line printed under the matrix (a skipped scenario and why).
func (m *Matrix) Note(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Notes = append(m.Notes, fmt.Sprintf(format, args...))
}

// Disagreements returns the rows that disagree.
func (m *Matrix) Disagreements() []Row {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Row
	for _, r := range m.Rows {
		if !r.Agree {
			out = append(out, r)
		}
	}
	return out
}

func (r Row) agreeText() string {
	switch {
	case r.Agree:
		return "yes"
	case r.Known != "":
		return "NO (known " + r.Known + ")"
	}
	return "NO"
}

// Write prints the summary grid (guest × scenario), then every row, then the timings and
// notes.
func (m *Matrix) Write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var guests, scenarios []string
	cell := map[[2]string][2]int{} // rows, disagreements
	known := map[[2]string][]string{}
	for _, r := range m.Rows {
		if !slices.Contains(guests, r.Guest) {
			guests = append(guests, r.Guest)
		}
		if !slices.Contains(scenarios, r.Scenario) {
			scenarios = append(scenarios, r.Scenario)
		}
		k := [2]string{r.Guest, r.Scenario}
		c := cell[k]
		c[0]++
		if !r.Agree {
			c[1]++
			if r.Known != "" && !slices.Contains(known[k], r.Known) {
				known[k] = append(known[k], r.Known)
			}
		}
		cell[k] = c
	}
	notRun := map[[2]string]bool{}
	for _, k := range m.NotRun {
		notRun[k] = true
		if !slices.Contains(guests, k[0]) {
			guests = append(guests, k[0])
		}
		if !slices.Contains(scenarios, k[1]) {
			scenarios = append(scenarios, k[1])
		}
	}

	fmt.Fprintln(w, "VM lab matrix: does rootless-doctor's verdict agree with the real engines?")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "scenario")
	for _, g := range guests {
		fmt.Fprintf(tw, "\t%s", g)
	}
	fmt.Fprintln(tw)
	for _, s := range scenarios {
		fmt.Fprint(tw, s)
		for _, g := range guests {
			c, ok := cell[[2]string{g, s}]
			switch {
			case notRun[[2]string{g, s}]:
				fmt.Fprint(tw, "\tNOT RUN")
			case !ok:
				fmt.Fprint(tw, "\t-")
			case c[1] == 0:
				fmt.Fprintf(tw, "\tagree (%d)", c[0])
			default:
				k := ""
				if ks := known[[2]string{g, s}]; len(ks) > 0 {
					k = " known " + strings.Join(ks, ",")
				}
				fmt.Fprintf(tw, "\tDISAGREE %d/%d%s", c[1], c[0], k)
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "guest\tscenario\tstep\tclaim\tdoctor says\tengine did\tagree")
	for _, r := range m.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Guest, r.Scenario, r.Step, r.Claim, r.Doctor, r.Engine, r.agreeText())
	}
	tw.Flush()

	if len(m.Timings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Timings:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, t := range m.Timings {
			fmt.Fprintf(tw, "  %s\t%s\n", t.What, t.Took.Round(100*time.Millisecond))
		}
		tw.Flush()
	}
	if len(m.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range m.Notes {
			fmt.Fprintln(w, "note:", n)
		}
	}
	dis := 0
	for _, r := range m.Rows {
		if !r.Agree {
			dis++
		}
	}
	fmt.Fprintf(w, "\n%d comparisons, %d disagree", len(m.Rows), dis)
	if len(m.NotRun) > 0 {
		fmt.Fprintf(w, "; %d guest/scenario cells NOT RUN (time budget spent)", len(m.NotRun))
	}
	fmt.Fprintln(w)
}
