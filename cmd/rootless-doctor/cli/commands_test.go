package cli

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
)

// TestCommandsTakeRunF: every command is built as NewCmdX(f, runF) with an options struct;
// runF receives the parsed options instead of running the command (the pattern of cli/cli).
func TestCommandsTakeRunF(t *testing.T) {
	ios, _, _, _ := TestIO()
	f := NewFactory()
	f.IO = ios
	var got any
	capture := func(o any) error { got = o; return nil }
	for _, tt := range []struct {
		cmd   *cobra.Command
		args  []string
		check func() bool
	}{
		{NewCmdCheck(f, func(_ context.Context, o *CheckOptions) error { return capture(o) }), []string{"--static", "-o", "json"},
			func() bool { o := got.(*CheckOptions); return o.Static && o.Output == "json" }},
		{NewCmdFix(f, func(_ context.Context, o *FixOptions) error { return capture(o) }), []string{"--static", "-o", "text"},
			func() bool { o := got.(*FixOptions); return o.Static && o.Output == "text" }},
		{NewCmdProve(f, func(_ context.Context, o *ProveOptions) error { return capture(o) }), []string{"--net", "gvisor", "--timeout", "5s"},
			func() bool { o := got.(*ProveOptions); return o.Net == "gvisor" && o.Timeout == 5*time.Second }},
		// --engine without --timeout gets the engines' longer default.
		{NewCmdProve(f, func(_ context.Context, o *ProveOptions) error { return capture(o) }), []string{"--engine", "podman,docker"},
			func() bool {
				o := got.(*ProveOptions)
				return slices.Equal(o.Engine, []string{"podman", "docker"}) && o.Timeout == proof.DefaultEngineTimeout
			}},
		{NewCmdSnapshot(f, func(_ context.Context, o *SnapshotOptions) error { return capture(o) }), []string{"-o", "x.tar.gz", "--user", "ci"},
			func() bool { o := got.(*SnapshotOptions); return o.Out == "x.tar.gz" && o.User == "ci" }},
		{NewCmdProbes(f, func(_ context.Context, o *ProbesOptions) error { return capture(o) }), nil,
			func() bool { return got.(*ProbesOptions).Factory == f }},
		{NewCmdExplain(f, func(_ context.Context, o *ExplainOptions) error { return capture(o) }), []string{"net.tun"},
			func() bool { return got.(*ExplainOptions).ID == "net.tun" }},
		{NewCmdApplyHelper(f, func(_ context.Context, o *ApplyHelperOptions) error { return capture(o) }), nil,
			func() bool { return got.(*ApplyHelperOptions).IO == ios }},
		{NewCmdDaemon(f, func(_ context.Context, o *DaemonOptions) error { return capture(o) }), []string{"--net", "pasta", "--", "dockerd", "-D"},
			func() bool {
				o := got.(*DaemonOptions)
				return o.Net == "pasta" && slices.Equal(o.Engine, []string{"dockerd", "-D"})
			}},
		{NewCmdInstall(f, func(_ context.Context, o *InstallOptions) error { return capture(o) }), []string{"--net", "gvisor", "--", "containerd"},
			func() bool {
				o := got.(*InstallOptions)
				return o.Net == "gvisor" && slices.Equal(o.Engine, []string{"containerd"})
			}},
		{NewCmdUninstall(f, func(_ context.Context, o *UninstallOptions) error { return capture(o) }), nil,
			func() bool { return got.(*UninstallOptions).Factory == f }},
	} {
		got = nil
		tt.cmd.SetArgs(tt.args)
		tt.cmd.SetContext(context.Background())
		if err := tt.cmd.Execute(); err != nil {
			t.Errorf("%s %q: %v", tt.cmd.Name(), tt.args, err)
			continue
		}
		if got == nil || !tt.check() {
			t.Errorf("%s %q: runF got %+v", tt.cmd.Name(), tt.args, got)
		}
	}
}

// TestProveEngineUsage: an engine the proof cannot run is a usage error (exit 2), not a skip.
func TestProveEngineUsage(t *testing.T) {
	ios, _, _, _ := TestIO()
	f := NewFactory()
	f.IO = ios
	cmd := NewCmdProve(f, func(context.Context, *ProveOptions) error { t.Error("ran with a bad --engine"); return nil })
	cmd.SetArgs([]string{"--engine", "podman,rkt"})
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	var ee *exitError
	if !errors.As(err, &ee) || ee.Code != ExitError {
		t.Errorf("--engine rkt: %v, want a usage error", err)
	}
}

// TestProveEngineRuns: prove --engine runs each engine in turn with the account and timeout,
// not the sandbox, and the exit status follows the engines' results.
func TestProveEngineRuns(t *testing.T) {
	ios, _, out, errOut := TestIO()
	h := host.NewMemory().Self(host.Identity{UID: 1000, Name: "alice"}).Host()
	f := &Factory{IO: ios, Probes: checks.All, Host: func(string) (host.Host, error) { return h, nil }}
	f.Prove = func(context.Context, proof.Options) ([]finding.Result, error) {
		t.Error("prove --engine ran the sandbox")
		return nil, nil
	}
	var asked []proof.EngineOptions
	f.ProveEngine = func(_ context.Context, o proof.EngineOptions) (finding.Result, error) {
		asked = append(asked, o)
		r := finding.Passf("Docker 20.10.24 ran a container")
		if o.Engine == "podman" {
			r = finding.Failf("Podman 4.3.1 could not run a container: crun refuses a hybrid cgroup hierarchy (see engine.podman)")
		}
		r.ID, r.Title = proof.EngineStepID(o.Engine), o.Engine
		return r, nil
	}
	code := Execute(context.Background(), f, []string{"prove", "--engine", "docker,podman"})
	if code != ExitFindings {
		t.Errorf("exit %d, want %d (podman failed): %s", code, ExitFindings, errOut.String())
	}
	if len(asked) != 2 || asked[0].Engine != "docker" || asked[1].Engine != "podman" || asked[0].Timeout != proof.DefaultEngineTimeout {
		t.Errorf("engines run: %+v", asked)
	}
	for _, want := range []string{"runtime.engine.docker", "runtime.engine.podman", "crun refuses a hybrid cgroup hierarchy"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
