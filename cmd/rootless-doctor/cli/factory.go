package cli

import (
	"time"

	"github.com/rootless-doctor/rootless-doctor/checks"
	"github.com/rootless-doctor/rootless-doctor/checks/host"
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
}

// NewFactory returns the Factory of the real program.
func NewFactory() *Factory {
	return &Factory{
		IO:     SystemIO(),
		Host:   openHost,
		Probes: checks.All,
		Now:    time.Now,
	}
}

func openHost(root string) (host.Host, error) {
	if root == "" {
		return host.NewLive(), nil
	}
	return host.OpenTree(root)
}
