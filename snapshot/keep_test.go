package snapshot

import (
	"context"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestKeepFilter(t *testing.T) {
	h := host.NewMemory().
		File("/etc/passwd", "root:$6$hash:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000:Alice Smith,room 4:/home/alice:/bin/bash\n"+
			"bob:x:1001:1001::/home/bob:/bin/sh\nsquatter:x:100500:100500::/:/bin/false\ngarbage\n").
		File("/etc/group", "root:x:0:\nalice:x:1000:\nbob:x:1001:\nkvm:x:104:bob,alice,carol\nwheel:x:10:bob\nhigh:x:100600:bob\n").
		Host()
	e := facts.NewEnv(context.Background(), h, "")
	subuid := []byte("alice:100000:65536\nbob:300000:65536\n")
	subgid := []byte("alice:100000:65536\n")
	f := KeepFilter(e, subuid, subgid)
	tests := []struct{ path, in, want string }{
		{"/etc/passwd", "", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nsquatter:x:100500:100500::/:/bin/false\n"},
		{"/etc/group", "", "root:x:0:\nalice:x:1000:\nkvm:x:104:alice\nhigh:x:100600:\n"},
		{"/etc/subuid", "kept:1:2\n", "kept:1:2\n"},
		{"/home/alice/.config/containers/systemd/web.container",
			"[Container]\nImage=nginx\nEnvironment=DB_PASSWORD=hunter2 \\\n  API_KEY=x\nSecret=tok,type=env\n Environment = A=b\n[Service]\nNoNewPrivileges=yes\n",
			"[Container]\nImage=nginx\n[Service]\nNoNewPrivileges=yes\n"},
		{"/etc/systemd/user/docker.service", "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n", "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n"},
	}
	for _, tt := range tests {
		in := []byte(tt.in)
		if tt.in == "" {
			in, _ = h.ReadFile(tt.path)
		}
		if got := string(f(tt.path, in)); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.path, got, tt.want)
		}
	}
	// An unknown --user keeps only root (and the lines in subordinate ranges).
	e = facts.NewEnv(context.Background(), h, "nobody-here")
	data, _ := h.ReadFile("/etc/passwd")
	if got := string(KeepFilter(e, nil, nil)("/etc/passwd", data)); got != "root:x:0:0::/root:/bin/bash\n" {
		t.Errorf("unknown user: %q", got)
	}
}
