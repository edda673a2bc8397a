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

// The kernel's route tables of the doctor's network namespace, which is the one pasta and
// slirp4netns take their view from.
const (
	routesV4 = "/proc/net/route"
	routesV6 = "/proc/net/ipv6_route"
)

// pastaLocalMode is the first pasta that falls back to link-local addresses and a default
// gateway of its own when the host has no route to copy ("local mode",
// podman-container-tools/podman#24614: fixed in passt 2024_11_27.c0fbc7e); older ones stop
// with `No routable interface for IPv4`.
var pastaLocalMode = parse.PastaDate{Year: 2024, Month: 11, Day: 27}

var netRoutes = Probe{
	ID:     "net.routes",
	Starts: true,
	Title:  "Routes the network driver copies",
	Fails:  "no default route where a pasta older than 2024_11_27 is used; a default gateway off every connected subnet where pasta is used; only IPv6 egress where rootless Docker uses slirp4netns (warn)",
	Why: "pasta copies the host's addresses and routes into the container's namespace, and " +
		"slirp4netns gives it IPv4 only unless asked for IPv6. With no default route an older pasta " +
		"refuses to start (`No routable interface for IPv4`, podman#21896, podman#24614; " +
		"docs/failures/catalogue.json#no-default-route-pasta); a default route whose gateway is " +
		"reachable only through a host route (cloud servers with a /32 address, as Hetzner's) " +
		"cannot be installed in the container (`Couldn't set IPv4 route(s) in guest: Network is " +
		"unreachable`, podman#18539, podman#29680; #pasta-onlink-gateway-route); on a host whose " +
		"only way out is IPv6, rootless Docker's slirp4netns leaves containers without egress " +
		"(moby/moby#48257; #ipv6-only-host-no-egress).",
	Reads: []string{routesV4, routesV6, "the network driver facts of net.driver",
		"dockerd-rootless.sh and the docker.service user unit (DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS)"},
	Fixes: []finding.Kind{finding.Manual},
	Run:   runNetRoutes,
}

func runNetRoutes(ctx context.Context, e *facts.Env) finding.Result {
	v4, err4 := readRoutes(e, routesV4, parse.ParseIPv4Routes)
	v6, err6 := readRoutes(e, routesV6, parse.ParseIPv6Routes)
	switch {
	case errors.Is(err4, fs.ErrNotExist) && errors.Is(err6, fs.ErrNotExist):
		return finding.Skipf("%s and %s do not exist (no network namespace view, or a recording without them)", routesV4, routesV6)
	case err4 != nil && !errors.Is(err4, fs.ErrNotExist):
		return finding.Undecided(err4, "cannot read the IPv4 routes")
	case err6 != nil && !errors.Is(err6, fs.ErrNotExist):
		return finding.Undecided(err6, "cannot read the IPv6 routes")
	}
	def4, def6 := defaults(v4), defaults(v6)
	r := finding.Result{}.With(routesV4, describeDefaults(def4)).With(routesV6, describeDefaults(def6))

	n := e.NetDrivers(ctx)
	docker := e.DockerRootless().Script != ""
	var pastaUsers []string
	if n.PodmanUsesPasta() {
		pastaUsers = append(pastaUsers, "Podman")
	}
	if docker && n.Driver() == "pasta" {
		pastaUsers = append(pastaUsers, "rootless Docker")
	}
	pastaBy := netJoinAnd(pastaUsers)

	switch {
	case len(def4) == 0 && len(def6) == 0:
		return judgeNoDefault(n, r, pastaBy)
	case len(pastaUsers) > 0:
		for _, d := range def4 {
			if d.Gateway.IsValid() && !parse.OnLink(v4, d.Iface, d.Gateway) {
				return r.WithStatus(finding.Warn, "the default gateway %s is on no connected subnet of %s: %s's pasta may fail to set up the container's routes", d.Gateway, d.Iface, pastaBy).
					Detail("The host reaches %s through a host route or the onlink flag (cloud servers with a /32 address); pasta copies the default route without it, and containers fail with `pasta failed with exit code 1: Couldn't set IPv4 route(s) in guest: Network is unreachable` or get no default route (podman#18539, podman#29680).", d.Gateway).
					Fix(finding.ManualStep("pasta-address", fmt.Sprintf(
						"upgrade passt, or give pasta an address and gateway of its own: pasta_options = [\"-a\", \"10.0.2.0\", \"-n\", \"24\", \"-g\", \"10.0.2.2\"] under [network] in %s (or default_rootless_network_cmd = \"slirp4netns\")", containersConfUser)))
			}
		}
	}
	if len(def4) == 0 && len(def6) > 0 && docker && n.Driver() == "slirp4netns" {
		flags, _ := e.DockerRootless().Setting(e, "FLAGS")
		if !strings.Contains(" "+flags+" ", " --ipv6 ") {
			return r.WithStatus(finding.Warn, "this host reaches the outside only over IPv6, and rootless Docker's slirp4netns gives containers IPv4 only: they will have no way out").
				Detail("dockerd-rootless.sh starts slirp4netns without --enable-ipv6, so containers cannot reach IPv6 destinations (`Network unreachable`, moby/moby#48257, slirp4netns#305); pasta copies the host's IPv6 routes.").
				Fix(finding.ManualStep("docker-pasta", fmt.Sprintf(
					"use pasta for rootless Docker: add Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta and Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=implicit under [Service] in %s, then systemctl --user daemon-reload && systemctl --user restart docker", dockerOverride)))
		}
	}
	if len(def4) > 0 {
		return r.WithStatus(finding.Pass, "default route via %s", describeRoute(def4[0]))
	}
	return r.WithStatus(finding.Pass, "IPv6 default route via %s", describeRoute(def6[0]))
}

