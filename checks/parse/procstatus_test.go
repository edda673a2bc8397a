package parse

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	in := "Name:\tbash\nUmask:\t0022\nCapBnd:\t000001ffffffffff\nNoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\ngarbage\n:x\nName:\tdup\n"
	want := map[string]string{
		"Name": "bash", "Umask": "0022", "CapBnd": "000001ffffffffff", "NoNewPrivs": "0", "Seccomp": "2", "Seccomp_filters": "1",
	}
	if got := ParseProcStatus([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseProcStatus = %v, want %v", got, want)
	}
}

func TestParseCapMask(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"000001ffffffffff", 0x1ffffffffff, true},
		{"00000000a80425fb", 0xa80425fb, true},
		{" 0 ", 0, true},
		{"ffffffffffffffff", ^uint64(0), true},
		{"", 0, false},
		{"1ffffffffffffffff", 0, false},
		{"xyz", 0, false},
		{"-1", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseCapMask(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseCapMask(%q) = %x, %v; want %x, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseProcStatus(f *testing.F) {
	f.Add([]byte("Name:\tbash\nCapBnd:\t000001ffffffffff\nSeccomp:\t2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := ParseProcStatus(data)
		if len(m) > strings.Count(string(data), "\n")+1 {
			t.Fatalf("%d keys from %d lines", len(m), strings.Count(string(data), "\n")+1)
		}
		for k, v := range m {
			if k == "" || strings.ContainsAny(k, "\n:") || strings.Contains(v, "\n") || v != strings.TrimSpace(v) {
				t.Fatalf("bad entry %q: %q", k, v)
			}
			if c, err := ParseCapMask(v); err == nil && c == 0 && strings.Trim(v, "0") != "" {
				t.Fatalf("mask %q parsed to 0", v)
			}
		}
	})
}
