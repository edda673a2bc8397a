package service

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/godbus/dbus/v5"
)

// fakeManager is a fake org.freedesktop.systemd1.Manager on a real dbus-daemon (LIBRARIES §4):
// it records the calls go-systemd makes.
type fakeManager struct {
	mu    sync.Mutex
	calls []string
}

type change struct{ Type, Filename, Destination string }

func (m *fakeManager) record(s string) {
	m.mu.Lock()
	m.calls = append(m.calls, s)
	m.mu.Unlock()
}

func (m *fakeManager) Reload() *dbus.Error { m.record("Reload"); return nil }
func (m *fakeManager) EnableUnitFiles(files []string, runtime, force bool) (bool, []change, *dbus.Error) {
	m.record("EnableUnitFiles " + strings.Join(files, ","))
	return true, []change{{"symlink", "/home/x/.config/systemd/user/default.target.wants/" + Name, "/home/x/.config/systemd/user/" + Name}}, nil
}
func (m *fakeManager) DisableUnitFiles(files []string, runtime bool) ([]change, *dbus.Error) {
	m.record("DisableUnitFiles " + strings.Join(files, ","))
	return nil, nil
}
func (m *fakeManager) StartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	m.record("StartUnit " + name + " " + mode)
	return "/org/freedesktop/systemd1/job/7", nil
}
func (m *fakeManager) StopUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
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

// startBus starts a private dbus-daemon and returns its address.
func startBus(t *testing.T) string {
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

func fakeSystemd(t *testing.T, addr string) *fakeManager {
	t.Helper()
	srv, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	m := &fakeManager{}
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

func TestInstallUninstallOnAFakeManager(t *testing.T) {
	addr := startBus(t)
	m := fakeSystemd(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	path := UnitPath(t.TempDir())
	spec := Spec{Exe: "/usr/local/bin/rootless-doctor", Net: "auto", Engine: []string{"/usr/sbin/dockerd", "--log-level", "debug info"}, Path: "/usr/bin:/bin"}
	if err := Install(ctx, c, path, spec); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := unit.DeserializeOptions(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range opts {
		got[o.Section+"."+o.Name] = o.Value
	}
	want := map[string]string{
		"Service.ExecStart":   `/usr/local/bin/rootless-doctor daemon --net auto -- /usr/sbin/dockerd --log-level "debug info"`,
		"Service.Delegate":    "yes",
		"Service.Restart":     "on-failure",
		"Service.KillMode":    "mixed",
		"Service.TasksMax":    "infinity",
		"Install.WantedBy":    "default.target",
		"Service.Environment": "PATH=/usr/bin:/bin",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if err := Uninstall(ctx, c, path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the unit file is still there: %v", err)
	}
	wantCalls := []string{
		"Reload", "EnableUnitFiles " + Name, "StartUnit " + Name + " replace",
		"StopUnit " + Name + " replace", "DisableUnitFiles " + Name, "Reload",
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Equal(m.calls, wantCalls) {
		t.Errorf("calls %q, want %q", m.calls, wantCalls)
	}
}

func TestConnectWithoutAManager(t *testing.T) {
	if _, err := Connect(context.Background(), ""); !errors.Is(err, ErrNoManager) {
		t.Errorf("no address: %v, want ErrNoManager", err)
	}
	addr := startBus(t) // a bus, but nobody owns org.freedesktop.systemd1
	if _, err := Connect(context.Background(), addr); !errors.Is(err, ErrNoManager) {
		t.Errorf("bus without systemd: %v, want ErrNoManager", err)
	}
	if _, err := Connect(context.Background(), "unix:path=/nonexistent/bus"); !errors.Is(err, ErrNoManager) {
		t.Errorf("missing socket: %v, want ErrNoManager", err)
	}
}

func TestExecQuote(t *testing.T) {
	for in, want := range map[string]string{
		"dockerd": "dockerd", "a b": `"a b"`, `x"y`: `"x\"y"`, "100%": "100%%", "$HOME": "$$HOME", "": `""`,
	} {
		if got := execQuote(in); got != want {
			t.Errorf("execQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
