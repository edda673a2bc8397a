package parse

import "testing"

func TestRedactUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"Environment=HTTP_PROXY=http://bob:s3cret@proxy.corp:3128": "Environment=HTTP_PROXY=http://REDACTED@proxy.corp:3128",
		`Environment="HTTPS_PROXY=https://u@p:1" "X=y"`:            `Environment="HTTPS_PROXY=https://REDACTED@p:1" "X=y"`,
		"http://127.0.0.1:3128":                                    "http://127.0.0.1:3128",
		"mail: bob@example.com":                                    "mail: bob@example.com",
	} {
		if got := RedactUserinfo(in); got != want {
			t.Errorf("RedactUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProxyHost(t *testing.T) {
	for _, c := range []struct {
		in, host, port string
		ok, loop       bool
	}{
		{"http://127.0.0.1:3128", "127.0.0.1", "3128", true, true},
		{"localhost:8080", "localhost", "8080", true, true},
		{"http://[::1]:3128/", "::1", "3128", true, true},
		{"http://u:p@127.1.2.3:3128", "127.1.2.3", "3128", true, true},
		{"socks5://proxy.corp:1080", "proxy.corp", "1080", true, false},
		{"http://10.0.2.2:3128", "10.0.2.2", "3128", true, false},
		{"", "", "", false, false},
		{"http://:3128", "", "", false, false},
		{"%%%", "", "", false, false},
	} {
		h, p, ok := ProxyHost(c.in)
		if h != c.host || p != c.port || ok != c.ok || (ok && IsLoopbackHost(h) != c.loop) {
			t.Errorf("ProxyHost(%q) = %q %q %v (loopback %v), want %q %q %v %v", c.in, h, p, ok, IsLoopbackHost(h), c.host, c.port, c.ok, c.loop)
		}
	}
}

func FuzzProxyHost(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:3128", "localhost", "http://u:p@[::1]:1/", "%", "http://a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, _, ok := ProxyHost(s)
		if ok && h == "" {
			t.Fatalf("ok with no host for %q", s)
		}
		_ = IsLoopbackHost(h)
		if r := RedactUserinfo(s); len(r) > len(s)+len("REDACTED")*len(s) {
			t.Fatalf("redaction grew %q to %q", s, r)
		}
	})
}
