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
		// $HOME of the running process (docs/failures/catalogue.json#home-missing-or-unwritable).
		{name: "$HOME is the passwd home", host: alice().Env("HOME", "/home/alice/"), status: finding.Pass},
		{name: "$HOME elsewhere and writable", host: alice().Env("HOME", "/srv/alice").Dir("/srv/alice").Meta("/srv/alice", host.FileMeta{UID: host.Int(1000), Mode: "0700"}),
			status: finding.Pass},
		{name: "$HOME missing", host: alice().Env("HOME", "/nonexistent"), status: finding.Fail, summary: "$HOME is /nonexistent, which does not exist", fixes: []string{"manual.home-env"}},
		{name: "$HOME of root after sudo -u", host: alice().Env("HOME", "/root"), status: finding.Fail, summary: "$HOME is /root, which alice cannot write", fixes: []string{"manual.home-env"}},
		{name: "$HOME relative", host: alice().Env("HOME", "alice"), status: finding.Fail, summary: "not an absolute path"},
		{name: "$HOME a file", host: alice().Env("HOME", "/etc/passwd"), status: finding.Fail, summary: "not a directory"},
		{name: "$HOME of root ignored on behalf", host: alice().Self(root).Env("HOME", "/root"), user: "alice", status: finding.Pass},
		// The primary group (docs/failures/catalogue.json#primary-gid-mismatch-newuidmap).
		{name: "passwd group", host: alice().File("/proc/self/status", "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n"), status: finding.Pass},
		{name: "runner pod with another group", host: alice().File("/proc/self/status", "Uid:\t1000\t1000\t1000\t1000\nGid:\t123\t123\t123\t123\n"),
			status: finding.Fail, summary: "this process runs with gid 123, not alice's primary gid 1000", fixes: []string{"manual.primary-group"}},
		{name: "another group without /proc", host: alice().Self(host.Identity{UID: 1000, GID: 104, Name: "alice"}), status: finding.Fail, summary: "gid 104"},
		{name: "another group allowed by login.defs", host: alice().File("/proc/self/status", "Gid:\t123\t123\t123\t123\n").File("/etc/login.defs", "GRANT_AUX_GROUP_SUBIDS yes\n"),
			status: finding.Pass},
		{name: "another group, login.defs says no", host: alice().File("/proc/self/status", "Gid:\t123\t123\t123\t123\n").File("/etc/login.defs", "GRANT_AUX_GROUP_SUBIDS no\n"),
			status: finding.Fail},
		{name: "garbled status falls back to the process gid", host: alice().File("/proc/self/status", "Gid:\tx\n"), status: finding.Pass},
		{name: "root's group ignored on behalf", host: alice().Self(root).File("/proc/self/status", "Gid:\t0\t0\t0\t0\n"), user: "alice", status: finding.Pass},
		{name: "account only from getent", host: host.NewMemory().
			Command([]string{"getent", "passwd", "1000"}, "alice:*:1000:1000::/home/alice:/bin/sh\n", 0).
			Dir("/home/alice").Meta("/home/alice", host.FileMeta{UID: host.Int(1000)}), status: finding.Pass},
	})
}
