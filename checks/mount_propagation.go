package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var mountPropagation = Probe{
	ID:    "mount.propagation",
	Title: "Root mount propagation",
	Fails: "`/` is not shared (warn)",
	Why: "dockerd-rootless.sh starts RootlessKit with --propagation=rslave, and bind mounts with " +
		"rshared/rslave propagation (-v …:rslave, mounts made on the host while a container runs) " +
		"need / to be a shared mount on the host. systemd makes / shared at boot; other inits " +
		"(OpenRC, initramfs roots), chroots and containers often leave it private, and RootlessKit " +
		"and podman then warn at every start.",
	Reads: []string{facts.MountinfoPath},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runMountPropagation,
}

func runMountPropagation(_ context.Context, e *facts.Env) finding.Result {
	mt := e.Mounts()
	switch {
	case errors.Is(mt.Err, fs.ErrNotExist):
		return finding.Undecided(mt.Err, "%s is missing (is /proc mounted?)", facts.MountinfoPath)
	case errors.Is(mt.Err, parse.ErrNoMounts):
		return finding.Undecided(mt.Err, "%s is empty", facts.MountinfoPath)
	case mt.Unparsable:
		return finding.Undecided(mt.Err, "%s is not a mount table", facts.MountinfoPath)
	case mt.Err != nil:
		return finding.Undecided(mt.Err, "cannot read the mount table %s", facts.MountinfoPath)
	}
	fix := finding.ManualStep("make-root-shared",
		"make / a shared mount now and at every boot: as root, mount --make-rshared / (systemd does this itself; with OpenRC or another init add it to a boot script). Inside a container, / is the container runtime's choice.")
	r := finding.Result{}
	if masked := parse.ProcOvermounts(mt.Mounts); len(masked) > 0 {
		// Catalogue buildkit-proc-masked: cheap to see here, so said here.
		shown := masked
		if len(shown) > 4 {
			shown = append(append([]string{}, shown[:4]...), "…")
		}
		r = r.Detail("/proc has mounts over %s (masked paths, as inside a container): a fresh procfs mount in a new user namespace is refused, so rootless BuildKit needs --oci-worker-no-process-sandbox and nested engines need the container started with unmasked /proc (moby/buildkit#4075).", strings.Join(shown, ", "))
	}
	if !e.SystemdRunning() {
		r = r.Detail("systemd is not PID 1 here; systemd makes / shared at boot, other inits and container runtimes usually do not.")
	}

	root := parse.MountAt(mt.Mounts, "/")
	if root == nil {
		// In a chroot the mount that holds the new root lies outside it and is not listed;
		// RootlessKit then reads the propagation as "" (its warning says: mounted as "").
		return r.WithStatus(finding.Warn, "%s has no entry for / (a chroot?): RootlessKit will treat / as not shared", facts.MountinfoPath).
			Detail("Bind mounts with rshared/rslave propagation will fail, and mounts made later on the host will not reach containers.").
			Fix(fix)
	}
	prop := parse.ParsePropagation(root.Optional)
	r = r.With(facts.MountinfoPath, mountinfoLine(root.Mountpoint, root.Options, root.Optional, root.FSType, root.Source))
	if prop.Shared {
		return r.WithStatus(finding.Pass, "/ is shared (peer group %d)", prop.PeerGroup)
	}
	return r.WithStatus(finding.Warn, "/ is %s, not shared: rslave/rshared bind mounts fail and host mounts do not reach rootless containers", prop).
		Detail("RootlessKit warns at start: `The host root filesystem is mounted as %q. Setting child propagation to \"rslave\" is not supported.` (rootless-containers/rootlesskit#359); podman warns `\"/\" is not a shared mount`.", root.Optional).
		Fix(fix)
}

// mountinfoLine is the evidence form of a mountinfo entry.
func mountinfoLine(mountpoint, options, optional, fstype, source string) string {
	fields := []string{mountpoint, options}
	if optional != "" {
		fields = append(fields, optional)
	}
	return fmt.Sprintf("%s - %s %s", strings.Join(fields, " "), fstype, source)
}
