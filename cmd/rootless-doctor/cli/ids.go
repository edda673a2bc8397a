package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
)

// The one id vocabulary (issue 15): `probes` lists, `explain` explains, and --only, --skip and
// --ignore select the same ids — every static probe and every step of the live proof
// (runtime.*) — and the same groups ("idmap", or "idmap.*"). A typo gets suggestions.

// idEntry is one id of the vocabulary.
type idEntry struct {
	ID, Title string
	// Probe is set for a static probe; a proof step has Step.
	Probe *checks.Probe
	Step  *proof.StepInfo
}

// vocabulary lists every id in report order: the static probes, then the proof's steps.
func vocabulary(f *Factory) []idEntry {
	var out []idEntry
	for _, p := range f.Probes() {
		out = append(out, idEntry{ID: p.ID, Title: p.Title, Probe: &p})
	}
	for _, s := range proof.Steps() {
		out = append(out, idEntry{ID: s.ID, Title: s.Title, Step: &s})
	}
	return out
}

// groups lists the groups of the vocabulary, in report order.
func groups(f *Factory) []string {
	var out []string
	for _, e := range vocabulary(f) {
		g, _, _ := strings.Cut(e.ID, ".")
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// checkIDs validates the ids or groups given to flag: a usage error names the first unknown
// one with the closest known ids.
func checkIDs(f *Factory, flag string, sels []string) error {
	err := checks.Select(selectable(f), sels, nil)
	if err == nil {
		return nil
	}
	for _, sel := range sels {
		if checks.Select(selectable(f), []string{sel}, nil) != nil {
			return usageErr("%s: %w: %q%s (see `rootless-doctor probes`)", flag, checks.ErrUnknownProbe, sel, didYouMean(f, sel))
		}
	}
	return usageErr("%s: %v", flag, err)
}

// didYouMean is "; did you mean A or B?" for the ids and groups closest to sel, or "".
func didYouMean(f *Factory, sel string) string {
	s := suggest(sel, append(idsOf(f), groups(f)...))
	if len(s) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(s, " or ") + "?"
}

func idsOf(f *Factory) []string {
	var ids []string
	for _, e := range vocabulary(f) {
		ids = append(ids, e.ID)
	}
	return ids
}

// suggest returns up to three candidates close to sel: those whose last part is sel
// ("subuid" for idmap.subuid), then those within a small edit distance, closest first.
func suggest(sel string, candidates []string) []string {
	sel = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(sel), ".*"))
	if sel == "" {
		return nil
	}
	type scored struct {
		id string
		d  int
	}
	var found []scored
	limit := max(2, len(sel)/4)
	for _, c := range candidates {
		_, last, _ := strings.Cut(c, ".")
		switch d := editDistance(sel, c); {
		case last != "" && last == sel:
			found = append(found, scored{c, 0})
		case last != "" && editDistance(sel, last) <= 1:
			found = append(found, scored{c, 1})
		case d <= limit:
			found = append(found, scored{c, d})
		}
	}
	slices.SortStableFunc(found, func(a, b scored) int { return a.d - b.d })
	var out []string
	for _, s := range found {
		if !slices.Contains(out, s.id) && len(out) < 3 {
			out = append(out, s.id)
		}
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, in bytes (ids are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// errUnknownID is the error of explain for an id that is neither an id nor a group.
var errUnknownID = errors.New("no such probe, step or group")

func unknownID(f *Factory, id string) error {
	return usageErr("%w: %q%s (see `rootless-doctor probes`)", errUnknownID, id, didYouMean(f, id))
}

// describeIDs is the one-line list of groups for usage messages.
func describeIDs(f *Factory) string {
	return fmt.Sprintf("an id (idmap.subuid, runtime.port) or a group (%s)", strings.Join(groups(f), ", "))
}
