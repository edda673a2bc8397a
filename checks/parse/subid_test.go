package parse

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseSubIDs(t *testing.T) {
	type rng struct {
		owner        string
		start, count int64
		line         int
	}
	type bad struct {
		line   int
		owner  string
		reason string // substring
	}
	tests := []struct {
		name, in string
		ranges   []rng
		bad      []bad
	}{
		{name: "empty", in: ""},
		{name: "one range", in: "alice:100000:65536\n", ranges: []rng{{"alice", 100000, 65536, 1}}},
		{name: "no trailing newline, blank lines", in: "\n\nalice:100000:65536\n\n1001:165536:65536",
			ranges: []rng{{"alice", 100000, 65536, 3}, {"1001", 165536, 65536, 5}}},
		{name: "comments skipped", in: "# users\n  # indented\nalice:100000:65536\n",
			ranges: []rng{{"alice", 100000, 65536, 3}}},
		{name: "two fields", in: "alice:100000\nbob:165536:65536\n",
			ranges: []rng{{"bob", 165536, 65536, 2}}, bad: []bad{{1, "alice", "2 colon-separated fields"}}},
		{name: "four fields", in: "alice:100000:65536:x\n", bad: []bad{{1, "alice", "4 colon-separated fields, want 3 (NAME:START:COUNT): shadow 4.13 reads it as 100000-165535"}}},
		{name: "empty owner", in: ":100000:65536\n", bad: []bad{{1, "", "empty owner"}}},
		{name: "empty count", in: "alice:100000:\n", bad: []bad{{1, "alice", "empty count"}}},
		{name: "blank in owner", in: "alice :100000:65536\n", bad: []bad{{1, "alice ", "blanks"}}},
		{name: "blank before owner", in: "  alice:100000:65536\n", bad: []bad{{1, "  alice", "blanks"}}},
		{name: "long owner", in: strings.Repeat("a", 300) + ":1:1\n", bad: []bad{{1, strings.Repeat("a", maxText) + "…", "longer than 256"}}},
		{name: "line of 1024 bytes", in: "alice:1:1" + strings.Repeat("0", 1015) + "\n", bad: []bad{{1, "alice", "skips lines of 1024 bytes"}}},
		// shadow reads numbers with strtoul base 0 (lib/getulong.c).
		{name: "hex start", in: "alice:0x186a0:65536\n", ranges: []rng{{"alice", 100000, 65536, 1}}},
		{name: "octal start and count", in: "alice:0303240:0200000\n", ranges: []rng{{"alice", 100000, 65536, 1}}},
		{name: "leading zeros are octal", in: "alice:0100:010\n", ranges: []rng{{"alice", 64, 8, 1}}},
		{name: "not octal", in: "alice:08:1\n", bad: []bad{{1, "alice", `start "08" has "8" after the number`}}},
		{name: "0x without digits", in: "alice:0x:1\n", bad: []bad{{1, "alice", `has "x" after the number`}}},
		{name: "blanks and plus before numbers", in: "alice: 100000:\t+65536\n", ranges: []rng{{"alice", 100000, 65536, 1}}},
		{name: "blank after the count", in: "alice:100000:65536 \n", bad: []bad{{1, "alice", `count "65536 " has " " after the number`}}},
		{name: "CRLF", in: "alice:100000:65536\r\nbob:165536:65536\r\n", bad: []bad{{1, "alice", "carriage return"}, {2, "bob", "carriage return"}}},
		{name: "CRLF on a bad line", in: "alice:100000\r\n", bad: []bad{{1, "alice", "2 colon-separated fields, want 3 (NAME:START:COUNT) (and it ends in a carriage return)"}}},
		{name: "negative count", in: "alice:100000:-1\n", bad: []bad{{1, "alice", "count \"-1\" is negative: shadow 4.13 wraps it to 18446744073709551615"}}},
		{name: "NIS line", in: "+alice:100000:65536\n-bob:1:1\n", bad: []bad{{1, "+alice", "NIS"}, {2, "-bob", "NIS"}}},
		{name: "overflowing number", in: "alice:99999999999999999999:1\n", bad: []bad{{1, "alice", "larger than"}}},
		{name: "zero count", in: "alice:100000:0\n", bad: []bad{{1, "alice", "count of 0"}}},
		{name: "past 2^32", in: "alice:4294967290:100\n", bad: []bad{{1, "alice", "runs past"}}},
		{name: "start past max", in: "alice:4294967295:1\n", bad: []bad{{1, "alice", "start 4294967295"}}},
		{name: "last id allowed", in: "alice:4294967294:1\n", ranges: []rng{{"alice", 4294967294, 1, 1}}},
		{name: "bad lines in order", in: "x\nalice:1:0\ny\n", bad: []bad{{1, "x", "1 colon"}, {2, "alice", "count of 0"}, {3, "y", "1 colon"}}},
		{name: "NUL byte", in: "\x00\xff:\x01:\x02\nalice:100000:65536\n", ranges: []rng{{"alice", 100000, 65536, 2}}, bad: []bad{{1, "\x00\uFFFD", "NUL byte"}}},
		{name: "control character in owner", in: "al\x01ice:100000:65536\nbo\vb:1:1\n", bad: []bad{{1, "al\x01ice", "control characters"}, {2, "bo\vb", "control characters"}}},
		{name: "utf-8 owner is fine", in: "jörg:100000:65536\n", ranges: []rng{{"jörg", 100000, 65536, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseSubIDs([]byte(tt.in))
			var gotR []rng
			for _, r := range got.Ranges {
				gotR = append(gotR, rng{r.Owner, r.Start, r.Count, r.Line})
			}
			if !slices.Equal(gotR, tt.ranges) {
				t.Errorf("ranges = %v, want %v", gotR, tt.ranges)
			}
			if len(got.Bad) != len(tt.bad) {
				t.Fatalf("bad = %+v, want %+v", got.Bad, tt.bad)
			}
			for i, b := range got.Bad {
				w := tt.bad[i]
				if b.Line != w.line || b.Owner != w.owner || !strings.Contains(b.Reason, w.reason) {
					t.Errorf("bad[%d] = %+v, want line %d owner %q reason ~%q", i, b, w.line, w.owner, w.reason)
				}
			}
		})
	}
}

// TestParseSubIDsShadow: what shadow 4.13 reads from each line (what getsubids prints), next
// to the judgement. The live test TestGetsubidsAgrees checks the same against the real
// getsubids.
func TestParseSubIDsShadow(t *testing.T) {
	const max = 1<<64 - 1
	tests := []struct {
		in   string
		want []ShadowEntry
	}{
		{"rdX:0503240:0200000\n", []ShadowEntry{{"rdX", 165536, 65536, 1}}},
		{"rdX: 0x10:+5\n", []ShadowEntry{{"rdX", 16, 5, 1}}},
		{"rdX:100000:65536\r\n", nil},
		{"rdX:1:2:3\n", []ShadowEntry{{"rdX", 1, 2, 1}}},
		{"rdX:-1:5\nrdX:7:-1\n", []ShadowEntry{{"rdX", max, 5, 1}, {"rdX", 7, max, 2}}},
		{" rdX:1:1\n", []ShadowEntry{{" rdX", 1, 1, 1}}},
		{"rdX:1:1 \n+rdX:9:9\n-rdX:9:9\n", nil},
		{"rdX:99999999999999999999:1\nrdX:1:18446744073709551615\n", []ShadowEntry{{"rdX", 1, max, 2}}},
		{"rdX:08:1\nrdX:0x:1\nrdX::1\nrdX:1\n", nil},
		{"#rdX:5:5\n", []ShadowEntry{{"#rdX", 5, 5, 1}}},
		{"rdX:\t\v\f\r12:3\n", []ShadowEntry{{"rdX", 12, 3, 1}}},
		{"rdX:1:0\n", []ShadowEntry{{"rdX", 1, 0, 1}}},
		{"rdX:1:1" + strings.Repeat("0", 1016) + "\n", nil},
		{"rdX:1:10", []ShadowEntry{{"rdX", 1, 10, 1}}},
	}
	for _, tt := range tests {
		got := ParseSubIDs([]byte(tt.in))
		if !slices.Equal(got.Shadow, tt.want) {
			t.Errorf("%q: shadow reads %v, want %v", tt.in, got.Shadow, tt.want)
		}
	}
}

// TestClaims: the ids a line may mean to any tool, for the allocator.
func TestClaims(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		claims []IDSpan
	}{
		{name: "valid", in: "alice:100000:65536\n", claims: []IDSpan{{100000, 165535}}},
		{name: "octal, and the decimal misreading", in: "rdX:0503240:0200000\n", claims: []IDSpan{{165536, 231071}, {503240, 703239}}},
		{name: "hex", in: "rdX:0x10:0x10\n", claims: []IDSpan{{16, 31}}},
		{name: "count missing", in: "alice:200000\n", claims: []IDSpan{{200000, 200000}}},
		{name: "count garbage", in: "carol:300000:abc\n", claims: []IDSpan{{300000, 300000}}},
		{name: "count with trailing garbage", in: "carol:300000:10x\n", claims: []IDSpan{{300000, 300009}}},
		{name: "CRLF", in: "carol:300000:10\r\n", claims: []IDSpan{{300000, 300009}}},
		{name: "octal CRLF", in: "carol:010:010\r\n", claims: []IDSpan{{8, 15}, {10, 19}}},
		{name: "start garbage", in: "dave:x:10\n"},
		{name: "negative start", in: "eve:-5:10\n"},
		{name: "negative count reaches the end", in: "eve:5:-10\n", claims: []IDSpan{{5, MaxID}}},
		{name: "plus sign", in: "eve:+5:10:x\n", claims: []IDSpan{{5, 14}}},
		{name: "no numbers at all", in: "garbage\n"},
		{name: "extra field", in: "frank:400000:10:extra\n", claims: []IDSpan{{400000, 400009}}},
		{name: "blanks around numbers", in: "frank: 400000 : 10 \n", claims: []IDSpan{{400000, 400009}}},
		{name: "zero count keeps its start", in: "gina:500000:0\n", claims: []IDSpan{{500000, 500000}}},
		{name: "huge count clipped", in: "hal:4294967000:9223372036854775807\n", claims: []IDSpan{{4294967000, MaxID}}},
		{name: "count overflows", in: "ian:1:99999999999999999999\n", claims: []IDSpan{{1, MaxID}}},
		{name: "range past 2^32 clipped", in: "ian:4294967290:100\n", claims: []IDSpan{{4294967290, MaxID}}},
		{name: "start past the id space", in: "jo:4294967295:1\n"},
		{name: "empty owner", in: ":100000:65536\n", claims: []IDSpan{{100000, 165535}}},
		{name: "blank in owner", in: "a b:100000:10\n", claims: []IDSpan{{100000, 100009}}},
		{name: "NIS line", in: "+bob:100000:10\n", claims: []IDSpan{{100000, 100009}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ParseSubIDs([]byte(tt.in))
			var got []IDSpan
			for _, r := range s.Ranges {
				got = append(got, r.Claims()...)
			}
			for _, b := range s.Bad {
				got = append(got, b.Claims()...)
			}
			if !slices.Equal(got, tt.claims) {
				t.Fatalf("claims = %v, want %v (%+v)", got, tt.claims, s)
			}
		})
	}
	if c := ParseSubIDs([]byte("#bob:100000:10\n# just words\n")).Commented; !slices.Equal(c, []IDSpan{{100000, 100009}}) {
		t.Errorf("commented = %v", c)
	}
}

