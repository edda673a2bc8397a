package parse

import "testing"

func TestParseDockerDaemonNet(t *testing.T) {
	f, tr := false, true
	for _, tt := range []struct {
		in      string
		want    DockerDaemonNet
		wantErr bool
	}{
		{`{"icc": false, "userland-proxy": false}`, DockerDaemonNet{ICC: &f, UserlandProxy: &f}, false},
		{`{"iptables": true, "data-root": "/x"}`, DockerDaemonNet{Iptables: &tr}, false},
		{"", DockerDaemonNet{}, false},
		{`{"icc": "false"}`, DockerDaemonNet{}, true},
		{`[]`, DockerDaemonNet{}, true},
	} {
		got, err := ParseDockerDaemonNet([]byte(tt.in))
		if (err != nil) != tt.wantErr || !eqBoolp(got.Iptables, tt.want.Iptables) || !eqBoolp(got.ICC, tt.want.ICC) || !eqBoolp(got.UserlandProxy, tt.want.UserlandProxy) {
			t.Errorf("%q: got %+v, %v", tt.in, got, err)
		}
	}
}

func eqBoolp(a, b *bool) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func FuzzParseDockerDaemonNet(f *testing.F) {
	f.Add([]byte(`{"icc": false, "iptables": true}`))
	f.Add([]byte("\xef\xbb\xbf{\"userland-proxy\": false}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseDockerDaemonNet(data)
		if err != nil && (c.ICC != nil || c.Iptables != nil || c.UserlandProxy != nil) {
			t.Fatal("values with an error")
		}
	})
}
