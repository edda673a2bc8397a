package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// The sudo helper applies only the plan the account was shown, built again by the helper
// itself (docs/security.md, "The sudo helper"; issue 10: it used to run any command, write any
// path and read any file it was sent). These tests drive it in-process through pipes, with a
// shell that only records the commands it is given, so that a helper that wrongly accepted
// would be seen, not obeyed.

// debianHost is alice's Debian 12 machine, as the helper reads it.
func debianHost() host.Host {
	return host.NewMemory().
		File("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").
		File("/etc/passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n").
		Host()
}

// recordingHelper is a Helper for alice whose shell appends each command to a file instead of
// running it.
func recordingHelper(t *testing.T) (*Helper, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "commands")
	sh := filepath.Join(dir, "sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\nprintf '%s\\n' \"$2\" >>"+log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Helper{Root: &Root{BackupRoot: filepath.Join(dir, "backups"), Shell: sh}, Host: debianHost(), Caller: "alice"}, log
}

func ran(t *testing.T, log string) string {
	b, err := os.ReadFile(log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// serve sends raw to the helper and returns what it answered and its error.
func serve(h *Helper, raw string) (string, error) {
	var out bytes.Buffer
	err := h.Serve(context.Background(), strings.NewReader(raw), &out)
	return out.String(), err
}

// planFor is the plan alice is shown for reqs on debianHost, and its order.
func planFor(t *testing.T, reqs ...fixes.Request) (fixes.Plan, Order) {
	t.Helper()
	h := debianHost()
	p, err := fixes.Build(fixes.Input{Requests: reqs, Env: &facts.Env{Distro: distroOf(h), Host: h}})
	if err != nil {
		t.Fatal(err)
	}
	return p, NewOrder("alice", reqs, p)
}

var linger = fixes.Request{ProbeID: "session.linger", Intent: finding.EnableLinger("alice", "keep the engine running")}

func TestHelperAppliesTheVerifiedPlan(t *testing.T) {
	h, log := recordingHelper(t)
	p, o := planFor(t, linger)
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	go func() {
		h.Serve(context.Background(), sr, sw)
		sw.Close()
	}()
	var shown bytes.Buffer
	out, err := exchange(cw, cr, o, p, &shown)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Steps) != 1 || out.Steps[0].State != StateDone || out.Steps[0].Step.ID != "linger.enable" {
		t.Errorf("outcome %+v", out.Steps)
	}
	if got := ran(t, log); !strings.Contains(got, "loginctl enable-linger alice") {
		t.Errorf("commands run: %q", got)
	}
	if !strings.Contains(shown.String(), "$ [ -e /var/lib/systemd/linger/alice ] || loginctl enable-linger alice") {
		t.Errorf("the applier's log did not reach the client:\n%s", shown.String())
	}
}

// TestHelperRefuses: nothing the plan does not hold is done, and nothing at all when the order
// is refused.
func TestHelperRefuses(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	_, good := planFor(t, linger)
	withExtra, _ := planFor(t, linger, fixes.Request{ProbeID: "net.tun", Intent: finding.LoadModule("tun", "")})
	mismatch := good
	mismatch.Digest = fixes.Digest(withExtra)
	order := func(user string, ins ...finding.Intent) string {
		var reqs []fixes.Request
		for _, in := range ins {
			reqs = append(reqs, fixes.Request{ProbeID: "test", Intent: in})
		}
		// The digest of what Build makes of them (a request it refuses gets an empty plan's).
		h := debianHost()
		p, _ := fixes.Build(fixes.Input{Requests: reqs, Env: &facts.Env{Distro: distroOf(h), Host: h}})
		return jsonLine(t, NewOrder(user, reqs, p))
	}
	tests := map[string]string{
		// The requests of the old protocol: run, write, read, discard.
		"a command not in the plan": `{"op":"run","command":"touch ` + victim + `"}`,
		"a write outside the plan":  `{"op":"write","path":"` + victim + `","content":"eA==","mode":420}`,
		"a read":                    `{"op":"read","path":"/etc/shadow"}`,
		"a discard with ..":         `{"op":"discard","path":"/var/backups/rootless-doctor/x/../../../../` + victim + `"}`,
		"a step not in the plan":    jsonLine(t, mismatch),
		"a path with ..":            order("alice", finding.DeviceMode("/dev/net/../sda", "0666", "")),
		"a value no probe asks for": order("alice", finding.SetSysctl("kernel.core_pattern", "|/tmp/x", "")),
		"another account's plan":    order("bob", finding.EnableLinger("bob", "")),
		"another account's ids":     order("alice", finding.AddSubIDs("bob", "both", 65536, nil, "")),
		"two orders":                jsonLine(t, good) + jsonLine(t, good),
		"not an order":              "sh -c id\n",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			h, log := recordingHelper(t)
			os.WriteFile(victim, []byte("keep"), 0o600)
			got, err := serve(h, raw)
			if !errors.Is(err, fixes.ErrRefused) {
				t.Errorf("error %v, want a refusal", err)
			}
			if !strings.Contains(got, `"refused"`) || strings.Contains(got, `"outcome"`) {
				t.Errorf("answer: %s", got)
			}
			if c := ran(t, log); c != "" {
				t.Errorf("commands ran: %q", c)
			}
			if b, _ := os.ReadFile(victim); string(b) != "keep" {
				t.Errorf("the victim changed: %q", b)
			}
			if _, err := os.Stat(h.Root.BackupRoot); err == nil {
				t.Error("a backup directory was made")
			}
		})
	}
	// The client sees the refusal as fixes.ErrRefused.
	h, _ := recordingHelper(t)
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	go func() {
		h.Serve(context.Background(), sr, sw)
		sw.Close()
	}()
	p, _ := planFor(t, linger)
	if _, err := exchange(cw, cr, mismatch, p, io.Discard); !errors.Is(err, fixes.ErrRefused) || !strings.Contains(err.Error(), "not the plan you were shown") {
		t.Errorf("client: %v", err)
	}
}

// A root caller (no SUDO_UID: root started the helper itself) may apply a plan for another
// account, as `fix --apply --user` as root does.
func TestHelperRootCaller(t *testing.T) {
	h, log := recordingHelper(t)
	h.Caller = ""
	_, o := planFor(t, linger)
	if _, err := serve(h, jsonLine(t, o)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ran(t, log), "enable-linger alice") {
		t.Error("the plan did not run")
	}
}

func jsonLine(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func distroOf(h host.Host) distro.Info { return distro.Detect(h) }
