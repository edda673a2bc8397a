package finding

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefghij…"},
		// "é" is two bytes: a cut at byte 4 would split the second one.
		{"abcéé", 4, "abc…"},
		{"ééé", 5, "éé…"},
		{"☃☃", 4, "☃…"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"", 0, ""},
		{"x", 0, "…"},
	} {
		got := Clip(tt.in, tt.max)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
	if got := ClipLine("first ☃ line\nsecond", 9); got != "first ☃…" {
		t.Errorf("ClipLine = %q", got)
	}
	if got := ClipTail("abc☃def", 4); got != "…def" {
		t.Errorf("ClipTail = %q", got)
	}
	if got := ClipTail("ab☃", 2); got != "…" && !utf8.ValidString(got) {
		t.Errorf("ClipTail cut a character: %q", got)
	}
	long := strings.Repeat("é", 1000)
	for n := range 20 {
		if s := Clip(long, n); !utf8.ValidString(s) || len(s) > n+len("…") {
			t.Errorf("Clip(é…, %d) = %q", n, s)
		}
		if s := ClipTail(long, n); !utf8.ValidString(s) || len(s) > n+len("…") {
			t.Errorf("ClipTail(é…, %d) = %q", n, s)
		}
	}
}
