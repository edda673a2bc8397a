package cli

import (
	"context"
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes/apply"
	"github.com/rootless-doctor/rootless-doctor/host"
	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
	"github.com/rootless-doctor/rootless-doctor/runtime/proof"
	"github.com/rootless-doctor/rootless-doctor/snapshot"
)

// Factory provides what commands need, so tests can swap each part.
type Factory struct {
	IO *IOStreams
	// Host returns the live host for root "" or the recorded host at root.
	Host func(root string) (host.Host, error)
	// Probes returns the static probes in report order.
	Probes func() []checks.Probe
	// Now is the clock for probe durations.
	Now func() time.Time
	// Prove runs the live proof (nil: not available, every runtime.* step is skipped).
	Prove func(context.Context, proof.Options) ([]finding.Result, error)
	// ProveEngine runs one engine end to end (prove --engine; nil: not available).
	ProveEngine func(context.Context, proof.EngineOptions) (finding.Result, error)
	// Daemon replaces the process with the daemon (daemon.Exec); tests swap it.
	Daemon func(daemon.Options) error
	// System returns the machine fix --apply changes and a function that releases it; nil
	// means the real one: as root this process, else the sudo helper (see apply.go).
	System func(asRoot bool, hook func(string)) (apply.System, func() error, error)
	// Build returns the binary's build information (ReadBuildInfo); nil (tests): none.
	Build func() BuildInfo
}

// NewFactory returns the Factory of the real program.
func NewFactory() *Factory {
	return &Factory{
		IO:     SystemIO(),
		Host:   openHost,
		Probes: checks.All,
		Now:    time.Now,
		Prove:  proof.Run,
		Daemon: daemon.Exec,
		Build:  ReadBuildInfo,

		ProveEngine: proof.RunEngine,
	}
}

func openHost(root string) (host.Host, error) {
	if root == "" {
		// --version answers of the helpers are cached per account (docs/performance.md).
		return host.NewLiveCached(), nil
	}
	return snapshot.Open(root)
}
