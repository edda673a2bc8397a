package parse

import (
	"cmp"
	"slices"
)

// IDSpan is an inclusive range of ids inside 0..MaxID, [First, Last]: inclusive so that the
// top id needs no arithmetic past it. It is the one interval type of subordinate ids: the
// idmap probes, the planner's free-range allocator (fixes/subid.go) and the snapshot keep
// rules all do their arithmetic with it.
type IDSpan struct{ First, Last int64 }

// SpanOf is [start, start+count-1], clipped to MaxID. ok is false when the range holds no id
// (count ≤ 0) or starts outside 0..MaxID.
func SpanOf(start, count int64) (IDSpan, bool) {
	if start < 0 || start > MaxID || count <= 0 {
		return IDSpan{}, false
	}
	last := int64(MaxID)
	if count-1 <= MaxID-start {
		last = start + count - 1
	}
	return IDSpan{First: start, Last: last}, true
}

// Count is the number of ids in the span.
func (s IDSpan) Count() int64 { return s.Last - s.First + 1 }

// Overlaps reports whether two spans share an id.
func (s IDSpan) Overlaps(o IDSpan) bool { return s.First <= o.Last && o.First <= s.Last }

// Contains reports whether id is in the span.
func (s IDSpan) Contains(id int64) bool { return id >= s.First && id <= s.Last }

// Minus is what is left of s once the ids of o are taken out: none, one or two spans.
func (s IDSpan) Minus(o IDSpan) []IDSpan {
	if !s.Overlaps(o) {
		return []IDSpan{s}
	}
	var out []IDSpan
	if s.First < o.First {
		out = append(out, IDSpan{First: s.First, Last: min(s.Last, o.First-1)})
	}
	if s.Last > o.Last {
		out = append(out, IDSpan{First: max(s.First, o.Last+1), Last: s.Last})
	}
	return out
}

// UnionCount is the number of distinct ids the spans hold together.
func UnionCount(spans []IDSpan) int64 {
	if len(spans) == 0 {
		return 0
	}
	sorted := slices.Clone(spans)
	slices.SortFunc(sorted, func(a, b IDSpan) int { return cmp.Compare(a.First, b.First) })
	n := sorted[0].Count()
	reach := sorted[0].Last
	for _, s := range sorted[1:] {
		if s.Last > reach {
			n += s.Last - max(s.First, reach+1) + 1
			reach = s.Last
		}
	}
	return n
}

// FindFree returns the lowest start such that [start, start+count-1] lies inside [lo, hi]
// and meets none of used. Arithmetic stays inside int64 because every bound is at most MaxID
// (< 2^32) and count is checked against the width first.
func FindFree(used []IDSpan, lo, hi, count int64) (int64, bool) {
	lo, hi = max(lo, 0), min(hi, MaxID)
	if count <= 0 || lo > hi || count > hi-lo+1 {
		return 0, false
	}
	sorted := slices.Clone(used)
	slices.SortFunc(sorted, func(a, b IDSpan) int { return cmp.Compare(a.First, b.First) })
	cand := lo
	for _, s := range sorted {
		if s.Last < cand {
			continue
		}
		if s.First > cand+count-1 {
			break
		}
		cand = s.Last + 1
		if cand > hi {
			return 0, false
		}
	}
	if count-1 > hi-cand {
		return 0, false
	}
	return cand, true
}
