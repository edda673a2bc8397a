package parse

import (
	"strconv"
	"strings"
)

// Unlimited is an rlimit of RLIM_INFINITY ("unlimited" in /proc/PID/limits).
const Unlimited = -1

// Rlimit is one line of /proc/PID/limits: the soft and hard limit, Unlimited for
// "unlimited".
type Rlimit struct {
	Soft, Hard int64
}

// Exceeds reports whether n is more than the hard limit allows.
func (r Rlimit) Exceeds(n int64) bool { return r.Hard != Unlimited && (n == Unlimited || n > r.Hard) }

// ParseProcLimits parses /proc/PID/limits (fs/proc/base.c, proc_pid_limits): a header line,
// then one line per resource, "Max open files            1024                 524288               files",
// the name padded to 26 columns and each limit to 21. The names hold spaces, so the line is
// read from its end: the optional units word, the hard limit, the soft limit. Lines that do
// not parse are skipped; the map is keyed by the resource's name ("Max open files").
func ParseProcLimits(data []byte) map[string]Rlimit {
	out := map[string]Rlimit{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "Max" {
			continue
		}
		// Units are a word that is neither a number nor "unlimited" ("files", "bytes", …);
		// "Max nice priority" and "Max realtime priority" have none.
		if _, ok := rlimitValue(f[len(f)-1]); !ok {
			f = f[:len(f)-1]
		}
		if len(f) < 4 {
			continue
		}
		hard, ok1 := rlimitValue(f[len(f)-1])
		soft, ok2 := rlimitValue(f[len(f)-2])
		if !ok1 || !ok2 {
			continue
		}
		name := strings.Join(f[:len(f)-2], " ")
		if _, dup := out[name]; !dup {
			out[name] = Rlimit{Soft: soft, Hard: hard}
		}
	}
	return out
}

func rlimitValue(s string) (int64, bool) {
	if s == "unlimited" {
		return Unlimited, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// KeyUser is one line of /proc/key-users (security/keys/proc.c, proc_key_users_show):
// "%5u: %5d %d/%d %d/%d %d/%d", the uid, the usage count, the keys and instantiated keys,
// the keys charged to the quota and its limit, the bytes charged and their limit.
type KeyUser struct {
	UID               int64
	Usage             int64
	NKeys, NIKeys     int64
	QNKeys, MaxKeys   int64
	QNBytes, MaxBytes int64
}

// ParseKeyUsers parses /proc/key-users into its lines by uid. Lines that do not parse are
// skipped.
func ParseKeyUsers(data []byte) map[int64]KeyUser {
	out := map[int64]KeyUser{}
	for _, line := range strings.Split(string(data), "\n") {
		uidText, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		uid, err := strconv.ParseInt(strings.TrimSpace(uidText), 10, 64)
		if err != nil || uid < 0 || len(f) != 4 {
			continue
		}
		usage, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		var pairs [3][2]int64
		bad := false
		for i, p := range f[1:] {
			a, b, ok := strings.Cut(p, "/")
			x, err1 := strconv.ParseInt(a, 10, 64)
			y, err2 := strconv.ParseInt(b, 10, 64)
			if !ok || err1 != nil || err2 != nil || x < 0 || y < 0 {
				bad = true
				break
			}
			pairs[i] = [2]int64{x, y}
		}
		if bad {
			continue
		}
		out[uid] = KeyUser{UID: uid, Usage: usage, NKeys: pairs[0][0], NIKeys: pairs[0][1],
			QNKeys: pairs[1][0], MaxKeys: pairs[1][1], QNBytes: pairs[2][0], MaxBytes: pairs[2][1]}
	}
	return out
}
