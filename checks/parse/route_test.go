package parse

import (
	"errors"
	"net/netip"
	"testing"
)

// Tables as the kernel prints them, from real hosts: this project's dev machine, a Hetzner
// cloud server (/32 address, gateway 172.31.1.1 reachable through a host route), an offline
// machine and an IPv6-only VPS.
const (
	routeHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n"
	routesLAN   = routeHeader +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0                                                                               \n" +
		"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                                                                               \n"
	routesHetzner = routeHeader +
		"eth0\t00000000\t01011FAC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n" +
		"eth0\t01011FAC\t00000000\t0005\t0\t0\t100\tFFFFFFFF\t0\t0\t0\n"
	routes6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n" +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n" +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
)

func TestParseIPv4Routes(t *testing.T) {
	rs, err := ParseIPv4Routes([]byte(routesLAN))
	if err != nil || len(rs) != 2 {
		t.Fatalf("got %+v, %v", rs, err)
	}
	def, lan := rs[0], rs[1]
	if !def.Default() || def.Gateway != netip.MustParseAddr("192.0.2.1") || def.Iface != "eth0" {
		t.Errorf("default route = %+v", def)
	}
	if lan.Default() || lan.Dst != netip.MustParsePrefix("192.0.2.0/24") || lan.Gateway.IsValid() {
		t.Errorf("connected route = %+v", lan)
	}
	if !OnLink(rs, "eth0", def.Gateway) || OnLink(rs, "eth1", def.Gateway) {
		t.Error("192.0.2.1 is on the link of eth0's 192.0.2.0/24 only")
	}

	rs, err = ParseIPv4Routes([]byte(routesHetzner))
	if err != nil || len(rs) != 2 {
		t.Fatalf("got %+v, %v", rs, err)
	}
	if rs[0].Gateway != netip.MustParseAddr("172.31.1.1") || rs[0].Metric != 100 || rs[1].Dst.Bits() != 32 {
		t.Errorf("hetzner = %+v", rs)
	}
	if OnLink(rs, "eth0", rs[0].Gateway) {
		t.Error("a gateway reachable only through a host route is not on a connected subnet")
	}

	for _, in := range []string{routeHeader, "", "eth0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\n"} {
		if _, err := ParseIPv4Routes([]byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, in := range []string{
		"not a route table\n",
		routeHeader + "eth0 zzzzzzzz 00000000 0001 0 0 0 00000000\n",
		routeHeader + "eth0 00000000 00000000 0001 0 0 0 00FF00FF\n", // not contiguous
		routeHeader + "eth0 000000 00000000 0001 0 0 0 00000000\n",
	} {
		if _, err := ParseIPv4Routes([]byte(in)); !errors.Is(err, ErrNotRouteTable) {
			t.Errorf("%q: %v, want ErrNotRouteTable", in, err)
		}
	}
}

func TestParseIPv6Routes(t *testing.T) {
	rs, err := ParseIPv6Routes([]byte(routes6))
	if err != nil || len(rs) != 3 {
		t.Fatalf("got %+v, %v", rs, err)
	}
	if rs[0].Dst != netip.MustParsePrefix("fd00::/64") || rs[0].Default() {
		t.Errorf("fd00::/64 = %+v", rs[0])
	}
	if !rs[1].Default() || rs[1].Gateway != netip.MustParseAddr("fd00::1") || rs[1].Metric != 0x400 {
		t.Errorf("default = %+v", rs[1])
	}
	if rs[2].Default() || rs[2].Usable() {
		t.Errorf("the unreachable default of lo is not a default route: %+v", rs[2])
	}
	for _, in := range []string{"x\n", "00 00 00 00 00 00 00 00 00 eth0\n", routesLAN,
		"00000000000000000000000000000000 ff 00000000000000000000000000000000 00 00000000000000000000000000000000 0 0 0 1 eth0\n"} {
		if _, err := ParseIPv6Routes([]byte(in)); !errors.Is(err, ErrNotRouteTable) {
			t.Errorf("%q: %v, want ErrNotRouteTable", in, err)
		}
	}
}

func FuzzParseIPv4Routes(f *testing.F) {
	f.Add([]byte(routesLAN))
	f.Add([]byte(routesHetzner))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseIPv4Routes(data)
		if err != nil {
			return
		}
		for _, r := range rs {
			if !r.Dst.IsValid() || !r.Dst.Addr().Is4() || r.Dst != r.Dst.Masked() {
				t.Fatalf("bad destination %+v", r)
			}
			if r.Gateway.IsValid() && r.Flags&RouteGateway == 0 {
				t.Fatalf("gateway without RTF_GATEWAY %+v", r)
			}
			_ = OnLink(rs, r.Iface, r.Gateway)
		}
	})
}

func FuzzParseIPv6Routes(f *testing.F) {
	f.Add([]byte(routes6))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseIPv6Routes(data)
		if err != nil {
			return
		}
		for _, r := range rs {
			if !r.Dst.IsValid() || !r.Dst.Addr().Is6() || r.Dst.Bits() > 128 {
				t.Fatalf("bad destination %+v", r)
			}
		}
	})
}
