package parse

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// PingGroupRange is net.ipv4.ping_group_range: the group ids allowed to open unprivileged ICMP
// echo sockets (SOCK_DGRAM, IPPROTO_ICMP). The kernel default "1 0" (Lo > Hi) allows nobody;
// systemd ≥ 243 ships 50-default.conf with "0 2147483647" (systemd/systemd#13141).
type PingGroupRange struct {
	Lo, Hi int64
}

// maxGID is the largest value the kernel accepts in ping_group_range (GID_T_MAX, 2^31-1).
const maxGID = 1<<31 - 1

// ParsePingGroupRange parses /proc/sys/net/ipv4/ping_group_range ("0\t2147483647").
func ParsePingGroupRange(s string) (PingGroupRange, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return PingGroupRange{}, fmt.Errorf("ping_group_range %q: want two group ids", finding.Clip(s, 64))
	}
	var r PingGroupRange
	for i, p := range []*int64{&r.Lo, &r.Hi} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil || v < 0 || v > maxGID {
			return PingGroupRange{}, fmt.Errorf("ping_group_range %q: %q is not a group id", finding.Clip(s, 64), finding.Clip(f[i], 32))
		}
		*p = v
	}
	return r, nil
}

// Disabled reports whether the range allows no group at all.
func (r PingGroupRange) Disabled() bool { return r.Lo > r.Hi }

// Contains reports whether gid is in the range.
func (r PingGroupRange) Contains(gid int64) bool { return gid >= r.Lo && gid <= r.Hi }

// String is the sysctl's own spelling.
func (r PingGroupRange) String() string { return fmt.Sprintf("%d %d", r.Lo, r.Hi) }
