package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// heavyInit are packages whose init the binary once paid at every start, --help included
// (issue 16, docs/performance.md): gopacket/layers fills 65,536-entry tables (3.7 ms), linked
// by the gvisor-tap-vsock network that only the rootless-doctor-gvisor helper links now;
// Masterminds/semver and client_golang compile expressions and register collectors.
var heavyInit = []string{
	"github.com/google/gopacket",
	"gvisor.dev/gvisor",
	"github.com/containers/gvisor-tap-vsock",
	"golang.org/x/crypto/ssh",
	"github.com/miekg/dns",
	"github.com/Masterminds/semver",
	"github.com/prometheus/client_golang",
	"github.com/prometheus/procfs",
	"google.golang.org/protobuf",
	"expvar",
}

// maxInitAllocs bounds the allocations of all package inits at start (GODEBUG=inittrace=1):
// 3,656 before the expressions compiled on first use, about 1,000 since. Allocation counts
// do not depend on the machine's load, unlike the clock.
const maxInitAllocs = 1500

// TestStartupInit builds the binary, runs `--help` with GODEBUG=inittrace=1 and reports
// the packages initialised, their clock time and allocations. It fails when a package of
// heavyInit is initialised or when the allocations grow past maxInitAllocs: both would cost
// every command its start-up.
func TestStartupInit(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH: cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "rootless-doctor")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Every package's init runs before main, whatever the command: --help shows them all.
	cmd := exec.Command(bin, "--help")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("--help: %v\n%s", err, stderr.Bytes())
	}
	// "init PKG @0.30 ms, 0.030 ms clock, 0 bytes, 0 allocs" (runtime, GODEBUG=inittrace=1).
	var packages, allocs int
	var clock float64
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[10] != "allocs" {
			continue
		}
		packages++
		ms, err1 := strconv.ParseFloat(f[4], 64)
		n, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			t.Fatalf("unexpected inittrace line %q", sc.Text())
		}
		clock += ms
		allocs += n
		for _, heavy := range heavyInit {
			if f[1] == heavy || strings.HasPrefix(f[1], heavy+"/") {
				t.Errorf("start-up initialises %s (%s ms, %s allocs): it belongs to a helper binary or a lazy path", f[1], f[4], f[9])
			}
		}
	}
	if packages == 0 {
		t.Fatalf("no inittrace lines in:\n%s", stderr.Bytes())
	}
	t.Logf("start-up: %d packages initialised, %.2f ms clock, %d allocations", packages, clock, allocs)
	if allocs > maxInitAllocs {
		t.Errorf("package init makes %d allocations, more than %d: something compiles or builds tables at start", allocs, maxInitAllocs)
	}
}