func TestDecimal(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "100000": 100000, "0100": 100, "9223372036854775807": 1<<63 - 1} {
		if n, ok := Decimal(in); !ok || n != want {
			t.Errorf("Decimal(%q) = %d, %v; want %d", in, n, ok, want)
		}
	}
	for _, in := range []string{"", "+1", "-1", " 1", "1 ", "0x10", "1_000", "9223372036854775808", "1e3"} {
		if n, ok := Decimal(in); ok {
			t.Errorf("Decimal(%q) = %d, want no number", in, n)
		}
	}
}

func TestSubIDsOwned(t *testing.T) {
	s := ParseSubIDs([]byte("alice:100000:65536\n1000:200000:10\nbob:165536:65536\nalice:1\n10000:1:1\n"))
	ranges, bad := s.Owned("alice", 1000)
	if len(ranges) != 2 || ranges[0].Start != 100000 || ranges[1].Start != 200000 {
		t.Errorf("ranges = %+v, want alice's by name and by uid", ranges)
	}
	if len(bad) != 1 || bad[0].Line != 4 || bad[0].Fields != 2 {
		t.Errorf("bad = %+v, want line 4 with 2 fields", bad)
	}
	if OwnerIs("", "", 0) {
		t.Error("an empty owner matched")
	}
}

