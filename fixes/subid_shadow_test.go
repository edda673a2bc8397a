package fixes

import (
	"errors"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"

	"github.com/rootless-doctor/rootless-doctor/host"
)

// Subordinate id files as shadow reads them (strtoul base 0, CR as garbage; see
// checks/parse/subid.go): the allocator keeps clear of what every tool may read a line as,
// and the run-time guard stops on what shadow reads.

// shadowFiles are subid files whose numbers are not plain decimal, with the ids shadow (and,
// for leading zeros, a decimal reader) takes each to hold.
var shadowFiles = []struct {
	name, subuid string
	taken        []parse.IDSpan
}{
	// Issue 10: shadow reads 0503240:0200000 as 165536-231071; `fix --apply` gave another
	// account 165536:65536.
	{"octal", "bob:100000:65536\nrdX:0503240:0200000\n", []parse.IDSpan{{First: 165536, Last: 231071}, {First: 503240, Last: 703239}}},
	{"hex", "rdX:0x186a0:0x10000\n", []parse.IDSpan{{First: 100000, Last: 165535}}},
	{"blanks and plus", "rdX: 100000:+65536\n", []parse.IDSpan{{First: 100000, Last: 165535}}},
	// Invalid to shadow today, but one `tr -d '\r'` (or the CRLF fix step) from valid.
	{"CRLF", "rdX:100000:65536\r\n", []parse.IDSpan{{First: 100000, Last: 165535}}},
	{"octal CRLF", "rdX:0303240:0200000\r\n", []parse.IDSpan{{First: 100000, Last: 165535}, {First: 303240, Last: 503239}}},
	{"negative count", "rdX:100000:-1\n", []parse.IDSpan{{First: 100000, Last: maxID}}},
}

func TestAllocateAvoidsWhatShadowReads(t *testing.T) {
	for _, tt := range shadowFiles {
		t.Run(tt.name, func(t *testing.T) {
			h := host.NewMemory().File("/etc/subuid", tt.subuid).File("/etc/subgid", tt.subuid).
				File("/etc/login.defs", "SUB_UID_MAX 1000000\nSUB_GID_MAX 1000000\n")
			a := newAllocator(readIDFacts(h.Host()))
			r := a.allocate(subIDWant{user: "other", uids: true, gids: true, count: 65536}, 1001)
			if r.failure != "" {
				if tt.name == "negative count" {
					return // everything from 100000 up is claimed
				}
				t.Fatalf("no range: %s", r.failure)
			}
			got, _ := parse.SpanOf(r.uidStart, 65536)
			for _, s := range tt.taken {
				if got.Overlaps(s) {
					t.Errorf("allocated %d-%d, which overlaps %d-%d of %q", got.First, got.Last, s.First, s.Last, tt.subuid)
				}
			}
		})
	}
}

