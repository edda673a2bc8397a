package parse

import "testing"

func TestParseEngineVersion(t *testing.T) {
	for _, tt := range []struct{ out, who, want, raw string }{
		{"podman version 4.3.1\n", "podman", "4.3.1", "4.3.1"},
		{"crun version 1.8.1\ncommit: f8a096be\n", "crun", "1.8.1", "1.8.1"},
		{"runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\n", "runc", "1.1.5+ds1", "1.1.5+ds1"},
		{"runc version 1.0.0-rc92\n", "runc", "1.0.0-rc92", "1.0.0-rc92"},
		{"conmon version 2.1.6\ncommit: unknown\n", "conmon", "2.1.6", "2.1.6"},
		{"Docker version 20.10.24+dfsg1, build 5d6db84\n", "docker", "20.10.24+dfsg1", "20.10.24+dfsg1"},
		{"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n", "containerd", "1.6.20", "1.6.20~ds1"},
		{"buildkitd github.com/moby/buildkit v0.12.5 bf2b34b\n", "buildkitd", "0.12.5", "0.12.5"},
		{"tini version 0.1.7_catatonit\n", "tini", "0.1.7", "0.1.7_catatonit"},
		{"nerdctl version 2.0.0\n", "nerdctl", "2.0.0", "2.0.0"},
	} {
		v, raw, err := ParseEngineVersion([]byte(tt.out), tt.who)
		if err != nil || v.String() != tt.want || raw != tt.raw {
			t.Errorf("%q: got %v %q %v, want %s %q", tt.out, v, raw, err, tt.want, tt.raw)
		}
	}
	for _, bad := range []string{"", "podman\n", "crun version x\n", "pasta unknown version\n"} {
		if v, _, err := ParseEngineVersion([]byte(bad), "podman"); err == nil {
			t.Errorf("%q: got %v", bad, v)
		}
	}
}

func FuzzParseEngineVersion(f *testing.F) {
	f.Add([]byte("Docker version 20.10.24+dfsg1, build 5d6db84\n"), "docker")
	f.Fuzz(func(t *testing.T, out []byte, who string) {
		v, _, err := ParseEngineVersion(out, who)
		if err == nil && v == nil {
			t.Fatal("no version and no error")
		}
		_, _ = PackageVersion(string(out))
	})
}