func TestSubIDRange(t *testing.T) {
	a := SubIDRange{Start: 100000, Count: 65536}
	b := SubIDRange{Start: 165536, Count: 1}
	c := SubIDRange{Start: 165535, Count: 10}
	if a.String() != "100000-165535" || a.End() != 165535 {
		t.Errorf("String = %s, End = %d", a, a.End())
	}
	if a.Overlaps(b) || b.Overlaps(a) || !a.Overlaps(c) || !c.Overlaps(a) {
		t.Error("Overlaps is wrong at the edges")
	}
	if !a.Contains(100000) || !a.Contains(165535) || a.Contains(165536) || a.Contains(99999) {
		t.Error("Contains is wrong at the edges")
	}
}

func TestParseGetsubids(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		starts []int64
		bad    []int
	}{
		{name: "empty", in: ""},
		{name: "one", in: "0: alice 100000 65536\n", starts: []int64{100000}},
		{name: "two", in: "0: alice 100000 65536\n1: alice 300000 65536\n", starts: []int64{100000, 300000}},
		{name: "no index", in: "alice 100000 65536\n", bad: []int{1}},
		{name: "few fields", in: "0: alice 100000\n", bad: []int{1}},
		{name: "not numbers", in: "0: alice x 65536\n", bad: []int{1}},
		{name: "zero count", in: "0: alice 1 0\n1: alice 5 5\n", starts: []int64{5}, bad: []int{1}},
		{name: "error text", in: "Error fetching ranges\n", bad: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseGetsubids([]byte(tt.in))
			var starts []int64
			for _, r := range got.Ranges {
				starts = append(starts, r.Start)
				if r.Owner != "alice" {
					t.Errorf("owner = %q", r.Owner)
				}
			}
			var bad []int
			for _, b := range got.Bad {
				bad = append(bad, b.Line)
			}
			if !slices.Equal(starts, tt.starts) || !slices.Equal(bad, tt.bad) {
				t.Errorf("starts %v bad %v, want %v %v", starts, bad, tt.starts, tt.bad)
			}
		})
	}
}