// TestFreeCheckShadowNumbers runs the guard with the real awk (and mawk, where installed)
// over files whose numbers shadow reads in octal or hex.
func TestFreeCheckShadowNumbers(t *testing.T) {
	awks := []string{}
	for _, a := range []string{"awk", "mawk", "gawk", "original-awk", "busybox"} {
		if _, err := exec.LookPath(a); err == nil {
			awks = append(awks, a)
		}
	}
	if len(awks) == 0 {
		t.Skip("skipping: no awk")
	}
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0::/:/bin/sh\nother:x:1001:1001::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, subuid string
		lo, hi       int64
		taken        bool
	}{
		{"octal over the range", "rdX:0503240:0200000\n", 165536, 231071, true},
		{"octal read as decimal would miss it", "rdX:0503240:0200000\n", 231072, 296607, false},
		{"hex over the range", "rdX:0x28000:0x10000\n", 165536, 231071, true},
		{"hex upper case", "rdX:0X28000:0X10\n", 163840, 163840, true},
		{"blanks and plus", "rdX:\t 165536:+1\n", 165536, 165536, true},
		{"octal count reaching in", "rdX:100000:0400000\n", 165536, 231071, true},
		{"CRLF line: repaired by the step before", "rdX:165536:10\r\n", 165536, 231071, true},
		{"trailing garbage is no entry", "rdX:165536x:10\n", 165536, 231071, false},
		{"not octal is no entry", "rdX:08:99999999\n", 2000, 231071, false},
		{"0x alone is no entry", "rdX:0x:99999999\n", 2000, 231071, false},
		{"zero count is no entry", "rdX:165536:0\n", 2000, 231071, false},
		{"NIS line is no entry", "+rdX:165536:10\n-rdX:165536:10\n", 2000, 231071, false},
		{"empty count is no entry", "rdX:165536:\n", 2000, 231071, false},
		{"negative start is no entry", "rdX:-5:10\n", 2000, 231071, false},
		{"fourth field still read (shadow 4.13)", "rdX:165536:10:x\n", 165536, 231071, true},
		{"own octal line does not count", "other:0503240:0200000\n1001:0503240:1\n", 165536, 231071, false},
		{"decimal still works", "rdX:165536:10\nrdY:1:10\n", 165536, 231071, true},
		{"negative count reaches the end", "rdX:100000:-1\n", 165536, 231071, true},
		{"huge hex count", "rdX:0x10:0xffffffffffffffff\n", 165536, 231071, true},
	}
	for _, awk := range awks {
		for _, tt := range tests {
			t.Run(awk+"/"+tt.name, func(t *testing.T) {
				subuid := filepath.Join(dir, "subuid")
				if err := os.WriteFile(subuid, []byte(tt.subuid), 0o644); err != nil {
					t.Fatal(err)
				}
				argv := freeCheck(subuid, passwd, parse.IDSpan{First: tt.lo, Last: tt.hi}, "other", "1001")
				if awk != "awk" {
					argv[0] = awk
				}
				if awk == "busybox" {
					argv = append([]string{"busybox"}, append([]string{"awk"}, argv[1:]...)...)
				}
				out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
				if tt.taken && (err == nil || !strings.Contains(string(out), "used by rdX")) {
					t.Fatalf("guard = %v %q, want it to stop on rdX", err, out)
				}
				if !tt.taken && err != nil {
					t.Fatalf("guard failed: %v %s", err, out)
				}
			})
		}
	}
}

// TestStripCRStep runs the CRLF repair with sh (and busybox sh, where installed) on a copy:
// only line-end CRs go, the rest of the file is kept byte for byte, a second run changes
// nothing (fixes/apply's TestTouchedCRLF checks that the applier backs the file up first).
func TestStripCRStep(t *testing.T) {
	p, err := Build(Input{Env: &facts.Env{Distro: debian(t)}, Requests: []Request{
		req("idmap.subuid", finding.StripCR("/etc/subuid", "CRLF")),
		req("idmap.subuid", finding.AddSubIDs("alice", "both", 65536, nil, "none")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) < 2 || p.Steps[0].ID != "crlf.subuid" || p.Steps[1].ID != "subid.add" {
		t.Fatalf("steps: %+v", p.Steps)
	}
	s := p.Steps[0]
	if _, err := Build(Input{Env: &facts.Env{Distro: debian(t)}, Requests: []Request{req("x", finding.StripCR("/etc/shadow", "r"))}}); !errors.Is(err, ErrUnsafe) {
		t.Errorf("CRLF repair of /etc/shadow: %v", err)
	}
	shells := [][]string{{"sh"}}
	if _, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{"busybox", "sh"})
	}
	const in = "alice:100000:65536\r\nbob:165536:65536\r\n# a\rcomment\r\r\ncarol:231072:65536\n"
	const want = "alice:100000:65536\nbob:165536:65536\n# a\rcomment\ncarol:231072:65536\n"
	for _, sh := range shells {
		f := filepath.Join(t.TempDir(), "subuid")
		if err := os.WriteFile(f, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := strings.Join(s.Commands, "\n")
		cmd = strings.ReplaceAll(cmd, "/etc/subuid", f)
		for run := 1; run <= 2; run++ {
			if out, err := exec.Command(sh[0], append(sh[1:], "-ec", cmd)...).CombinedOutput(); err != nil {
				t.Fatalf("%v, run %d: %v %s", sh, run, err, out)
			}
			if got, _ := os.ReadFile(f); string(got) != want {
				t.Fatalf("%v, run %d: %q, want %q", sh, run, got, want)
			}
		}
	}
}
