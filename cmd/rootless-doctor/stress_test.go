//go:build stress

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rootless-doctor/rootless-doctor/internal/hostile"
)

var stressBin = flag.String("stress.bin", "", "the built rootless-doctor binary to run the hostile corpus through (make stress)")

// TestHostile runs the hostile-input corpus, testdata/hostile/*.txtar at the top of the
// repository, through the built binary (make stress): each script generates its input with
// `gen` (internal/hostile: nothing big is committed) and runs the binary with `bounded`, under
// a peak-RSS bound (/usr/bin/time %M), a time limit (timeout -s KILL) and an address-space
// limit (ulimit -v) as a safety net. The rules are docs/bounded-inputs.md.
func TestHostile(t *testing.T) {
	bin := *stressBin
	if bin == "" {
		t.Skip("run through make stress (-stress.bin=PATH of the built binary)")
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		t.Fatal("make stress needs /usr/bin/time (Debian package time)")
	}
	fixtures, err := filepath.Abs(filepath.Join("..", "..", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "hostile"),
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("FIXTURES", fixtures)
			e.Setenv("NO_COLOR", "1")
			e.Setenv("RD", bin)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"gen":     cmdGen,
			"bounded": cmdBounded,
		},
	})
}

// cmdGen makes a hostile input: gen KIND PATH NUMBERS...
//
//	archive-symlinks PATH N LEN   N symlinks with LEN-byte targets
//	archive-names PATH N LEN      N empty files with LEN-byte names
//	archive-commands PATH N       a manifest with N commands
//	archive-bomb PATH TYPE MIB    one entry of tar type TYPE (0, Z, …) of MIB MiB of zeros
//	archive-non-utf8 PATH         an entry whose name is not UTF-8
//	deep-tree DIR DEPTH LEN       directories DEPTH deep, names LEN bytes
//	sparse PATH MIB HEAD          a sparse file of MIB MiB that starts with HEAD
//	links DIR N TARGET            N symlinks DIR/h0 … to TARGET
func cmdGen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: gen KIND PATH ARGS...")
	}
	n := func(i int) int {
		if i >= len(args) {
			ts.Fatalf("gen %s: missing argument %d", args[0], i)
		}
		v, err := strconv.Atoi(args[i])
		ts.Check(err)
		return v
	}
	p := ts.MkAbs(args[1])
	archive := func(gen func(io.Writer) error) { ts.Check(hostile.WriteArchive(p, gen)) }
	switch args[0] {
	case "archive-symlinks":
		archive(func(w io.Writer) error { return hostile.ArchiveSymlinks(w, n(2), n(3)) })
	case "archive-names":
		archive(func(w io.Writer) error { return hostile.ArchiveLongNames(w, n(2), n(3)) })
	case "archive-commands":
		archive(func(w io.Writer) error { return hostile.ArchiveManifest(w, hostile.ManifestCommands(n(2))) })
	case "archive-bomb":
		if len(args) < 4 || len(args[2]) != 1 {
			ts.Fatalf("usage: gen archive-bomb PATH TYPE MIB")
		}
		archive(func(w io.Writer) error { return hostile.ArchiveStreamBomb(w, args[2][0], int64(n(3))<<20) })
	case "archive-non-utf8":
		archive(hostile.ArchiveNonUTF8)
	case "deep-tree":
		ts.Check(hostile.DeepTree(p, n(2), n(3)))
	case "sparse":
		if len(args) < 4 {
			ts.Fatalf("usage: gen sparse PATH MIB HEAD")
		}
		ts.Check(os.WriteFile(p, []byte(args[3]), 0o644))
		ts.Check(os.Truncate(p, int64(n(2))<<20))
	case "links":
		if len(args) < 4 {
			ts.Fatalf("usage: gen links DIR N TARGET")
		}
		ts.Check(os.MkdirAll(p, 0o755))
		for i := range n(2) {
			ts.Check(os.Symlink(ts.MkAbs(args[3]), filepath.Join(p, "h"+strconv.Itoa(i))))
		}
	default:
		ts.Fatalf("gen: unknown kind %q", args[0])
	}
}

// cmdBounded runs the built binary under limits: bounded MAX_MB SECONDS CODE ARGS...
// It fails when the run's peak RSS is over MAX_MB, when it is still running after SECONDS
// (it is killed), or when its exit code is not CODE ("any": whatever it is, as long as it
// ended by itself). stdout and stderr are kept for the script's stdout/stderr commands.
func cmdBounded(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 {
		ts.Fatalf("usage: bounded MAX_MB SECONDS CODE ARGS...")
	}
	maxMB, err := strconv.Atoi(args[0])
	ts.Check(err)
	secs, err := strconv.Atoi(args[1])
	ts.Check(err)
	rssFile := ts.MkAbs(".rss")
	// ulimit -v: a Go binary reserves ~700 MB of address space at start; 2 GiB leaves
	// ~1.3 GB of heap before the kernel refuses, far above every bound below.
	script := `ulimit -v 2097152; exec "$@"`
	argv := append([]string{"-c", script, "sh", "/usr/bin/time", "-f", "%M", "-o", rssFile,
		"timeout", "-s", "KILL", strconv.Itoa(secs), ts.Getenv("RD")}, args[3:]...)
	start := time.Now()
	err = ts.Exec("sh", argv...)
	took := time.Since(start)
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			ts.Fatalf("running %s: %v", strings.Join(args[3:], " "), err)
		}
		code = ee.ExitCode()
	}
	data, rerr := os.ReadFile(rssFile)
	ts.Check(rerr)
	// time(1) writes "Command exited with non-zero status N" before %M when the command fails.
	lines := strings.Fields(strings.TrimSpace(string(data)))
	kb, perr := strconv.Atoi(lines[len(lines)-1])
	ts.Check(perr)
	ts.Logf("peak RSS %d MB, %.2f s, exit %d", kb>>10, took.Seconds(), code)
	if code == 137 || code == 128+9 {
		ts.Fatalf("killed after %d s (or by the address-space limit)", secs)
	}
	if kb>>10 > maxMB {
		ts.Fatalf("peak RSS %d MB, over %d MB", kb>>10, maxMB)
	}
	if args[2] != "any" {
		want, err := strconv.Atoi(args[2])
		ts.Check(err)
		if code != want {
			ts.Fatalf("exit %d, want %d", code, want)
		}
	}
}
