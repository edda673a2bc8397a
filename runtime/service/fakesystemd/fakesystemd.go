// Package fakesystemd is a fake org.freedesktop.systemd1 user manager on a real dbus-daemon
// started for a test (go-systemd talks D-Bus; a real daemon keeps the test honest): it records the Manager calls go-systemd makes. Only tests
// import it.
package fakesystemd

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

const unitName = "rootless-doctor.service"

// Manager is a fake org.freedesktop.systemd1.Manager on a real dbus-daemon:
// it records the calls go-systemd makes.
type Manager struct {
	mu    sync.Mutex
	calls []string
	srv   *dbus.Conn
}

// Calls returns the calls so far ("Reload", "StartUnit NAME MODE", …).
func (m *Manager) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.calls...)
}

type change struct{ Type, Filename, Destination string }

func (m *Manager) record(s string) {
	m.mu.Lock()
	m.calls = append(m.calls, s)
	m.mu.Unlock()
}

func (m *Manager) Reload() *dbus.Error { m.record("Reload"); return nil }
func (m *Manager) EnableUnitFiles(files []string, runtime, force bool) (bool, []change, *dbus.Error) {
	m.record("EnableUnitFiles " + strings.Join(files, ","))
	return true, []change{{"symlink", "/home/x/.config/systemd/user/default.target.wants/" + unitName, "/home/x/.config/systemd/user/" + unitName}}, nil
}
func (m *Manager) DisableUnitFiles(files []string, runtime bool) ([]change, *dbus.Error) {
	m.record("DisableUnitFiles " + strings.Join(files, ","))
	return nil, nil
}

// StartUnit records the call and ends the job "done" at once (JobRemoved, the signal a
// client waiting for the job hears; go-systemd matches it to the job under a lock it holds
// until the reply is read, so the order does not matter).
func (m *Manager) StartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	m.record("StartUnit " + name + " " + mode)
	const job = dbus.ObjectPath("/org/freedesktop/systemd1/job/7")
	_ = m.srv.Emit("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager.JobRemoved", uint32(7), job, name, "done")
	return job, nil
}
func (m *Manager) StopUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	m.record("StopUnit " + name + " " + mode)
	return "/org/freedesktop/systemd1/job/8", nil
}

// Properties.Get for Manager.Version (what Connect asks to see that a manager answers).
type fakeProps struct{}

func (fakeProps) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	if name == "Version" {
		return dbus.MakeVariant("252"), nil
	}
	return dbus.Variant{}, dbus.MakeFailedError(errors.New("no such property"))
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=BUS</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// StartBus starts a private dbus-daemon and returns its address.
func StartBus(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed (CI installs dbus)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, []byte(strings.Replace(busConfig, "BUS", filepath.Join(dir, "bus"), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+cfg, "--print-address", "--nofork")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	return strings.TrimSpace(line)
}

func Start(t testing.TB, addr string) *Manager {
	t.Helper()
	srv, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	m := &Manager{srv: srv}
	const path = "/org/freedesktop/systemd1"
	if err := srv.Export(m, path, "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Export(fakeProps{}, path, "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	r, err := srv.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue)
	if err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName: %v %v", r, err)
	}
	return m
}
