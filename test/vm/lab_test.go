//go:build vmtest

package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLab builds the guest images (or takes them from the cache), boots each guest in turn
// and runs its scenarios, then prints the matrix and writes it to $VMLAB_OUT/matrix.txt. A
// scenario fails when any of its comparisons disagrees. Run it with `make vmtest`; one guest
// or scenario with VMLAB_GUESTS / VMLAB_SCENARIOS (README.md).
func TestLab(t *testing.T) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: the VM lab builds images with mmdebstrap --mode=root and needs root")
	}
	if err := CheckHostTools(); err != nil {
		t.Skipf("skipped: %v (apt-get install mmdebstrap qemu-system-x86 qemu-utils e2fsprogs openssh-client)", err)
	}
	accel, _ := Accel(cfg.Accel)
	t.Logf("accelerator: %s; image cache: %s; output: %s", strings.Join(accel, " "), cfg.Cache, cfg.Out)
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	matrix := &Matrix{}
	t.Cleanup(func() {
		matrix.Time("total", time.Since(start))
		t.Logf("\n%s", writeMatrix(t, cfg, matrix))
	})
	var deadline time.Time
	if cfg.Budget > 0 {
		deadline = start.Add(cfg.Budget)
	}

	doctor := cfg.Doctor
	if doctor == "" {
		doctor = buildDoctor(t)
	}
	// The images build in the background, in guest order: the next suite's image while the
	// current guest runs (builds.go).
	builds, err := StartBuilds(ctx, cfg.Guests, func(ctx context.Context, s Suite) (Image, bool, error) {
		log, err := os.Create(buildLogPath(cfg, s))
		if err != nil {
			return Image{}, false, err
		}
		defer log.Close()
		_, cerr := CachedImage(cfg.Cache, s, cfg.Mirrors)
		img, err := EnsureImage(ctx, cfg.Cache, s, cfg.Mirrors, cfg.Rebuild, log)
		return img, cerr == nil && !cfg.Rebuild, err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { builds.WaitAll(ctx) })
	for _, g := range cfg.Guests {
		t.Run(g.Name, func(t *testing.T) { runGuest(ctx, t, cfg, g, accel, doctor, matrix, builds, deadline) })
	}
}

