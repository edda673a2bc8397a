package parse

import (
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// urlUserinfo matches the user:password@ part of URLs written in text (a proxy URL in a unit's
// Environment= line or in a variable).
var urlUserinfo = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s"'=]+@`) })

// RedactUserinfo replaces the credentials of every URL in s ("http://user:pw@proxy:3128")
// with "REDACTED", so that a snapshot or a report never carries a proxy password.
func RedactUserinfo(s string) string {
	return urlUserinfo().ReplaceAllString(s, "${1}REDACTED@")
}

// IsProxyVar reports whether an environment variable names a proxy for Go programs and curl
// (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY in either case; golang.org/x/net/http/httpproxy).
func IsProxyVar(key string) bool {
	switch strings.ToUpper(key) {
	case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY":
		return true
	}
	return false
}

// ProxyHost is the host and port of a proxy setting as Go's httpproxy reads it: a URL, or a
// bare host[:port] taken as http://. ok is false when it cannot be parsed or names no host.
func ProxyHost(v string) (hostname, port string, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", "", false
	}
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Hostname() == "" {
		return "", "", false
	}
	return u.Hostname(), u.Port(), true
}

// IsLoopbackHost reports whether a host name or address is the local machine's loopback:
// localhost (and names under .localhost, RFC 6761), 127.0.0.0/8 or ::1.
func IsLoopbackHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().IsLoopback()
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
