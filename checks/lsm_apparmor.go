package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/apparmor"
	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var lsmAppArmor = Probe{
	ID:    "lsm.apparmor",
	Title: "AppArmor profiles of the engine's helpers",
	Fails: "the AppArmor profile that confines pasta keeps it from opening podman's network namespaces (fail)",
	Why: "Debian and Ubuntu confine pasta with the passt package's AppArmor profile (usr.bin.passt and " +
		"abstractions/pasta), which lets it open only the namespace paths it knows. Podman 5 hands pasta " +
		"the container's network namespace at $XDG_RUNTIME_DIR/netns/netns-UUID; a profile from an older " +
		"or third-party passt that does not allow that path makes every container start fail with " +
		"\"pasta failed with exit code 1: Couldn't open network namespace …: Permission denied\" " +
		"(docs/failures/catalogue.json#passt-apparmor-denies-runtime-paths; podman#22681, podman#22937).",
	Reads: []string{
		appArmorEnabled,
		"pasta on PATH (symlinks resolved); `podman --version`; containers.conf default_rootless_network_cmd",
		apparmor.Dir + " (the profile that attaches to pasta, the files it includes, and the tunables that define its variables)",
		apparmor.LoadedFile + " (when readable)",
		"$XDG_RUNTIME_DIR (when checking the running account)",
	},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runLsmAppArmor,
}

// appArmorEnabled says whether the AppArmor module is active ("Y").
const appArmorEnabled = "/sys/module/apparmor/parameters/enabled"

func runLsmAppArmor(ctx context.Context, e *facts.Env) finding.Result {
	if r, ok := e.NeedUser(); !ok {
		return r
	}
	data, err := e.Host.ReadFile(appArmorEnabled)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return finding.Skipf("AppArmor is not active (no %s)", appArmorEnabled)
	case err != nil:
		return finding.Undecided(err, "cannot read %s", appArmorEnabled)
	case strings.TrimSpace(string(data)) != "Y":
		return finding.Skipf("AppArmor is not enabled (%s is %q)", appArmorEnabled, finding.Clip(strings.TrimSpace(string(data)), 20))
	}
	r := finding.Result{}.With(appArmorEnabled, "Y")
	if _, inUse := e.PodmanDataRoot(); !inUse {
		return r.WithStatus(finding.Skip, "podman is not in use: the pasta profile matters for the namespaces podman hands pasta")
	}
	pasta, err := e.LookPath("pasta")
	if err != nil {
		return r.WithStatus(finding.Skip, "pasta is not installed (see net.driver)")
	}
	d := e.NetDrivers(ctx)
	if cmd, from := d.PodmanNetCmd, d.PodmanNetCmdFrom; cmd != "" && cmd != "pasta" {
		return r.With(from, "default_rootless_network_cmd = "+cmd).WithStatus(finding.Skip, "podman uses %s (%s), not pasta", cmd, from)
	} else if cmd == "" {
		if h, major := d.Podman, d.PodmanMajor; major > 0 && major < 5 {
			return r.With(h.Source, h.Value).WithStatus(finding.Skip, "podman %s uses slirp4netns by default, not pasta", h.Version)
		}
	}
	real, err := e.Host.EvalSymlinks(pasta)
	if err != nil || !path.IsAbs(real) {
		real = pasta
	}
	r = r.With("command -v pasta", pasta+" → "+real)
	pol := e.AppArmor()
	if pol.DirErr != nil {
		return finding.Undecided(pol.DirErr, "cannot read %s", apparmor.Dir)
	}
	ref, loaded, ok := pol.Attached(real)
	if !ok {
		return r.WithStatus(finding.Pass, "no AppArmor profile confines pasta (%s)", real)
	}
	where := fmt.Sprintf("%s:%d", ref.File, ref.Prof.Line)
	r = r.With(where, fmt.Sprintf("profile %s attaches to %s", ref.Prof.Name, ref.Prof.Attach))
	if !loaded {
		return r.WithStatus(finding.Pass, "the AppArmor profile %s for pasta is not loaded", ref.Prof.Name)
	}
	// The namespace files are bind mounts of nsfs, owned by root: `owner` rules do not
	// apply (the denial reads ouid=0, podman#22681).
	netns := path.Join(e.RuntimeDir(), "netns", "netns-00000000-0000-0000-0000-000000000000")
	acc := pol.Access(ref, netns, "r", false)
	switch {
	case acc.Allowed:
		return r.With("rule", acc.Rule).WithStatus(finding.Pass, "the AppArmor profile %s lets pasta open podman's network namespaces (%s/netns/…)", ref.Prof.Name, e.RuntimeDir())
	case !acc.Denied && len(acc.EvalErr) > 0:
		return finding.Undecided(errors.New(acc.EvalErr[0]), "cannot evaluate the AppArmor profile %s for %s", ref.Prof.Name, netns)
	}
	if acc.Denied {
		r = r.With("rule", acc.Rule)
	}
	target := ref.File
	for _, inc := range ref.Prof.Includes {
		if inc.Angle && strings.HasPrefix(inc.Path, "local/") {
			target = path.Join(apparmor.Dir, inc.Path) + " (which the profile includes)"
			break
		}
	}
	return r.WithStatus(finding.Fail, "the AppArmor profile %s keeps pasta from opening podman's network namespaces (%s/netns/…): containers with podman's default network fail to start", ref.Prof.Name, e.RuntimeDir()).
		Detail("pasta fails with `Couldn't open network namespace %s/netns/netns-…: Permission denied`, and the kernel logs apparmor=\"DENIED\" operation=\"open\" profile=%q (podman#22681, podman#22937). A passt package older than podman, or from a third-party repository, ships such a profile.", e.RuntimeDir(), ref.Prof.Name).
		Fix(finding.ManualStep("apparmor-passt-netns", fmt.Sprintf(
			"let pasta open podman's namespaces: as root add the line `@{run}/user/@{uid}/netns/* r,` to %s, then apparmor_parser -r %s; or install a passt package as recent as podman (its profile allows that path)",
			target, ref.File)))
}
