package parse

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseSysctlInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1\n", 1, true},
		{"0", 0, true},
		{"  28633 \r\n", 28633, true},
		{"\t-1\n", -1, true},
		{"+5", 5, true},
		{"65536\x00\x00", 65536, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"", 0, false},
		{" \n", 0, false},
		{"1 0", 0, false},
		{"0\t2147483647", 0, false},
		{"Y", 0, false},
		{"0x10", 0, false},
		{"1.5", 0, false},
		{"18446744073709551616", 0, false},
		{strings.Repeat("9", 70000), 0, false},
		{"\xff\xfe", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSysctlInt([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSysctlInt(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrNotInteger) {
			t.Errorf("ParseSysctlInt(%q): error %v does not wrap ErrNotInteger", tt.in, err)
		}
	}
}

func TestParseSysctlConf(t *testing.T) {
	in := `# hardening
; also a comment
kernel.unprivileged_userns_clone = 0
user.max_user_namespaces=28633
  -kernel/unprivileged_userns_clone=1
net/ipv4/conf/eth0.1/forwarding = 1
garbage line
= 5
key with space = 1
kernel.x =
`
	got := ParseSysctlConf([]byte(in))
	want := []SysctlAssignment{
		{Key: "kernel.unprivileged_userns_clone", Value: "0", Line: 3},
		{Key: "user.max_user_namespaces", Value: "28633", Line: 4},
		{Key: "kernel.unprivileged_userns_clone", Value: "1", Line: 5, IgnoreErrors: true},
		{Key: "net.ipv4.conf.eth0/1.forwarding", Value: "1", Line: 6},
		{Key: "kernel.x", Value: "", Line: 10},
	}
	if len(got.Assignments) != len(want) {
		t.Fatalf("assignments = %+v, want %+v", got.Assignments, want)
	}
	for i := range want {
		if got.Assignments[i] != want[i] {
			t.Errorf("assignment %d = %+v, want %+v", i, got.Assignments[i], want[i])
		}
	}
	if got.Malformed != 3 {
		t.Errorf("malformed = %d, want 3", got.Malformed)
	}
}

func TestNormalizeSysctlKey(t *testing.T) {
	for in, want := range map[string]string{
		"kernel.unprivileged_userns_clone": "kernel.unprivileged_userns_clone",
		"kernel/unprivileged_userns_clone": "kernel.unprivileged_userns_clone",
		"user/max_user_namespaces":         "user.max_user_namespaces",
		"net.ipv4.conf.eth0/1.forwarding":  "net.ipv4.conf.eth0/1.forwarding",
		"net/ipv4/conf/eth0.1/forwarding":  "net.ipv4.conf.eth0/1.forwarding",
		"vm":                               "vm",
		"":                                 "",
	} {
		if got := NormalizeSysctlKey(in); got != want {
			t.Errorf("NormalizeSysctlKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseSysctlInt(f *testing.F) {
	for _, s := range []string{"1\n", "0", " 28633 ", "-1", "1 0", "x", "18446744073709551616", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseSysctlInt(data)
		if err != nil {
			if n != 0 || !errors.Is(err, ErrNotInteger) {
				t.Fatalf("error %v with value %d", err, n)
			}
			return
		}
		// A parsed value round-trips: its decimal form parses to itself.
		again, err := ParseSysctlInt([]byte(" " + strconv.FormatInt(n, 10) + "\n"))
		if err != nil || again != n {
			t.Fatalf("round trip of %d gave %d, %v", n, again, err)
		}
	})
}

func FuzzParseSysctlConf(f *testing.F) {
	f.Add([]byte("kernel.unprivileged_userns_clone = 0\n# c\n-user/max_user_namespaces=1\n"))
	f.Add([]byte("=\n==\n- =\n;x\n\x00=\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := ParseSysctlConf(data)
		lines := strings.Count(string(data), "\n") + 1
		if len(c.Assignments)+c.Malformed > lines || c.Malformed < 0 {
			t.Fatalf("%d assignments + %d malformed > %d lines", len(c.Assignments), c.Malformed, lines)
		}
		prev := 0
		for _, a := range c.Assignments {
			if a.Key == "" || strings.ContainsAny(a.Key, " \t\n") || a.Line <= prev || a.Line > lines {
				t.Fatalf("bad assignment %+v (previous line %d)", a, prev)
			}
			if a.Value != strings.TrimSpace(a.Value) {
				t.Fatalf("value not trimmed: %q", a.Value)
			}
			prev = a.Line
		}
	})
}
