package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Files net.dns reads.
const (
	resolvConf         = "/etc/resolv.conf"
	resolvedUpstream   = "/run/systemd/resolve/resolv.conf"
	resolvedLinkStates = "/run/systemd/resolve/netif"
	wslConf            = "/etc/wsl.conf"
)

// Where a person puts the account's engine settings (fix texts).
const (
	dockerOverride     = "~/.config/systemd/user/docker.service.d/override.conf"
	containersConfUser = "~/.config/containers/containers.conf"
)

// slirpBindsEscapedResolv is the first slirp4netns whose sandbox also binds the file
// /etc/resolv.conf finally resolves to when that lies outside /etc and /run
// (rootless-containers/slirp4netns@9103678, "Add support for escaping resolv.conf symlinks").
var slirpBindsEscapedResolv = parse.MustVersion("1.2.1")

// podmanSplitDNSFixed is the first Podman whose pasta network forwards DNS to the host's own
// resolver again, so that systemd-resolved's per-link (VPN) servers answer
// (podman-container-tools/podman#22044, a regression of the 5.0 release candidates).
var podmanSplitDNSFixed = parse.MustVersion("5.0.1")

var netDNS = Probe{
	ID:     "net.dns",
	Starts: true,
	Title:  "Name resolution in containers",
	Fails:  "/etc/resolv.conf reached through a path slirp4netns's sandbox does not keep (fail); only loopback resolvers, WSL's resolver with Podman networks, VPN split DNS under Podman 5.0.0 (warn)",
	Why: "Containers resolve names through what the host's /etc/resolv.conf says, as the network " +
		"driver sees it. slirp4netns's sandbox (on by default under dockerd-rootless.sh before " +
		"Docker 29.5) keeps only /etc and /run: a resolv.conf symlink that passes through /var/run " +
		"(openSUSE) or /nix/store (NixOS) leaves its DNS forwarder without upstream servers, and " +
		"every lookup times out (slirp4netns#329, NixOS/nixpkgs#231191; " +
		"docs/failures/catalogue.json#resolv-conf-symlink-outside-etc-run). Resolvers on the " +
		"host's loopback are out of reach of a container network, so engines substitute public " +
		"ones (podman#3277; #resolv-conf-loopback-only); WSL's generated resolver is not reachable " +
		"from Podman's custom networks (microsoft/WSL#10092, podman#18530; " +
		"#wsl2-custom-network-dns); Podman 5.0.0 lost systemd-resolved's per-link VPN servers " +
		"(podman#22044; #vpn-split-dns-ignored).",
	Reads: []string{resolvConf + " and every symlink on the way to its file (readlink, hop by hop)",
		resolvedUpstream, resolvedLinkStates + "/* (SERVERS=, DOMAINS=, DEFAULT_ROUTE=)",
		"/proc/version and " + wslConf + " (WSL)", "the network driver facts of net.driver",
		"dockerd-rootless.sh and the docker.service user unit (DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX, _DETACH_NETNS)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runNetDNS,
}

func runNetDNS(ctx context.Context, e *facts.Env) finding.Result {
	chain, err := followLinks(e, resolvConf)
	if errors.Is(err, fs.ErrNotExist) && len(chain.hops) == 0 {
		// A host without one has no name resolution of its own to hand down; a recording made
		// before net.dns existed has none either. Nothing to judge.
		return finding.Skipf("%s does not exist: the engines give containers public resolvers (8.8.8.8)", resolvConf).
			With(resolvConf, "absent")
	}
	r := finding.Result{}
	if len(chain.hops) > 0 {
		r = r.With(resolvConf, strings.Join(chain.hops, "; "))
	}
	if err != nil {
		return finding.Undecided(err, "cannot follow %s", resolvConf).With(resolvConf, strings.Join(chain.hops, "; "))
	}
	data, err := e.Host.ReadFile(resolvConf)
	if err != nil {
		return finding.Undecided(err, "cannot read %s", resolvConf)
	}
	rc := parse.ParseResolvConf(data)
	r = r.With(chain.real, describeResolvers(rc))

	// Each judge returns the result with what it found, and whether that is the verdict.
	var done bool
	if r, done = judgeSandboxChain(ctx, e, r, chain); done {
		return r
	}
	n := e.NetDrivers(ctx)
	for _, judge := range []func() (finding.Result, bool){
		func() (finding.Result, bool) { return judgeWSLResolver(e, r, rc, n) },
		func() (finding.Result, bool) { return judgeSplitDNS(e, r, rc, n) },
		func() (finding.Result, bool) { return judgeLoopbackResolvers(e, r, rc) },
	} {
		if r, done = judge(); done {
			return r
		}
	}
	if len(rc.Nameservers) == 0 {
		return r.WithStatus(finding.Warn, "%s names no nameserver: the engines give containers public resolvers (8.8.8.8, 8.8.4.4)", chain.real).
			Fix(finding.ManualStep("resolv-conf", fmt.Sprintf("give the host a %s naming a reachable nameserver", resolvConf)))
	}
	return r.WithStatus(finding.Pass, "containers will use %s", joinAddrs(rc.Nameservers))
}

// linkChain is the way from a path to the file it names.
type linkChain struct {
	// visited are the paths the walk looked at, in order: each component, each link.
	visited []string
	// hops are the links met, as "LINK -> TARGET".
	hops []string
	// real is the path finally reached.
	real string
}

// maxChainSteps bounds the walk: a real /etc/resolv.conf chain is a handful of components.
const maxChainSteps = 256

// followLinks walks p component by component the way the kernel resolves it, reading every
// symlink on the way with Readlink, so that the hops in between are known, not only the end
// (EvalSymlinks).
func followLinks(e *facts.Env, p string) (linkChain, error) {
	var c linkChain
	parts := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	cur, links := "/", 0
	for i := 0; i < len(parts); i++ {
		name := parts[i]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		if len(c.visited) >= maxChainSteps {
			return c, fmt.Errorf("%s: more than %d steps", p, maxChainSteps)
		}
		c.visited = append(c.visited, next)
		fi, err := e.Host.Lstat(next)
		if err != nil {
			return c, err
		}
		if fi.Mode&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		target, err := e.Host.Readlink(next)
		if err != nil {
			return c, err
		}
		c.hops = append(c.hops, next+" -> "+finding.Clip(target, 200))
		if links++; links > 40 {
			return c, fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		parts = append(strings.Split(strings.Trim(target, "/"), "/"), parts[i+1:]...)
		i = -1
	}
	c.real = cur
	return c, nil
}

// underDir reports whether p is dir or inside it.
func underDir(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// judgeSandboxChain fails when rootless Docker's sandboxed slirp4netns cannot follow the
// chain: inside the sandbox only /etc and /run exist (and, from slirp4netns 1.2.1, the final
// file when it lies elsewhere), so every path the walk passes must be one of those.
func judgeSandboxChain(ctx context.Context, e *facts.Env, r finding.Result, c linkChain) (finding.Result, bool) {
	escaped := !underDir(c.real, "/etc") && !underDir(c.real, "/run")
	binds := true
	n := e.NetDrivers(ctx)
	if v, err := parse.NewVersion(n.Slirp.Version); err == nil && v.LessThan(slirpBindsEscapedResolv) {
		binds = false
	}
	var lost string
	for _, p := range c.visited {
		if underDir(p, "/etc") || underDir(p, "/run") {
			continue
		}
		if escaped && binds && (p == c.real || strings.HasPrefix(c.real, p+"/")) {
			continue
		}
		lost = p
		break
	}
	if lost == "" {
		return r, false
	}
	on, why := e.SlirpSandbox(ctx)
	problem := fmt.Sprintf("%s reaches its file through %s, which slirp4netns's sandbox does not keep (it keeps /etc and /run", resolvConf, lost)
	if binds {
		problem += ", and the file itself"
	}
	problem += ")"
	if !on {
		// Podman runs slirp4netns without the sandbox unless enable_sandbox=true.
		return r.Detail("%s; no engine here runs slirp4netns sandboxed (%s), so this does not matter now. With the sandbox on, containers could not resolve names (slirp4netns#329).", problem, why), false
	}
	res := r.WithStatus(finding.Fail, "rootless Docker's containers will not resolve names: %s", problem).
		Detail("%s. Its DNS forwarder (10.0.2.3) then finds no nameserver and every lookup times out: `dial tcp: lookup registry-1.docker.io on 10.0.2.3:53: … i/o timeout` (slirp4netns#329, NixOS/nixpkgs#231191, moby/moby#52426).", why)
	if escaped && !binds {
		res = res.Detail("slirp4netns %s predates 1.2.1, the first whose sandbox binds a resolv.conf that lies outside /etc and /run.", n.Slirp.Version)
	}
	return res.Detail("Or, as root, point %s straight at a file under /run: ln -sf %s %s.", resolvConf, suggestRunTarget(c), resolvConf).
		Fix(dockerSlirpSandboxOff()), true
}

// suggestRunTarget is the file under /run the chain ends in, when it does (openSUSE's
// /var/run/netconfig/resolv.conf is /run/netconfig/resolv.conf), else systemd-resolved's.
func suggestRunTarget(c linkChain) string {
	if underDir(c.real, "/run") {
		return c.real
	}
	return "/run/systemd/resolve/stub-resolv.conf"
}

// wslDNSTunnel is the address WSL's DNS tunneling answers on, assigned to the distribution's
// loopback interface (WSL 2.2.1 and later, https://learn.microsoft.com/windows/wsl/networking).
var wslDNSTunnel = netip.AddrFrom4([4]byte{10, 255, 255, 254})

// judgeWSLResolver warns on WSL 2 when Podman is installed and the resolver is the one WSL
// generates: Podman's custom networks resolve through aardvark-dns, which forwards to it from
// the rootless network namespace, where WSL's resolver does not answer.
func judgeWSLResolver(e *facts.Env, r finding.Result, rc parse.ResolvConf, n facts.NetDrivers) (finding.Result, bool) {
	isWSL, ev := wsl(e)
	if !isWSL || rc.GeneratedBy != "wsl" || wslVersion(e) != 2 {
		return r, false
	}
	r = r.With(ev.Source, ev.Value)
	if !n.Podman.Present() {
		return r.Detail("WSL generated %s; Podman is not installed, whose custom networks cannot reach WSL's resolver (podman#18530).", resolvConf), false
	}
	tunnel := slices.Contains(rc.Nameservers, wslDNSTunnel)
	res := r.WithStatus(finding.Warn, "containers on Podman's own networks (podman network create, compose) will not resolve names: WSL's resolver %s is not reachable from them", joinAddrs(rc.Nameservers)).
		Detail("aardvark-dns forwards their lookups to the nameservers of WSL's generated %s from the rootless network namespace, where they time out (`;; connection timed out; no servers could be reached`, microsoft/WSL#10092, podman#18530). Podman's default network is not affected.", resolvConf)
	if tunnel {
		res = res.Detail("%s is WSL's DNS tunnel, an address of the distribution's loopback interface.", wslDNSTunnel)
	}
	return res.Fix(finding.ManualStep("podman-dns-servers", fmt.Sprintf(
		"name a resolver the containers can reach: dns_servers = [\"<your network's resolver>\"] under [containers] in %s (or podman network create --dns <resolver>); or set generateResolvConf = false under [network] in %s and write a reachable nameserver into %s",
		containersConfUser, wslConf, resolvConf))), true
}

// judgeLoopbackResolvers warns when every nameserver is on the host's loopback, unless it is
// systemd-resolved's stub and its upstream list (which Docker and Podman read instead) has a
// reachable server.
func judgeLoopbackResolvers(e *facts.Env, r finding.Result, rc parse.ResolvConf) (finding.Result, bool) {
	if !rc.LoopbackOnly() {
		return r, false
	}
	if slices.Contains(rc.Nameservers, parse.ResolvedStub) {
		data, err := e.Host.ReadFile(resolvedUpstream)
		if err == nil {
			up := parse.ParseResolvConf(data)
			r = r.With(resolvedUpstream, describeResolvers(up))
			if len(up.Nameservers) > 0 && !up.LoopbackOnly() {
				return r.WithStatus(finding.Pass, "systemd-resolved's stub; containers get its upstream servers %s", joinAddrs(up.Nameservers)).
					Detail("Docker and Podman give containers the servers of %s when %s is the stub (127.0.0.53); pasta and slirp4netns forward to the stub itself.", resolvedUpstream, resolvConf), true
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			r = r.Detail("cannot read %s: %v", resolvedUpstream, err)
		}
	}
	return r.WithStatus(finding.Warn, "every nameserver in %s is on the host's loopback (%s): containers on their own networks cannot reach it", resolvConf, joinAddrs(rc.Nameservers)).
		Detail("A local resolver (dnsmasq, unbound, a VPN client's) listens only on the host's loopback. pasta's and slirp4netns's DNS forwarders reach it for the default network, but engines that copy the host's servers (Docker's own networks, Podman's aardvark-dns) substitute public resolvers (8.8.8.8), which restricted networks block and which do not know local names: `Could not resolve host` (podman#3277, NixOS/nixpkgs#282361, buildah#5033).").
		Fix(finding.ManualStep("container-dns", fmt.Sprintf(
			"name a resolver containers can reach: dns_servers = [\"<upstream resolver>\"] under [containers] in %s for Podman, {\"dns\": [\"<upstream resolver>\"]} in %s for Docker; or let the local resolver listen on a non-loopback address",
			containersConfUser, "~/.config/docker/daemon.json"))), true
}

// judgeSplitDNS warns when systemd-resolved routes some domains to a link's own servers (a
// VPN) and Podman 5.0.0, whose pasta network bypassed the host's resolver, is what runs.
func judgeSplitDNS(e *facts.Env, r finding.Result, rc parse.ResolvConf, n facts.NetDrivers) (finding.Result, bool) {
	if !slices.Contains(rc.Nameservers, parse.ResolvedStub) {
		return r, false
	}
	ents, err := e.Host.ReadDir(resolvedLinkStates)
	if err != nil {
		return r, false
	}
	var split []string
	for _, ent := range ents {
		p := resolvedLinkStates + "/" + ent.Name()
		data, err := e.Host.ReadFile(p)
		if err != nil {
			continue
		}
		kv := parse.ParseKeyValues(data)
		if kv["SERVERS"] == "" {
			continue
		}
		routing := kv["DEFAULT_ROUTE"] == "no"
		for _, d := range strings.Fields(kv["DOMAINS"]) {
			routing = routing || strings.HasPrefix(d, "~") && d != "~."
		}
		if routing {
			split = append(split, fmt.Sprintf("link %s: servers %s, domains %s", ent.Name(), finding.Clip(kv["SERVERS"], 100), finding.Clip(orNone(kv["DOMAINS"]), 100)))
		}
	}
	if len(split) == 0 {
		return r, false
	}
	r = r.With(resolvedLinkStates, strings.Join(split, "; "))
	v, verr := parse.NewVersion(n.Podman.Version)
	if !n.PodmanUsesPasta() || verr != nil || !v.LessThan(podmanSplitDNSFixed) {
		return r.Detail("systemd-resolved sends some domains to a link's own servers (a VPN); the default networks of pasta and slirp4netns forward lookups to the host's stub, which keeps that routing."), false
	}
	return r.WithStatus(finding.Warn, "names of the VPN's domains will not resolve in Podman %s's containers: its pasta network skips systemd-resolved's per-link servers", n.Podman.Version).
		Detail("Podman 5.0.0 gave containers the host's global servers instead of forwarding to systemd-resolved (podman#22044); fixed in %s.", podmanSplitDNSFixed).
		Fix(finding.ManualStep("podman-upgrade", fmt.Sprintf("upgrade Podman to %s or later, or set dns_servers = [\"<the VPN's resolver>\"] under [containers] in %s",
			podmanSplitDNSFixed, containersConfUser))), true
}

func describeResolvers(rc parse.ResolvConf) string {
	s := "nameservers " + orNone(joinAddrs(rc.Nameservers))
	if len(rc.Invalid) > 0 {
		s += "; not addresses: " + strings.Join(rc.Invalid, " ")
	}
	if rc.GeneratedBy != "" {
		s += "; written by " + rc.GeneratedBy
	}
	return s
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}
