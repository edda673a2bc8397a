package parse

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// Route flags of /proc/net/route and /proc/net/ipv6_route (include/uapi/linux/route.h,
// include/uapi/linux/ipv6_route.h).
const (
	RouteUp      = 0x0001 // RTF_UP
	RouteGateway = 0x0002 // RTF_GATEWAY
	RouteHost    = 0x0004 // RTF_HOST
	RouteReject  = 0x0200 // RTF_REJECT: unreachable, prohibit, blackhole
)

// Route is one route of the kernel's main table as /proc/net/route (IPv4) or
// /proc/net/ipv6_route (IPv6) lists it: these files show the main table of the reader's own
// network namespace, which is the one slirp4netns and pasta copy their view from.
type Route struct {
	Iface   string
	Dst     netip.Prefix
	Gateway netip.Addr // invalid (zero) when the route has none
	Flags   uint32
	Metric  uint32
}

// Usable reports whether the route carries traffic: up and not a reject route (the kernel
// lists unreachable and blackhole routes too, e.g. IPv6's "unreachable default dev lo").
func (r Route) Usable() bool { return r.Flags&RouteUp != 0 && r.Flags&RouteReject == 0 }

// Default reports whether the route is a usable default route (0.0.0.0/0 or ::/0).
func (r Route) Default() bool { return r.Usable() && r.Dst.Bits() == 0 }

// ErrNotRouteTable is returned for input that is not a route table of the kind asked.
var ErrNotRouteTable = errors.New("not a route table")

// ParseIPv4Routes parses /proc/net/route: a header line, then "Iface Destination Gateway
// Flags RefCnt Use Metric Mask MTU Window IRTT" with the addresses as 8 hex digits of the
// 32-bit value in the kernel's byte order. That order is the machine's: this reads them as
// little-endian (x86, arm64, riscv64, ppc64le), so a table recorded on a big-endian machine
// (s390x) reads as garbled addresses, not as an error.
func ParseIPv4Routes(data []byte) ([]Route, error) {
	var out []Route
	first := true
	for line := range bytes.Lines(data) {
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		if first {
			first = false
			if f[0] == "Iface" {
				continue
			}
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("%w: /proc/net/route line %q", ErrNotRouteTable, finding.ClipLine(string(line), 80))
		}
		dst, err1 := hexIPv4(f[1])
		gw, err2 := hexIPv4(f[2])
		mask, err3 := hexIPv4(f[7])
		flags, err4 := strconv.ParseUint(f[3], 16, 32)
		metric, err5 := strconv.ParseUint(f[6], 10, 32)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			return nil, fmt.Errorf("%w: /proc/net/route line %q", ErrNotRouteTable, finding.ClipLine(string(line), 80))
		}
		bits, ok := maskBits(mask)
		if !ok {
			return nil, fmt.Errorf("%w: /proc/net/route mask %s is not contiguous", ErrNotRouteTable, finding.Clip(f[7], 16))
		}
		r := Route{Iface: finding.Clip(f[0], 32), Dst: netip.PrefixFrom(dst, bits).Masked(), Flags: uint32(flags), Metric: uint32(metric)}
		if flags&RouteGateway != 0 {
			r.Gateway = gw
		}
		out = append(out, r)
	}
	return out, nil
}

// ParseIPv6Routes parses /proc/net/ipv6_route: no header, "dst dstlen src srclen nexthop
// metric refcnt use flags iface", addresses as 32 hex digits in network order, the lengths and
// numbers in hex.
func ParseIPv6Routes(data []byte) ([]Route, error) {
	var out []Route
	for line := range bytes.Lines(data) {
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("%w: /proc/net/ipv6_route line %q", ErrNotRouteTable, finding.ClipLine(string(line), 80))
		}
		dst, err1 := hexIPv6(f[0])
		bits, err2 := strconv.ParseUint(f[1], 16, 8)
		nh, err3 := hexIPv6(f[4])
		metric, err4 := strconv.ParseUint(f[5], 16, 32)
		flags, err5 := strconv.ParseUint(f[8], 16, 32)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil || bits > 128 {
			return nil, fmt.Errorf("%w: /proc/net/ipv6_route line %q", ErrNotRouteTable, finding.ClipLine(string(line), 80))
		}
		r := Route{Iface: finding.Clip(f[9], 32), Dst: netip.PrefixFrom(dst, int(bits)).Masked(), Flags: uint32(flags), Metric: uint32(metric)}
		if flags&RouteGateway != 0 && !nh.IsUnspecified() {
			r.Gateway = nh
		}
		out = append(out, r)
	}
	return out, nil
}

func hexIPv4(s string) (netip.Addr, error) {
	if len(s) != 8 {
		return netip.Addr{}, fmt.Errorf("%q is not 8 hex digits", finding.Clip(s, 16))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return netip.Addr{}, err
	}
	var a [4]byte
	binary.LittleEndian.PutUint32(a[:], binary.BigEndian.Uint32(b))
	return netip.AddrFrom4(a), nil
}

func hexIPv6(s string) (netip.Addr, error) {
	if len(s) != 32 {
		return netip.Addr{}, fmt.Errorf("%q is not 32 hex digits", finding.Clip(s, 40))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.AddrFrom16([16]byte(b)), nil
}

// maskBits is the prefix length of a contiguous IPv4 netmask.
func maskBits(m netip.Addr) (int, bool) {
	b := m.As4()
	v := binary.BigEndian.Uint32(b[:])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	return n, v == 0
}

// OnLink reports whether gw lies inside a usable route of iface that has no gateway itself
// and is wider than a single host: a connected subnet the kernel can reach gw on directly.
// A default route whose gateway is reachable only through a host route (Hetzner's "default
// via 172.31.1.1" plus "172.31.1.1 dev eth0 scope link") or only with the onlink flag is not:
// pasta copies the default route into the container without such a route, and the kernel
// refuses it (podman#18539).
func OnLink(routes []Route, iface string, gw netip.Addr) bool {
	for _, r := range routes {
		if r.Iface != iface || !r.Usable() || r.Gateway.IsValid() || r.Dst.Bits() == 0 {
			continue
		}
		if r.Dst.Bits() == r.Dst.Addr().BitLen() {
			continue
		}
		if r.Dst.Contains(gw) {
			return true
		}
	}
	return false
}
