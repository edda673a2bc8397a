package checks

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

var virtContainer = Probe{
	ID:    "virt.container",
	Title: "Outer container",
	Fails: "no fully visible /proc (masked paths of Docker, Podman or Kubernetes; lxcfs without LXD's security.nesting), so containers cannot mount their own; a bounding set without CAP_SETUID or CAP_SETGID",
	Why: "Every container start mounts a new procfs for the container's PID namespace. Inside a user " +
		"namespace the kernel allows that only where a proc mount of the same kind is already fully " +
		"visible, with nothing mounted over its files (fs/namespace.c, mount_too_revealing). The " +
		"masked paths of an outer Docker or Podman container and of a Kubernetes pod (/proc/kcore, " +
		"/proc/keys, a read-only /proc/sys), and lxcfs's files over /proc/cpuinfo and /proc/meminfo in " +
		"LXC/LXD without security.nesting, leave none: runc, crun and BuildKit fail with `mount " +
		"proc:/proc ... operation not permitted` (moby/buildkit#4075, containers/crun#675, " +
		"canonical/lxd#3900; docs/failures/catalogue.json#buildkit-proc-masked, " +
		"docs/failures/catalogue.json#lxd-security-nesting-off). An outer container that drops " +
		"CAP_SETUID or CAP_SETGID from the bounding set leaves the setuid newuidmap and newgidmap " +
		"without them: `newuidmap: Could not set caps` (rootless-containers/rootlesskit#68; " +
		"docs/failures/catalogue.json#container-security-blocks-userns).",
	Reads: []string{facts.MountinfoPath + " (proc mounts and what is mounted over them; fuse.lxcfs)", "/proc/self/status (CapBnd)",
		"/.dockerenv, /run/.containerenv, /dev/.lxc", "$container, $KUBERNETES_SERVICE_HOST"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runVirtContainer,
}

// procMountPoints are the directories of procfs that the kernel creates permanently empty
// for other filesystems to be mounted on (proc_create_mount_point, register_sysctl_mount_point):
// a mount there does not hide anything, so it does not make /proc less than fully visible.
var procMountPoints = []string{"sys/fs/binfmt_misc", "fs/nfsd"}

func runVirtContainer(_ context.Context, e *facts.Env) finding.Result {
	kind := outerContainer(e)
	mt := e.Mounts()
	if mt.Err != nil && len(mt.Mounts) == 0 {
		return finding.Undecided(mt.Err, "cannot read %s", facts.MountinfoPath)
	}
	lxc := containerMarker(e, "/dev/.lxc") || slices.ContainsFunc(mt.Mounts, func(m *mountinfo.Info) bool { return m != nil && m.FSType == "fuse.lxcfs" })
	if lxc && kind == "" {
		kind = "an LXC/LXD/Incus container (lxcfs, /dev/.lxc)"
	}
	r := finding.Result{}
	if kind != "" {
		r = r.With("container", kind)
	}
	var problems []string
	var intents []finding.Intent
	visible, masks := procVisible(mt.Mounts)
	if !visible && masks != nil {
		r = r.With(facts.MountinfoPath, "mounted over /proc: "+finding.ClipLine(strings.Join(masks, ", "), 200))
		problems = append(problems, fmt.Sprintf("no fully visible /proc: %s mounted over it, so containers cannot mount their own procfs (`mount proc ... operation not permitted`)", listSome(masks, 4)))
		if lxc {
			intents = append(intents, finding.ManualStep("lxc-nesting", "on the LXD/Incus host: lxc config set <container> security.nesting true && lxc restart <container> (Incus: incus config set …); LXD then mounts a clean procfs at /dev/.lxc/proc"))
		} else {
			intents = append(intents, finding.ManualStep("unmask-proc", "start the outer container with --security-opt systempaths=unconfined (Docker, Podman) or give the pod procMount: Unmasked (Kubernetes, with hostUsers: false); rootless BuildKit alone can instead run with BUILDKITD_FLAGS=--oci-worker-no-process-sandbox"))
		}
	}
	if data, err := e.Host.ReadFile("/proc/self/status"); err == nil {
		bnd := parse.ParseProcStatus(data)["CapBnd"]
		if c, err := parse.ParseCapMask(bnd); err == nil && (c&(1<<capSetuid) == 0 || c&(1<<capSetgid) == 0) {
			r = r.With("/proc/self/status", "CapBnd: "+bnd)
			problems = append(problems, "the capability bounding set lacks CAP_SETUID or CAP_SETGID, so newuidmap and newgidmap cannot use their privilege (`newuidmap: Could not set caps`)")
			intents = append(intents, finding.ManualStep("cap-bounding-set", "start the outer container without dropping SETUID and SETGID (Kubernetes: securityContext.capabilities.add [SETUID, SETGID] with allowPrivilegeEscalation: true; Docker: no --cap-drop of them)"))
		}
	}
	where := "not inside a container"
	if kind != "" {
		where = "inside " + kind
	}
	if len(problems) == 0 {
		res := r.WithStatus(finding.Pass, "%s; /proc is fully visible and the bounding set keeps CAP_SETUID and CAP_SETGID", where)
		if kind != "" {
			res = res.Detail("The outer container's seccomp and LSM profiles can still refuse user namespaces; only the live proof (runtime.userns) shows that.")
		}
		return res
	}
	r = r.WithStatus(finding.Fail, "%s: %s", where, problems[0])
	for _, p := range problems[1:] {
		r = r.Detail("Also: %s.", p)
	}
	return r.Fix(intents...)
}

// procVisible reports whether some procfs mount is fully visible: mounted at its root, with
// nothing mounted over its contents but on the permanently empty mount points. masks lists
// what covers /proc itself when none is; nil masks with visible false means no proc mount at
// /proc was found (nothing to say).
func procVisible(mounts []*mountinfo.Info) (visible bool, masks []string) {
	children := map[int][]*mountinfo.Info{}
	for _, m := range mounts {
		if m != nil {
			children[m.Parent] = append(children[m.Parent], m)
		}
	}
	for _, m := range mounts {
		if m == nil || m.FSType != "proc" || m.Root != "/" {
			continue
		}
		var over []string
		for _, c := range children[m.ID] {
			rel := strings.TrimPrefix(c.Mountpoint, strings.TrimSuffix(m.Mountpoint, "/")+"/")
			if c.Mountpoint == m.Mountpoint || slices.Contains(procMountPoints, rel) {
				continue
			}
			over = append(over, path.Join(m.Mountpoint, rel))
		}
		if len(over) == 0 {
			return true, nil
		}
		if m.Mountpoint == "/proc" {
			masks = over
		}
	}
	return false, masks
}

// listSome joins up to n items and says how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
