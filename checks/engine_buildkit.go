package checks

import (
	"context"
	"fmt"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var engineBuildkit = Probe{
	ID:     "engine.buildkit",
	Starts: true,
	Title:  "BuildKit",
	Fails:  "rootless buildkitd will not build: no runc for its OCI worker, no rootlesskit, a buildkitd.toml that does not decode, a generic probe it needs fails",
	Why: "Rootless buildkitd runs inside RootlessKit (`rootlesskit buildkitd`, or " +
		"containerd-rootless-setuptool.sh install-buildkit) with its OCI worker, which runs runc " +
		"(or buildkit-runc): without either it logs `skipping oci worker, as runc does not exist` " +
		"and has no worker to build with; crun is not used (docs/engines.md §4).",
	Reads: []string{"buildkitd, rootlesskit, runc --version", "~/.config/buildkit/buildkitd.toml", "runc, buildkit-runc on PATH"},
	Fixes: []finding.Kind{finding.Package, finding.Manual},
	Run:   runEngineBuildkit,
}

func runEngineBuildkit(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	b := e.Buildkit(ctx)
	if b == nil {
		return notInstalled(e, facts.EngineBuildkit, distro.ToolBuildkit)
	}
	v := newVerdict(e, facts.EngineBuildkit)
	v.with(b.Buildkitd.Evidence(), b.Rootlesskit.Evidence())
	v.eng.Storage = orDefault(b.Conf.Worker.OCI.Snapshotter, "auto")
	v.eng.Network = "host"
	if b.ConfErr != nil {
		v.fail(fmt.Sprintf("%s does not decode: %s", homeRel(e, b.ConfFile), finding.ClipLine(b.ConfErr.Error(), 200)),
			finding.ManualStep("buildkitd-toml", fmt.Sprintf("fix %s", b.ConfFile)))
	}
	ociOn := b.Conf.Worker.OCI.Enabled == nil || *b.Conf.Worker.OCI.Enabled
	switch {
	case !ociOn:
		v.detail("The OCI worker is disabled in %s; rootless builds need it (the containerd worker needs a containerd socket of the account).", homeRel(e, b.ConfFile))
	case b.OCIRuntime == "":
		// buildkit@v0.32.2 cmd/buildkitd/main_oci_worker.go#L465.
		v.fail("neither runc nor buildkit-runc is on PATH: buildkitd logs `skipping oci worker, as runc does not exist` and has no worker",
			finding.InstallTool(string(distro.ToolRunc), "BuildKit's OCI worker runs runc"))
	default:
		rb := e.Versioned(ctx, "runc", b.OCIRuntime, "runc", "runc")
		v.with(rb.Evidence())
		v.eng.Runtime = rb.Describe()
		if e.Cgroup() == facts.CgroupUnified && facts.VersionBefore(rb.Version, "1.0.0-rc91") {
			v.fail(fmt.Sprintf("%s is too old for rootless containers on cgroup v2 (1.0.0-rc91 or later)", rb.Describe()),
				finding.InstallTool(string(distro.ToolRunc), "runc 1.0 or later manages cgroups of rootless containers on cgroup v2"))
		}
	}
	if !b.Rootlesskit.Found() {
		v.fail("rootlesskit is not installed: rootless buildkitd runs inside it (`rootless mode requires to be executed as the mapped root in a user namespace`)",
			finding.InstallTool(string(distro.ToolRootlesskit), "rootless buildkitd runs inside RootlessKit"))
	}
	v.needs(ctx, facts.EngineBuildkit)
	return v.result(b.Buildkitd.Raw)
}