// writeMatrix writes the matrix so far to $VMLAB_OUT/matrix.txt (after every scenario too, so a
// run stopped from outside leaves what it compared) and returns it.
func writeMatrix(t *testing.T, cfg Config, matrix *Matrix) string {
	var b strings.Builder
	matrix.Write(&b)
	if err := os.WriteFile(filepath.Join(cfg.Out, "matrix.txt"), []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
	return b.String()
}

// spent reports whether the run's time budget is spent; then the guest's scenarios from
// index on are recorded NOT RUN and the test fails.
func spent(t *testing.T, deadline time.Time, matrix *Matrix, g Guest, scenarios []string) bool {
	if deadline.IsZero() || time.Now().Before(deadline) {
		return false
	}
	for _, s := range scenarios {
		matrix.Skip(g.Name, s)
	}
	t.Errorf("NOT RUN, the time budget (VMLAB_BUDGET) is spent: %s on %s", strings.Join(scenarios, ", "), g.Name)
	return true
}

func buildLogPath(cfg Config, s Suite) string {
	return filepath.Join(cfg.Out, "build-"+s.Name+".log")
}

func runGuest(ctx context.Context, t *testing.T, cfg Config, g Guest, accel []string, doctor string, matrix *Matrix, builds *Builds, deadline time.Time) {
	scenarios := cfg.ScenariosFor(g)
	if spent(t, deadline, matrix, g, scenarios) {
		return
	}
	out := filepath.Join(cfg.Out, g.Name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	suite, err := SuiteByName(g.Suite)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	b := builds.Wait(ctx, suite.Name)
	if b.Err != nil {
		t.Fatalf("image %s: %v (log: %s)", suite.Name, b.Err, buildLogPath(cfg, suite))
	}
	img := b.Image
	if b.Cached {
		t.Logf("image %s: cached %s (kernel %s)", suite.Name, img.Dir, img.Meta.KernelRelease)
	} else {
		matrix.Time(fmt.Sprintf("image %s: build, in the background (mmdebstrap %.0fs, mkfs %.0fs)", suite.Name, img.Meta.MmdebstrapSec, img.Meta.MkfsSec), b.Took)
		t.Logf("image %s: built in %s (kernel %s)", suite.Name, b.Took.Round(time.Second), img.Meta.KernelRelease)
	}
	if waited := time.Since(t0); waited > time.Second {
		matrix.Time(g.Name+": waiting for its image", waited)
	}

	transcript, err := os.Create(filepath.Join(out, "transcript.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer transcript.Close()
	boot := BootOptions{Accel: accel, Timeout: cfg.BootTimeout, Cmdline: BootCmdline}
	m, err := Boot(ctx, img, g, os.TempDir(), out, transcript, boot)
	if err != nil {
		t.Fatalf("boot %s: %v", g.Name, err)
	}
	defer m.Close()
	matrix.Time(g.Name+": boot to ssh", m.BootTime)
	t.Logf("%s: ssh after %s; transcript %s, serial log %s", g.Name, m.BootTime.Round(100*time.Millisecond), transcript.Name(), m.Serial)

	lab := NewLab(m, doctor, matrix)
	t0 = time.Now()
	if err := lab.Setup(ctx); err != nil {
		t.Fatalf("setting up %s: %v\nserial console:\n%s", g.Name, err, m.SerialTail(30))
	}
	matrix.Time(g.Name+": setup (copy, session check)", time.Since(t0))

	for i, name := range scenarios {
		if spent(t, deadline, matrix, g, scenarios[i:]) {
			break
		}
		sc, err := ScenarioByName(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(sc.Name, func(t *testing.T) { runScenario(ctx, t, lab, sc, matrix) })
		writeMatrix(t, cfg, matrix)
	}
}

func runScenario(ctx context.Context, t *testing.T, lab *Lab, sc Scenario, matrix *Matrix) {
	fmt.Fprintf(lab.M.Log, "\n\n######## scenario %s: %s\n", sc.Name, sc.About)
	if sc.Skip != nil {
		if why := sc.Skip(ctx, lab); why != "" {
			matrix.Note("%s/%s skipped: %s", lab.Guest.Name, sc.Name, why)
			t.Skipf("skipped: %s", why)
		}
	}
	t0 := time.Now()
	rec := &Recorder{Matrix: matrix, Guest: lab.Guest.Name, Scenario: sc.Name}
	err := sc.Run(ctx, lab, rec)
	if cerr := lab.RunCleanups(ctx); cerr != nil {
		t.Errorf("undoing %s: %v", sc.Name, cerr)
	}
	matrix.Time(fmt.Sprintf("%s: %s", lab.Guest.Name, sc.Name), time.Since(t0))
	if err != nil {
		if errors.Is(err, ErrSSH) {
			t.Logf("serial console:\n%s", lab.M.SerialTail(30))
		}
		t.Fatalf("%s: %v", sc.Name, err)
	}
	for _, r := range rec.Rows {
		if r.Agree {
			continue
		}
		known := ""
		switch {
		case strings.HasPrefix(r.Known, "#"):
			known = " [known: problem " + r.Known + " of issue 12]"
		case r.Known != "":
			known = " [known: problem " + r.Known + " found by the lab, test/vm/README.md]"
		}
		t.Errorf("%s, %s: %s: doctor says %q, engine did %q%s", sc.Name, r.Step, r.Claim, r.Doctor, r.Engine, known)
	}
}

// buildDoctor builds the repository's rootless-doctor, static, for the guests.
func buildDoctor(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "rootless-doctor")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/rootless-doctor")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building rootless-doctor: %v\n%s", err, out)
	}
	return bin
}

// TestGuestShell boots one guest (VMLAB_GUESTS, default debian12), sets it up as the lab does
// and keeps it running for VMLAB_HOLD (default 30m), printing how to log in — for looking
// into a scenario by hand. It runs only when VMLAB_SHELL=1.
func TestGuestShell(t *testing.T) {
	if os.Getenv("VMLAB_SHELL") != "1" {
		t.Skip("skipped: set VMLAB_SHELL=1 to boot a guest and keep it running")
	}
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	hold := 30 * time.Minute
	if v := os.Getenv("VMLAB_HOLD"); v != "" {
		if hold, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	g := cfg.Guests[0]
	if os.Getenv("VMLAB_GUESTS") == "" {
		g, _ = GuestByName("debian12")
	}
	suite, err := SuiteByName(g.Suite)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img, err := EnsureImage(ctx, cfg.Cache, suite, cfg.Mirrors, cfg.Rebuild, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(cfg.Out, g.Name+"-shell")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	transcript, err := os.Create(filepath.Join(out, "transcript.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer transcript.Close()
	accel, _ := Accel(cfg.Accel)
	boot := BootOptions{Accel: accel, Timeout: cfg.BootTimeout, Cmdline: BootCmdline}
	m, err := Boot(ctx, img, g, os.TempDir(), out, transcript, boot)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	doctor := cfg.Doctor
	if doctor == "" {
		doctor = buildDoctor(t)
	}
	lab := NewLab(m, doctor, &Matrix{})
	if err := lab.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	stop := filepath.Join(out, "stop")
	os.Remove(stop)
	fmt.Printf("guest %s is up for %s (touch %s to stop it):\n  ssh %s -p %d %s@127.0.0.1\n",
		g.Name, hold, stop, strings.Join(m.sshOptions(), " "), m.port, Account)
	for deadline := time.Now().Add(hold); time.Now().Before(deadline); time.Sleep(time.Second) {
		if _, err := os.Stat(stop); err == nil {
			return
		}
	}
}
