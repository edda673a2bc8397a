package checks

import (
	"testing"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

func TestIdentityUser(t *testing.T) {
	root := host.Identity{UID: 0, GID: 0, Name: "root"}
	runProbeTests(t, identityUser, []probeTest{
		{name: "ordinary account", host: alice(), status: finding.Pass, summary: "alice (uid 1000)"},
		{name: "root without --user", host: alice().Self(root), status: finding.Fail, summary: "running as root"},
		{name: "root with --user", host: alice().Self(root), user: "alice", status: finding.Pass},
		{name: "root with numeric --user", host: alice().Self(root), user: "1000", status: finding.Pass},
		{name: "--user root", host: alice().Self(root), user: "root", status: finding.Fail, summary: "root is root"},
		{name: "unknown --user", host: alice().Self(root), user: "mallory", status: finding.Fail, summary: `"mallory" does not exist`},
		{name: "home missing", host: alice().Self(root), user: "bob", status: finding.Fail, summary: "does not exist", fixes: []string{"manual.create-home"}},
		{name: "home not writable", host: alice().Meta("/home/alice", host.FileMeta{Mode: "0755", UID: host.Int(0)}), status: finding.Fail, summary: "cannot write"},
		{name: "home is a file", host: alice().File("/home/alice", "x"), status: finding.Fail, summary: "not a directory"},
		{name: "no passwd at all", host: host.NewMemory(), status: finding.Fail},
		{name: "garbage passwd", host: alice().File("/etc/passwd", "\x00\xff::::\n:::::::::::\nalice"), status: finding.Fail},
		{name: "account only from getent", host: host.NewMemory().
			Command([]string{"getent", "passwd", "1000"}, "alice:*:1000:1000::/home/alice:/bin/sh\n", 0).
			Dir("/home/alice").Meta("/home/alice", host.FileMeta{UID: host.Int(1000)}), status: finding.Pass},
	})
}
