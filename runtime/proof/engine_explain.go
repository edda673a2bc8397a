package proof

import "strings"

// engineText is a text an engine (or a program it runs) prints on a failure, and the static
// probe that explains that failure. The texts are the engines' own, quoted in docs/engines.md
// with their source; they are matched case-insensitively, every part of Match in order.
type engineText struct {
	Match   []string
	Probe   string
	Summary string
	Detail  string
}

// engineTexts are tried in order; the first that matches explains the failure.
var engineTexts = []engineText{
	{
		// crun@1.29 src/libcrun/cgroup.c#L314, every crun since 0.4 (docs/engines.md §1.8).
		Match: []string{"cgroups in hybrid mode not supported"}, Probe: "engine.podman",
		Summary: "crun refuses a hybrid cgroup hierarchy",
		Detail:  `runc runs there: a drop-in ~/.config/containers/containers.conf.d/60-rootless-doctor.conf with runtime = "runc" under [engine] (rootless-doctor fix, a user-scope step).`,
	},
	{
		// containers/common pkg/config/config.go findConmonPath (docs/engines.md §1.3).
		Match: []string{"could not find a working conmon binary"}, Probe: "engine.podman",
		Summary: "Podman finds no working conmon",
	},
	{
		Match: []string{"outdated conmon version"}, Probe: "engine.podman",
		Summary: "conmon is older than Podman needs (2.0.1)",
	},
	{
		// podman@v4.3.1 libpod/runtime.go#L502 (docs/engines.md §1.2).
		Match: []string{"default oci runtime", "not found"}, Probe: "engine.podman",
		Summary: "the OCI runtime containers.conf names is not installed",
	},
	{
		// containers/common config.go readConfigFromFile (docs/engines.md §1.1).
		Match: []string{"decode configuration"}, Probe: "engine.podman",
		Summary: "a containers.conf of the chain does not parse",
	},
	{
		Match: []string{"containers_conf", "no such file"}, Probe: "engine.podman",
		Summary: "CONTAINERS_CONF names a file that does not exist",
	},
	{
		// slirp4netns/pasta opening the tap device (docs/engines.md, measured §8); rootlesskit's
		// "tuntap" error from ip(8) inside the namespace.
		Match: []string{"/dev/net/tun"}, Probe: "net.tun",
		Summary: "the network driver cannot open /dev/net/tun",
	},
	{
		Match: []string{"tuntap"}, Probe: "net.tun",
		Summary: "the network driver cannot create its tap device",
	},
	{
		// Podman's pkg/rootless and rootlesskit: newuidmap refused the maps.
		Match: []string{"newuidmap", "not allowed"}, Probe: "idmap.subuid",
		Summary: "newuidmap refused the subordinate ids",
	},
	{
		Match: []string{"newuidmap", "operation not permitted"}, Probe: "idmap.newuidmap",
		Summary: "newuidmap could not write the id map (is it setuid root, or has the file capability?)",
	},
	{
		Match: []string{"newuidmap", "not found"}, Probe: "idmap.newuidmap",
		Summary: "newuidmap is not installed (package uidmap)",
	},
	{
		// containers/storage: a range shorter than an image's ids.
		Match: []string{"there might not be enough ids available in the namespace"}, Probe: "idmap.subuid",
		Summary: "the subordinate id range is too small",
	},
	{
		Match: []string{"no subuid ranges found"}, Probe: "idmap.subuid",
		Summary: "the account has no subordinate uids",
	},
	{
		Match: []string{"xdg_runtime_dir"}, Probe: "session.xdg-runtime-dir",
		Summary: "XDG_RUNTIME_DIR is not usable",
	},
	{
		Match: []string{"user namespaces are not enabled"}, Probe: "userns.clone",
		Summary: "unprivileged user namespaces are disabled",
	},
	{
		Match: []string{"cannot clone", "operation not permitted"}, Probe: "userns.clone",
		Summary: "creating a user namespace was refused",
	},
	{
		Match: []string{"slirp4netns", "executable file not found"}, Probe: "net.driver",
		Summary: "slirp4netns is not installed",
	},
}

// explainEngine maps an engine's error text to the probe that explains it; an error no text
// matches is the engine's own probe's (engine.NAME), with the text as the summary.
func explainEngine(engine, text string) explanation {
	low := strings.ToLower(text)
	for _, t := range engineTexts {
		if matchInOrder(low, t.Match) {
			x := explanation{Probe: t.Probe, Summary: t.Summary}
			if t.Detail != "" {
				x.Details = []string{t.Detail}
			}
			return x
		}
	}
	return explanation{Probe: "engine." + engine, Summary: clipMessage(lastLines(text, 1))}
}

func matchInOrder(s string, parts []string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}
