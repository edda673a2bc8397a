package parse

import (
	"math"
	"slices"
	"testing"
)

func TestFindFree(t *testing.T) {
	tests := []struct {
		name      string
		used      []IDSpan
		lo, hi    int64
		count     int64
		want      int64
		wantFound bool
	}{
		{name: "empty", lo: 100000, hi: 600100000, count: 65536, want: 100000, wantFound: true},
		{name: "after one range", used: []IDSpan{{First: 100000, Last: 165535}}, lo: 100000, hi: 600100000, count: 65536, want: 165536, wantFound: true},
		{name: "gap too small", used: []IDSpan{{First: 100000, Last: 165535}, {First: 200000, Last: 265535}}, lo: 100000, hi: 600100000, count: 65536, want: 265536, wantFound: true},
		{name: "gap exactly fits", used: []IDSpan{{First: 100000, Last: 165535}, {First: 231072, Last: 300000}}, lo: 100000, hi: 600100000, count: 65536, want: 165536, wantFound: true},
		{name: "gap one short", used: []IDSpan{{First: 100000, Last: 165535}, {First: 231071, Last: 300000}}, lo: 100000, hi: 600100000, count: 65536, want: 300001, wantFound: true},
		{name: "overlapping and unsorted", used: []IDSpan{{First: 150000, Last: 170000}, {First: 100000, Last: 160000}, {First: 165000, Last: 165000}}, lo: 100000, hi: 600100000, count: 10, want: 170001, wantFound: true},
		{name: "range covering the start", used: []IDSpan{{First: 0, Last: 4294967294}}, lo: 100000, hi: 600100000, count: 1, wantFound: false},
		{name: "single real uid in the way", used: []IDSpan{{First: 100005, Last: 100005}}, lo: 100000, hi: 600100000, count: 65536, want: 100006, wantFound: true},
		{name: "full up to max", used: []IDSpan{{First: 100000, Last: 600100000}}, lo: 100000, hi: 600100000, count: 1, wantFound: false},
		{name: "fits at the very top", used: []IDSpan{{First: 100000, Last: 600099999}}, lo: 100000, hi: 600100000, count: 1, want: 600100000, wantFound: true},
		{name: "one id too many at the top", used: []IDSpan{{First: 100000, Last: 600099999}}, lo: 100000, hi: 600100000, count: 2, wantFound: false},
		{name: "uint32 limit", lo: 4294967294, hi: 4294967294, count: 1, want: 4294967294, wantFound: true},
		{name: "past uint32 limit is clipped", lo: 4294967290, hi: math.MaxInt64, count: 5, want: 4294967290, wantFound: true},
		{name: "past uint32 limit does not fit", lo: 4294967290, hi: math.MaxInt64, count: 6, wantFound: false},
		{name: "count MaxInt64", lo: 100000, hi: 600100000, count: math.MaxInt64, wantFound: false},
		{name: "count larger than the id space", lo: 1, hi: MaxID, count: MaxID + 1, wantFound: false},
		{name: "whole id space", lo: 1, hi: MaxID, count: MaxID, want: 1, wantFound: true},
		{name: "zero count", lo: 1, hi: 10, count: 0, wantFound: false},
		{name: "negative count", lo: 1, hi: 10, count: -5, wantFound: false},
		{name: "min above max", lo: 20, hi: 10, count: 1, wantFound: false},
		{name: "used IDSpan at MaxID", used: []IDSpan{{First: MaxID, Last: MaxID}}, lo: MaxID - 1, hi: MaxID, count: 1, want: MaxID - 1, wantFound: true},
		{name: "used IDSpan ending just before", used: []IDSpan{{First: 1, Last: 99999}}, lo: 100000, hi: 200000, count: 100001, want: 100000, wantFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FindFree(tt.used, tt.lo, tt.hi, tt.count)
			if ok != tt.wantFound || ok && got != tt.want {
				t.Fatalf("findFree = %d, %v; want %d, %v", got, ok, tt.want, tt.wantFound)
			}
			if ok {
				s, _ := SpanOf(got, tt.count)
				for _, u := range tt.used {
					if s.Overlaps(u) {
						t.Fatalf("range %v overlaps used %v", s, u)
					}
				}
				if s.Count() != tt.count {
					t.Fatalf("range %v does not hold %d ids", s, tt.count)
				}
			}
		})
	}
}

func TestIDSpan(t *testing.T) {
	s := IDSpan{First: 100, Last: 199}
	if s.Count() != 100 || !s.Contains(100) || !s.Contains(199) || s.Contains(200) {
		t.Errorf("%v: Count %d", s, s.Count())
	}
	for _, tt := range []struct {
		o    IDSpan
		want []IDSpan
	}{
		{IDSpan{First: 300, Last: 400}, []IDSpan{s}},
		{IDSpan{First: 0, Last: 1000}, nil},
		{IDSpan{First: 150, Last: 159}, []IDSpan{{First: 100, Last: 149}, {First: 160, Last: 199}}},
		{IDSpan{First: 50, Last: 120}, []IDSpan{{First: 121, Last: 199}}},
		{IDSpan{First: 190, Last: 250}, []IDSpan{{First: 100, Last: 189}}},
	} {
		if got := s.Minus(tt.o); !slices.Equal(got, tt.want) {
			t.Errorf("%v minus %v = %v, want %v", s, tt.o, got, tt.want)
		}
	}
	if n := UnionCount([]IDSpan{{First: 10, Last: 19}, {First: 0, Last: 14}, {First: 30, Last: 30}, {First: 12, Last: 13}}); n != 21 {
		t.Errorf("UnionCount = %d, want 21", n)
	}
	if _, ok := SpanOf(MaxID, 2); !ok {
		t.Error("SpanOf(MaxID, 2) must clip, not fail")
	}
	if sp, ok := SpanOf(MaxID-1, 5); !ok || sp.Last != MaxID {
		t.Errorf("SpanOf clipped to %v", sp)
	}
}
