package parse

import (
	"slices"
	"strings"
	"testing"
)

func TestLoginDefsSubIDLimits(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		prefix   string
		want     SubIDLimits // Problems compared by count
		problems int
	}{
		{name: "absent: shadow defaults", in: "", prefix: "SUB_UID", want: SubIDLimits{Min: 100000, Max: 600100000, Count: 65536}},
		{name: "debian file", prefix: "SUB_GID",
			in:   "# comment\nSUB_UID_MIN\t\t   100000\nSUB_GID_MIN\t\t   200000\nSUB_GID_MAX\t\t600100000\nSUB_GID_COUNT\t\t    65536\n",
			want: SubIDLimits{Min: 200000, Max: 600100000, Count: 65536}},
		{name: "last wins, quotes, hex, octal", prefix: "SUB_UID",
			in:   "SUB_UID_MIN 1\nSUB_UID_MIN \"5000\"\nSUB_UID_MAX 0x10000\nSUB_UID_COUNT 010\n",
			want: SubIDLimits{Min: 5000, Max: 65536, Count: 8}},
		{name: "garbage value keeps the default", prefix: "SUB_UID", in: "SUB_UID_COUNT lots\nSUB_UID_MAX -5\nSUB_UID_MIN 1_000\n",
			want: SubIDLimits{Min: 100000, Max: 600100000, Count: 65536}, problems: 3},
		{name: "key without value ignored", prefix: "SUB_UID", in: "SUB_UID_MIN\n", want: SubIDLimits{Min: 100000, Max: 600100000, Count: 65536}},
		// Rows where the fix planner's own reader (fixes, before it used this one) differed;
		// each follows shadow's getdef.c and strtoul.
		{name: "text after the value is part of it, as in getdef.c", prefix: "SUB_UID", in: "SUB_UID_MIN 5000 # five thousand\n",
			want: SubIDLimits{Min: 100000, Max: 600100000, Count: 65536}, problems: 1},
		{name: "value runs to the next quote", prefix: "SUB_UID", in: "SUB_UID_MIN \"5000\nSUB_UID_MAX 70000\"x\nSUB_UID_COUNT \"\"10\"\"\n",
			want: SubIDLimits{Min: 5000, Max: 70000, Count: 10}},
		{name: "only space and tab separate the key", prefix: "SUB_UID", in: "SUB_UID_MIN\v5000\n",
			want: SubIDLimits{Min: 100000, Max: 600100000, Count: 65536}},
		{name: "trailing CR and blanks cut", prefix: "SUB_UID", in: "SUB_UID_MIN 5000 \t\r\n",
			want: SubIDLimits{Min: 5000, Max: 600100000, Count: 65536}},
		{name: "a leading plus is strtoul's", prefix: "SUB_UID", in: "SUB_UID_MIN +5000\nSUB_UID_MAX +0x10000\n",
			want: SubIDLimits{Min: 5000, Max: 65536, Count: 65536}},
		{name: "sign after the base prefix or minus zero", prefix: "SUB_UID", in: "SUB_UID_MIN 0x+5\nSUB_UID_MAX 0+5\nSUB_UID_COUNT -0\n",
			want: SubIDLimits{Min: 100000, Max: 600100000, Count: 65536}, problems: 3},
		{name: "bare prefix and bad octal", prefix: "SUB_UID", in: "SUB_UID_MIN 0x\nSUB_UID_MAX 08\nSUB_UID_COUNT \"\"\n",
			want: SubIDLimits{Min: 100000, Max: 600100000, Count: 65536}, problems: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseLoginDefs([]byte(tt.in)).SubIDLimits(tt.prefix)
			for _, p := range got.Problems {
				if !strings.Contains(p, " is not a number; using ") {
					t.Errorf("problem %q does not name the default taken", p)
				}
			}
			if got.Min != tt.want.Min || got.Max != tt.want.Max || got.Count != tt.want.Count || len(got.Problems) != tt.problems {
				t.Errorf("got %+v, want %+v with %d problems", got, tt.want, tt.problems)
			}
		})
	}
}

func FuzzParseLoginDefs(f *testing.F) {
	for _, s := range []string{"SUB_UID_MIN 100000\n", "SUB_UID_MAX \"0x10\"\n#x\n", "SUB_UID_COUNT\t-1", "A",
		"SUB_UID_MIN 100000\nSUB_UID_MAX 0x7fffffff\n", "SUB_UID_COUNT 0\n# x\n", "SUB_UID_MIN 5 # c\nSUB_UID_MAX \"0x+5\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		defs := ParseLoginDefs(in)
		for k, v := range defs {
			if k == "" || strings.ContainsAny(k, " \t\n") || strings.HasPrefix(k, "#") || strings.ContainsAny(v, "\n\"") {
				t.Fatalf("bad entry %q=%q", k, v)
			}
		}
		l := defs.SubIDLimits("SUB_UID")
		if l.Min < 0 || l.Max < 0 || l.Count < 0 {
			t.Fatalf("negative limit %+v", l)
		}
		// A key that was taken is a number; a key that was not is reported or absent.
		for _, k := range []string{"SUB_UID_MIN", "SUB_UID_MAX", "SUB_UID_COUNT"} {
			_, ok, err := defs.Number(k)
			if ok && err != nil && !slices.ContainsFunc(l.Problems, func(p string) bool { return strings.HasPrefix(p, k) }) {
				t.Fatalf("%s is unusable but not reported: %v", k, l.Problems)
			}
		}
	})
}
