package cli

import (
	"context"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/runtime/daemon"
)

// defaultEngine is the engine daemon and install run when none is named after --: the one
// the account installed, read from the engine facts of the run (the lookups the engine.*
// probes made: PATH plus /sbin and /usr/sbin, or the PATH of the engine's own user unit;
// docs/engines.md). dockerd comes first: a containerd that docker.io only depends on is not
// what its user installed (issue 12). Then the containerd of nerdctl, then buildkitd; else a
// daemon found without its client (daemon.FindEngine: PATH, then /usr/local/sbin, /usr/sbin,
// /sbin).
func defaultEngine(ctx context.Context, env *facts.Env) ([]string, error) {
	if d := env.Docker(ctx); d != nil && d.Dockerd.Found() {
		return []string{d.Dockerd.Path}, nil
	}
	if n := env.Nerdctl(ctx); n != nil && n.Containerd.Found() {
		return []string{n.Containerd.Path}, nil
	}
	if b := env.Buildkit(ctx); b != nil && b.Buildkitd.Found() {
		return []string{b.Buildkitd.Path}, nil
	}
	return daemon.FindEngine(nil)
}
