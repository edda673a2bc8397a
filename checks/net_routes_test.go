package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

const (
	routeHdr      = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	routesLAN     = routeHdr + "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
	routesCloud   = routeHdr + "eth0\t00000000\t01011FAC\t0003\t0\t0\t100\t00000000\t0\t0\t0\neth0\t01011FAC\t00000000\t0005\t0\t0\t100\tFFFFFFFF\t0\t0\t0\n"
	routesNone    = routeHdr + "eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
	routes6None   = "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
	routes6Egress = routes6None + "00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n"
)

func routes(m *host.Memory, v4, v6 string) *host.Memory {
	return m.File("/proc/net/route", v4).File("/proc/net/ipv6_route", v6)
}

// podman5 is Podman 5 with pasta of the given release.
func podman5(m *host.Memory, pasta string) *host.Memory {
	return withPasta(withVersionedTool(m, "podman", "5.3.1"), pasta)
}

func TestNetRoutes(t *testing.T) {
	override := "/home/alice/.config/systemd/user/docker.service.d/override.conf"
	runProbeTests(t, netRoutes, []probeTest{
		{name: "LAN with Podman 5", host: routes(podman5(alice(), "2024_12_11.09478d5"), routesLAN, routes6None), status: finding.Pass, summary: "default route via 192.0.2.1 dev eth0"},
		{name: "no tables", host: alice(), status: finding.Skip},

		// docs/failures/catalogue.json#no-default-route-pasta
		{name: "offline, pasta 2024_06_24", host: routes(podman5(alice(), "2024_06_24.1ee2eca"), routesNone, routes6None), status: finding.Warn,
			summary: "no default route, and Podman uses pasta 2024_06_24", fixes: []string{"manual.default-route"}},
		{name: "offline, pasta of unknown version", host: routes(podman5(alice(), "unknown version"), routesNone, routes6None), status: finding.Warn, summary: "of unknown version"},
		{name: "offline, pasta 2024_12_11 has local mode", host: routes(podman5(alice(), "2024_12_11.09478d5"), routesNone, routes6None), status: finding.Pass, summary: "local mode"},
		{name: "offline, slirp4netns only", host: routes(withSlirp(alice(), "1.2.0"), routesNone, routes6None), status: finding.Pass, summary: "no default route"},
		{name: "offline, Podman 4 on slirp4netns", host: routes(withVersionedTool(withSlirp(alice(), "1.2.0"), "podman", "4.3.1"), routesNone, routes6None), status: finding.Pass},
		{name: "offline, rootless Docker asked for pasta", host: routes(withVersionedTool(withPasta(dockerSlirp(alice(), "1.2.0"), "2024_06_24.1ee2eca"), "rootlesskit", "2.3.1").
			File(override, "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n"), routesNone, ""), status: finding.Warn, summary: "rootless Docker uses pasta"},

		// docs/failures/catalogue.json#pasta-onlink-gateway-route
		{name: "Hetzner /32 with Podman 5", host: routes(podman5(alice(), "2024_12_11.09478d5"), routesCloud, routes6None), status: finding.Warn,
			summary: "172.31.1.1 is on no connected subnet of eth0", fixes: []string{"manual.pasta-address"}},
		{name: "Hetzner /32 with slirp4netns only", host: routes(withSlirp(alice(), "1.2.0"), routesCloud, routes6None), status: finding.Pass},

		// docs/failures/catalogue.json#ipv6-only-host-no-egress
		{name: "IPv6 only, Docker on slirp4netns", host: routes(dockerSlirp(alice(), "1.2.0"), routesNone, routes6Egress), status: finding.Warn,
			summary: "only over IPv6", fixes: []string{"manual.docker-pasta"}},
		{name: "IPv6 only, Docker with --ipv6", host: routes(dockerSlirp(alice(), "1.2.0"), routesNone, routes6Egress).
			File(override, "[Service]\nEnvironment=\"DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS=--ipv6\"\n"), status: finding.Pass, summary: "IPv6 default route via 2001:db8::1 dev eth0"},
		{name: "IPv6 only, Podman 5 on pasta", host: routes(podman5(alice(), "2024_12_11.09478d5"), routesNone, routes6Egress), status: finding.Pass},
		{name: "dual stack, Docker on slirp4netns", host: routes(dockerSlirp(alice(), "1.2.0"), routesLAN, routes6Egress), status: finding.Pass},

		{name: "garbage", host: routes(alice(), "not a table\n", routes6None), status: finding.Warn, summary: "could not check"},
		{name: "unreadable", host: routes(alice(), routesLAN, routes6None).Meta("/proc/net/route", host.FileMeta{Mode: "0000"}), status: finding.Warn, summary: "could not check"},
		{name: "IPv4 table only", host: alice().File("/proc/net/route", routesLAN), status: finding.Pass},
		{name: "as root for alice", host: routes(podman5(alice(), "2024_06_24.1ee2eca"), routesNone, routes6None).Self(host.Identity{Name: "root"}), user: "alice", status: finding.Warn},
	})
}