// checkSubIDs asserts what must hold for any input: every range is valid, every line is
// accounted for at most once, and reported text stays short and valid UTF-8.
func checkSubIDs(t *testing.T, in []byte, s SubIDs) {
	t.Helper()
	lines := strings.Count(string(in), "\n") + 1
	seen := map[int]bool{}
	for _, r := range s.Ranges {
		if r.Count <= 0 || r.Start < 0 || r.End() > MaxID || r.Owner == "" {
			t.Fatalf("invalid range %+v from %q", r, in)
		}
		if seen[r.Line] || r.Line < 1 || r.Line > lines {
			t.Fatalf("line %d reported twice or out of bounds", r.Line)
		}
		seen[r.Line] = true
	}
	for _, b := range s.Bad {
		if seen[b.Line] || b.Line < 1 || b.Line > lines || b.Reason == "" {
			t.Fatalf("bad line %+v reported twice, out of bounds or without a reason", b)
		}
		seen[b.Line] = true
		for _, c := range b.Claims() {
			if c.First < 0 || c.Last > MaxID || c.First > c.Last {
				t.Fatalf("bad line %+v claims %v", b, c)
			}
		}
		if !utf8.ValidString(b.Text) || len(b.Text) > maxText+len("…") {
			t.Fatalf("bad text %q is not short valid UTF-8", b.Text)
		}
	}
}

func FuzzParseSubIDs(f *testing.F) {
	for _, s := range []string{"alice:100000:65536\n", "# c\n\nbob:1:2:3\n", "1000:4294967294:1", "a:0x1:1\r\n:::\n", "x:1:0",
		"0\r:0:1", "b:4294967294:9999999999999\r\n", "rdX:0503240:0200000\n a:+0x10: 010\n+b:1:1\n", "hal:4294967000:9223372036854775807\nian:1:99999999999999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := ParseSubIDs(in)
		checkSubIDs(t, in, s)
		// A range is exactly what shadow reads from its line.
		for _, r := range s.Ranges {
			if !slices.Contains(s.Shadow, ShadowEntry{r.Owner, uint64(r.Start), uint64(r.Count), r.Line}) {
				t.Fatalf("range %+v is not what shadow reads (%v)", r, s.Shadow)
			}
		}
		// Owned never invents entries.
		ranges, bad := s.Owned("alice", 1000)
		if len(ranges) > len(s.Ranges) || len(bad) > len(s.Bad) {
			t.Fatal("Owned returned more than there is")
		}
	})
}

func FuzzParseGetsubids(f *testing.F) {
	for _, s := range []string{"0: alice 100000 65536\n", "Error fetching ranges\n", "1: bob 1 2 3\n0:x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkSubIDs(t, in, ParseGetsubids(in))
	})
}