// judgeNoDefault: with no default route at all, pasta before 2024_11_27 refuses to start.
func judgeNoDefault(n facts.NetDrivers, r finding.Result, pastaBy string) finding.Result {
	if pastaBy == "" {
		return r.WithStatus(finding.Pass, "no default route: containers will reach only what the host reaches without one").
			Detail("slirp4netns and RootlessKit's other drivers start without a default route; pasta (Podman 5's default) needs one before %s.", pastaLocalMode)
	}
	pv, err := parse.ParsePastaVersion([]byte("pasta " + n.Pasta.Version))
	if err == nil && !pv.Date.Before(pastaLocalMode) {
		return r.WithStatus(finding.Pass, "no default route; pasta %s falls back to addresses and a gateway of its own (local mode)", n.Pasta.Version).
			Detail("Containers start, and reach the outside once the host has a route and they are started again (podman#26678).")
	}
	version := "of unknown version"
	if n.Pasta.Version != "" {
		version = n.Pasta.Version
	}
	return r.WithStatus(finding.Warn, "the host has no default route, and %s uses pasta %s, which then refuses to start containers", pastaBy, version).
		Detail("pasta copies the host's routes; with none it stops with `pasta failed with exit code 1: No routable interface for IPv4: IPv4 is disabled` or `Couldn't set IPv4 route(s) in guest: Network is unreachable` (podman#21896, cockpit-podman#1600). pasta %s and later fall back to a local mode (podman#24614).", pastaLocalMode).
		Fix(finding.ManualStep("default-route", fmt.Sprintf(
			"give the host a default route (an offline machine can use a dummy interface: ip link add dummy0 type dummy; ip addr add 10.255.255.1/24 dev dummy0; ip link set dummy0 up; ip route add default dev dummy0), upgrade passt to %s or later, or use slirp4netns: default_rootless_network_cmd = \"slirp4netns\" under [network] in %s", pastaLocalMode, containersConfUser)))
}

// readRoutes reads and parses one route table; an unreadable or unparsable one is an error.
func readRoutes(e *facts.Env, p string, parseFn func([]byte) ([]parse.Route, error)) ([]parse.Route, error) {
	data, err := e.Host.ReadFile(p)
	if err != nil {
		return nil, err
	}
	rs, err := parseFn(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return rs, nil
}

func defaults(rs []parse.Route) []parse.Route {
	var out []parse.Route
	for _, r := range rs {
		if r.Default() {
			out = append(out, r)
		}
	}
	return out
}

func describeRoute(r parse.Route) string {
	if r.Gateway.IsValid() {
		return fmt.Sprintf("%s dev %s", r.Gateway, r.Iface)
	}
	return "dev " + r.Iface
}

func describeDefaults(rs []parse.Route) string {
	if len(rs) == 0 {
		return "no default route"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = "default via " + describeRoute(r)
	}
	return strings.Join(s, "; ")
}
