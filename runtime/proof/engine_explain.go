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
		// containers/common libnetwork/network/interface.go NetworkBackend: a netavark backend
		// whose binary is in none of the helper dirs stops every podman run, --network none too
		// (docs/engines.md §1.5, docs/failures/catalogue.json#podman-netavark-missing). The
		// message is long: its tail, which is all "The engine said" keeps, no longer names
		// netavark.
		Match: []string{`could not find "netavark"`}, Probe: "engine.podman",
		Summary: "netavark, Podman's network backend, is not installed in its helper directories",
		Detail:  "Install netavark (and aardvark-dns), or remove network_backend = \"netavark\" where netavark cannot be installed (Podman 4 then keeps CNI).",
	},
	{
		// containers/common pkg/config/config.go findConmonPath (docs/engines.md §1.3).
		Match: []string{"could not find a working conmon binary"}, Probe: "engine.podman",
		Summary: "Podman finds no working conmon",
	},
	{
		// findConmonPath again: a conmon older than 2.0.1.
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
		// containers/common config.go systemConfigs (docs/engines.md §1.1, measured).
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
		// rootlesskit's slirp4netns/vpnkit drivers run `ip tuntap add` through nsenter; the
		// error names the command (runtime/rootlesskit/rktext.go).
		Match: []string{"tuntap"}, Probe: "net.tun",
		Summary: "the network driver cannot create its tap device",
	},
	{
		// shadow's newuidmap: "newuidmap: uid range [A-B) -> [C-D) not allowed" when the range
		// is not the account's in /etc/subuid (shadow src/newuidmap.c, verify_range).
		Match: []string{"newuidmap", "not allowed"}, Probe: "idmap.subuid",
		Summary: "newuidmap refused the subordinate ids",
	},
	{
		// newuidmap without setuid or file capabilities: "write to uid_map failed: Operation
		// not permitted" (containers/podman#7106).
		Match: []string{"newuidmap", "operation not permitted"}, Probe: "idmap.newuidmap",
		Summary: "newuidmap could not write the id map (is it setuid root, or has the file capability?)",
	},
	{
		// Go's exec.ErrNotFound text, from Podman's and rootlesskit's lookups of newuidmap.
		Match: []string{"newuidmap", "not found"}, Probe: "idmap.newuidmap",
		Summary: "newuidmap is not installed (package uidmap)",
	},
	{
		// containers/storage, extracting a layer whose owners the range does not cover
		// (https://github.com/containers/podman/blob/main/troubleshooting.md, "Error:
		// there might not be enough IDs available in the namespace").
		Match: []string{"there might not be enough ids available in the namespace"}, Probe: "idmap.subuid",
		Summary: "the subordinate id range is too small",
	},
	{
		// containers/storage pkg/idtools: "no subuid ranges found for user %q in /etc/subuid".
		Match: []string{"no subuid ranges found"}, Probe: "idmap.subuid",
		Summary: "the account has no subordinate uids",
	},
	{
		// runtime/daemon.StateDir's refusal, and Podman's own about its runtime directory.
		Match: []string{"xdg_runtime_dir"}, Probe: "session.xdg-runtime-dir",
		Summary: "XDG_RUNTIME_DIR is not usable",
	},
	{
		// Podman's pkg/rootless/rootless_linux.c: "user namespaces are not enabled in
		// /proc/sys/kernel/unprivileged_userns_clone" after a failed clone.
		Match: []string{"user namespaces are not enabled"}, Probe: "userns.clone",
		Summary: "unprivileged user namespaces are disabled",
	},
	{
		// The same file: "cannot clone: Operation not permitted".
		Match: []string{"cannot clone", "operation not permitted"}, Probe: "userns.clone",
		Summary: "creating a user namespace was refused",
	},
	{
		// Go's exec.ErrNotFound text, from Podman's lookup of its network helper.
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
