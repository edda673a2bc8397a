package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/finding"
)

// slirpHostLoopback is the address slirp4netns gives the host's loopback inside RootlessKit's
// namespace (10.0.2.2, https://github.com/rootless-containers/slirp4netns#usage).
const slirpHostLoopback = "10.0.2.2"

var netProxy = Probe{
	ID:    "net.proxy",
	Title: "Proxy for rootless dockerd",
	Fails: "rootless dockerd's HTTP(S)_PROXY is on the host's loopback, which its network namespace does not reach (warn)",
	Why: "Rootless dockerd pulls images from inside RootlessKit's network namespace, where 127.0.0.1 " +
		"is the namespace's own loopback, not the host's; dockerd-rootless.sh also passes " +
		"--disable-host-loopback, which blocks slirp4netns's way to the host (10.0.2.2). A proxy that " +
		"listens on the host's loopback (cntlm, px, corporate agents) is then unreachable: `proxyconnect " +
		"tcp: dial tcp 127.0.0.1:3128: connect: connection refused` (docker/docker-install#150, " +
		"moby/moby#43630; docs/failures/catalogue.json#proxy-on-host-loopback). RootlessKit's " +
		"--detach-netns (Docker 29.5) keeps dockerd in the host's namespace and avoids it.",
	Reads: []string{"the docker.service user unit and drop-ins (Environment= HTTP_PROXY, HTTPS_PROXY, ALL_PROXY in either case; DOCKERD_ROOTLESS_ROOTLESSKIT_*)",
		"$HTTP_PROXY, $HTTPS_PROXY, $ALL_PROXY in either case (no user unit)", "dockerd-rootless.sh (its defaults)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runNetProxy,
}

var proxyVars = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"}

func runNetProxy(_ context.Context, e *facts.Env) finding.Result {
	if skip, ok := e.NeedUser(); !ok {
		return skip
	}
	d := e.DockerRootless()
	if !d.Installed() {
		return finding.Skipf("rootless Docker is not installed (no dockerd-rootless.sh, no dockerd)")
	}
	type setting struct{ key, value, from string }
	var set []setting
	for _, k := range proxyVars {
		if v, ok := d.Unit.Env[k]; ok && strings.TrimSpace(v) != "" {
			set = append(set, setting{k, v, d.Unit.EnvFrom[k]})
		}
	}
	if len(set) == 0 && d.Unit.Main == "" {
		// Started by hand, the script inherits the shell's environment.
		for _, k := range proxyVars {
			if v, ok := e.Getenv(k); ok && strings.TrimSpace(v) != "" {
				set = append(set, setting{k, v, "$" + k})
			}
		}
	}
	if len(set) == 0 {
		return finding.Passf("rootless dockerd is given no proxy")
	}
	r := finding.Result{}
	hostLoop, _ := d.Setting(e, "DISABLE_HOST_LOOPBACK")
	hostLoopOff := hostLoop != "false" && hostLoop != "0"
	var bad []setting
	for _, s := range set {
		h, _, ok := parse.ProxyHost(s.value)
		r = r.With(s.from, s.key+"="+finding.ClipLine(parse.RedactUserinfo(s.value), 120))
		if ok && (parse.IsLoopbackHost(h) || (h == slirpHostLoopback && hostLoopOff)) {
			bad = append(bad, s)
		}
	}
	if len(bad) == 0 {
		return r.WithStatus(finding.Pass, "rootless dockerd's proxy is not on the host's loopback")
	}
	if detach, why := detachNetns(e, d); detach {
		return r.WithStatus(finding.Pass, "rootless dockerd's proxy is on the host's loopback, and %s, so dockerd reaches it", why)
	}
	b := bad[0]
	h, port, _ := parse.ProxyHost(b.value)
	if port == "" {
		port = "<port>"
	}
	where := homeRel(e, b.from)
	if strings.HasPrefix(b.from, "$") {
		where = "the environment (" + b.from + ")"
	}
	res := r.WithStatus(finding.Warn, "rootless dockerd will not reach its proxy: %s=%s (%s) is on the host's loopback, which RootlessKit's network namespace does not reach", b.key, parse.RedactUserinfo(b.value), where).
		Detail("Pulls fail with `proxyconnect tcp: dial tcp %s:%s: connect: connection refused` or `network is unreachable` (docker/docker-install#150, moby/moby#43630).", h, port)
	if h == slirpHostLoopback {
		res = res.Detail("%s is slirp4netns's address of the host's loopback, which dockerd-rootless.sh blocks with --disable-host-loopback.", slirpHostLoopback)
	}
	text := fmt.Sprintf("as %s, with slirp4netns as the network driver: mkdir -p ~/.config/systemd/user/docker.service.d && printf '[Service]\\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK=false\\nEnvironment=HTTP_PROXY=http://%s:%s\\nEnvironment=HTTPS_PROXY=http://%s:%s\\n' > ~/.config/systemd/user/docker.service.d/proxy.conf && systemctl --user daemon-reload && systemctl --user restart docker (DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK needs Docker 26, moby/moby#47352); or make the proxy listen on an address other than loopback",
		e.User.Name, slirpHostLoopback, port, slirpHostLoopback, port)
	return res.Fix(finding.ManualStep("docker-proxy", text))
}

// detachNetns reports whether dockerd-rootless.sh starts RootlessKit with --detach-netns, which
// leaves dockerd in the host's network namespace (moby/moby#47103).
func detachNetns(e *facts.Env, d facts.DockerRootless) (bool, string) {
	v, from := d.Setting(e, "DETACH_NETNS")
	switch {
	case v == "true" || v == "1":
		return true, "DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS=" + v + " in " + homeRel(e, from) + " keeps dockerd in the host's network namespace"
	case v == "" && d.Defaults.DetachNetnsDefault:
		return true, d.Script + " starts RootlessKit with --detach-netns, which keeps dockerd in the host's network namespace"
	}
	return false, ""
}
