package parse

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// DBusAddress is one server address of a D-Bus address list
// (https://dbus.freedesktop.org/doc/dbus-specification.html#addresses):
// "unix:path=/run/user/1000/bus", "unix:abstract=/tmp/dbus-XXXX,guid=…", "autolaunch:".
type DBusAddress struct {
	Transport string
	// Params holds the unescaped key/value pairs.
	Params map[string]string
}

// ParseDBusAddresses parses the value of $DBUS_SESSION_BUS_ADDRESS: addresses separated by
// ';', each "transport:key=value,key=value" with values %-escaped. godbus parses these too, but
// only inside its dialer; the doctor needs the socket path without connecting.
func ParseDBusAddresses(s string) ([]DBusAddress, error) {
	var out []DBusAddress
	for _, a := range strings.Split(s, ";") {
		if strings.TrimSpace(a) == "" {
			continue
		}
		transport, rest, ok := strings.Cut(a, ":")
		if !ok || transport == "" {
			return nil, fmt.Errorf("D-Bus address %q has no transport (TRANSPORT:KEY=VALUE,…)", finding.Clip(a, maxText))
		}
		addr := DBusAddress{Transport: transport, Params: map[string]string{}}
		if rest != "" {
			for _, kv := range strings.Split(rest, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return nil, fmt.Errorf("D-Bus address %q: %q is not KEY=VALUE", finding.Clip(a, maxText), finding.Clip(kv, maxText))
				}
				if _, dup := addr.Params[k]; dup {
					return nil, fmt.Errorf("D-Bus address %q: key %q appears twice", finding.Clip(a, maxText), finding.Clip(k, maxText))
				}
				uv, err := dbusUnescape(v)
				if err != nil {
					return nil, fmt.Errorf("D-Bus address %q: %w", finding.Clip(a, maxText), err)
				}
				addr.Params[k] = uv
			}
		}
		out = append(out, addr)
	}
	return out, nil
}

func dbusUnescape(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
			return "", fmt.Errorf("bad %%-escape in %q", finding.Clip(v, maxText))
		}
		b.WriteByte(unhex(v[i+1])<<4 | unhex(v[i+2]))
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// String formats the address back, escaping every byte the specification does not list as
// "optionally escaped" and sorting the keys, so that parse(String()) gives the same address.
func (a DBusAddress) String() string {
	keys := make([]string, 0, len(a.Params))
	for k := range a.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(a.Transport)
	b.WriteByte(':')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		v := a.Params[k]
		for j := 0; j < len(v); j++ {
			c := v[j]
			if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-_/.\\*", c) >= 0 {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02x", c)
			}
		}
	}
	return b.String()
}

// UnixSocket is where a unix-transport address points: Path for a socket on the filesystem,
// Abstract for a Linux abstract socket (no file to look at).
type UnixSocket struct {
	Path     string
	Abstract string
}

// FirstUnixSocket returns the first address a client would dial that names a unix socket.
// "unix:dir=" and "unix:tmpdir=" are listen-only addresses and do not count.
func FirstUnixSocket(addrs []DBusAddress) (UnixSocket, bool) {
	for _, a := range addrs {
		if a.Transport != "unix" {
			continue
		}
		if p, ok := a.Params["path"]; ok && p != "" {
			return UnixSocket{Path: p}, true
		}
		if p, ok := a.Params["abstract"]; ok && p != "" {
			return UnixSocket{Abstract: p}, true
		}
	}
	return UnixSocket{}, false
}
