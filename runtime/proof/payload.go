package proof

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// The step ids, in report order (README.md, "The live proof"; docs/cli.md).
const (
	StepUserNS  = "runtime.userns"
	StepIDMap   = "runtime.idmap"
	StepMount   = "runtime.mount"
	StepOverlay = "runtime.overlay"
	StepNetwork = "runtime.network"
	StepPort    = "runtime.port"
	StepCgroup  = "runtime.cgroup"
)

func chownFile(run int) string { return fmt.Sprintf("idmap-%d", run) }

// payloadMain dispatches the payload's modes:
//
//	main STATE-DIR NET RUN   the steps, as rootlesskit's target command (uid 0 in the userns)
//	rooted                   run from inside the private root of the pivot_root step, as pid 1
//	                         of a new pid namespace: mounts /proc and reports what it sees
func payloadMain(args []string) int {
	if len(args) == 0 {
		return 2
	}
	switch args[0] {
	case "main":
		if len(args) < 4 {
			return 2
		}
		run, err := strconv.Atoi(args[3])
		if err != nil {
			return 2
		}
		return payloadSteps(args[1], args[2], run)
	case "rooted":
		return rootedMain()
	}
	return 2
}

type emitter struct {
	mu sync.Mutex
	f  *os.File
}

func (e *emitter) emit(s stepReport) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, _ := json.Marshal(s)
	_, _ = e.f.Write(append(b, '\n'))
}

// markStarted is the pseudo step the payload emits first: when it started (its Summary), so the
// CLI can tell how long rootlesskit's child took between the network driver and the payload.
const markStarted = "payload.started"

func payloadSteps(outer, netName string, run int) int {
	started := time.Now()
	var cfg payloadConfig
	if b, err := os.ReadFile(filepath.Join(outer, fileConfig)); err == nil {
		_ = json.Unmarshal(b, &cfg)
	}
	f, err := createNew(filepath.Join(outer, payloadFile(run)), os.O_APPEND)
	if err != nil {
		fmt.Fprintln(os.Stderr, "payload:", err)
		return 3
	}
	defer f.Close()
	out := &emitter{f: f}

	// Listen first, so that the host side's round trip can happen while the other steps run.
	var echo *echoServer
	if netName != rootlesskit.NetHost {
		echo = startEcho(cfg)
	}
	out.emit(stepReport{ID: markStarted, Summary: started.Format(time.RFC3339Nano)})
	// The pivot_root step starts another process: run it beside the others, which are cheap
	// and run in order (running them all at once measured slower on two CPUs: the mounts of
	// the overlay step and the mount namespace copy contend for the same lock).
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		out.emit(timed(StepMount, func() stepReport { return mountStep(outer, run) }))
	}()
	out.emit(timed(StepUserNS, func() stepReport { return usernsStep(cfg) }))
	out.emit(timed(StepIDMap, func() stepReport { return idmapStep(filepath.Join(outer, chownFile(run))) }))
	if netName != rootlesskit.NetHost {
		out.emit(timed(StepNetwork, func() stepReport { return networkStep(netName, cfg) }))
	}
	out.emit(timed(StepOverlay, func() stepReport { return overlayStep(outer, run) }))
	if netName != rootlesskit.NetHost {
		out.emit(timed(StepPort, func() stepReport { return echo.wait(5 * time.Second) }))
	}
	wg.Wait()
	return 0
}

func timed(id string, fn func() stepReport) stepReport {
	t := time.Now()
	s := fn()
	s.ID = id
	s.Duration = time.Since(t)
	return s
}

func pass(format string, args ...any) stepReport {
	return stepReport{Status: finding.Pass, Summary: fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) stepReport {
	return stepReport{Status: finding.Fail, Summary: fmt.Sprintf(format, args...)}
}

// usernsStep: the payload runs as uid 0 with full capabilities in a user namespace that is not
// the host's.
func usernsStep(cfg payloadConfig) stepReport {
	ns, err := os.Readlink("/proc/self/ns/user")
	if err != nil {
		return fail("cannot read /proc/self/ns/user inside: %v", err)
	}
	capEff := statusField("CapEff")
	s := stepReport{}.with("/proc/self/ns/user", fmt.Sprintf("%s (host: %s)", ns, cfg.HostUserNS)).
		with("/proc/self/status", "CapEff: "+capEff).
		with("euid inside", strconv.Itoa(os.Geteuid()))
	if cfg.HostUserNS != "" && ns == cfg.HostUserNS {
		s.Status, s.Summary = finding.Fail, "the payload runs in the host's user namespace"
		return s
	}
	if os.Geteuid() != 0 {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("the payload runs as uid %d inside, not 0", os.Geteuid())
		return s
	}
	caps, _ := strconv.ParseUint(capEff, 16, 64)
	if caps&(1<<unix.CAP_SYS_ADMIN) == 0 {
		s.Status, s.Summary = finding.Fail, "uid 0 inside the user namespace has no CAP_SYS_ADMIN"
		return s
	}
	s.Status, s.Summary = finding.Pass, "user namespace created: the payload is uid 0 with full capabilities inside"
	return s
}

func statusField(name string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// idmapStep: /proc/self/uid_map and gid_map hold the account's id plus its full subordinate
// ranges, and a file chowned to 1000:1000 inside keeps that owner (what image layers need).
func idmapStep(probeFile string) stepReport {
	s := stepReport{}
	uidMap, uerr := user.ParseIDMapFile("/proc/self/uid_map")
	gidMap, gerr := user.ParseIDMapFile("/proc/self/gid_map")
	if uerr != nil || gerr != nil {
		return fail("cannot read the id maps inside: %v", errors.Join(uerr, gerr))
	}
	uidLines, gidLines := mapLines(uidMap), mapLines(gidMap)
	s = s.with("/proc/self/uid_map", strings.Join(uidLines, "; ")).with("/proc/self/gid_map", strings.Join(gidLines, "; "))
	if sg, err := os.ReadFile("/proc/self/setgroups"); err == nil {
		s = s.with("/proc/self/setgroups", strings.TrimSpace(string(sg)))
	}
	nu, ng := mapCount(uidMap), mapCount(gidMap)

	// chown to 1000:1000: the kernel refuses (EINVAL) an id that is not mapped.
	_ = os.Remove(probeFile)
	f, err := createNew(probeFile, 0)
	if err == nil {
		_, err = f.WriteString("rootless-doctor idmap probe\n")
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return s.explained(finding.Fail, explanation{Summary: "cannot create a file inside: " + err.Error()}, "")
	}
	err = f.Chown(1000, 1000)
	f.Close()
	if err != nil {
		x := explanation{Probe: "idmap.subuid", Summary: fmt.Sprintf("chown to 1000:1000 inside failed: %v", err)}
		if errors.Is(err, unix.EINVAL) {
			x.Summary = fmt.Sprintf("uid 1000 is not mapped: only %d uids and %d gids exist inside", nu, ng)
			x.Details = []string{"Images own files by ids up to 65534 (nobody) or 65532 (distroless nonroot); the account needs 65,536 subordinate ids (https://docs.docker.com/engine/security/rootless/troubleshoot/, docker-library/busybox#107)."}
		}
		return s.explained(finding.Fail, x, err.Error())
	}
	fi, err := os.Lstat(probeFile)
	if err != nil {
		return s.explained(finding.Fail, explanation{Summary: "cannot stat the chowned file: " + err.Error()}, "")
	}
	st := fi.Sys().(*syscall.Stat_t)
	s = s.with(probeFile+" inside", fmt.Sprintf("%d:%d", st.Uid, st.Gid))
	if st.Uid != 1000 || st.Gid != 1000 {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("a file chowned to 1000:1000 inside shows %d:%d", st.Uid, st.Gid)
		return s
	}
	if nu < 65537 || ng < 65537 {
		// 65,536 subordinate ids plus the account's own.
		s.Status = finding.Warn
		s.Summary = fmt.Sprintf("only %d uids and %d gids are mapped: images that own files by ids above them will not unpack", nu, ng)
		s.Intents = append(s.Intents, finding.AddSubIDs(statusUser(), "both", 65536, nil, "images need 65,536 subordinate ids"))
		return s.detail("Images own files by ids up to 65534 (nobody); give the account 65,536 subordinate ids (see idmap.subuid).")
	}
	s.Status, s.Summary = finding.Pass, fmt.Sprintf("%d uids and %d gids mapped; a file chowned to 1000:1000 inside keeps that owner", nu, ng)
	return s
}

// statusUser is the account name for intents, from the environment rootlesskit passes down.
func statusUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return os.Getenv("LOGNAME")
}

func mapLines(m []user.IDMap) []string {
	out := make([]string, 0, len(m))
	for _, e := range m {
		out = append(out, fmt.Sprintf("%d %d %d", e.ID, e.ParentID, e.Count))
	}
	return out
}

func mapCount(m []user.IDMap) int64 {
	var n int64
	for _, e := range m {
		n += e.Count
	}
	return n
}

// networkStep: the driver's interface is up inside with its address, loopback is up, and there
// is a default route.
func networkStep(netName string, cfg payloadConfig) stepReport {
	ifs, err := net.Interfaces()
	if err != nil {
		return fail("cannot list the interfaces inside: %v", err)
	}
	s := stepReport{}
	var lo, dev *net.Interface
	for i := range ifs {
		switch {
		case ifs[i].Flags&net.FlagLoopback != 0:
			lo = &ifs[i]
		case ifs[i].Name == cfg.IfName:
			dev = &ifs[i]
		}
	}
	describeIf := func(i *net.Interface) string {
		addrs, _ := i.Addrs()
		var as []string
		for _, a := range addrs {
			as = append(as, a.String())
		}
		state := "down"
		if i.Flags&net.FlagUp != 0 {
			state = "up"
		}
		return fmt.Sprintf("%s %s mtu %d %s", i.Name, state, i.MTU, strings.Join(as, " "))
	}
	if lo != nil {
		s = s.with("interfaces inside", describeIf(lo))
	}
	if lo == nil || lo.Flags&net.FlagUp == 0 {
		s.Status, s.Summary = finding.Fail, "loopback is not up inside the network namespace"
		return s
	}
	if netName == rootlesskit.NetNone {
		s.Status, s.Summary = finding.Skip, "--net none: own network namespace with loopback only, no driver asked for"
		return s
	}
	if dev == nil {
		s.Status, s.Summary = finding.Fail, fmt.Sprintf("no %s interface inside the network namespace", cfg.IfName)
		return s
	}
	s = s.with("interfaces inside", describeIf(dev))
	var v4 string
	if addrs, err := dev.Addrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				v4 = ipn.String()
			}
		}
	}
	gw := defaultGateway()
	if gw != "" {
		s = s.with("/proc/net/route", "default via "+gw)
	}
	switch {
	case dev.Flags&net.FlagUp == 0:
		s.Status, s.Summary = finding.Fail, cfg.IfName+" is down inside the network namespace"
	case v4 == "":
		s.Status, s.Summary = finding.Fail, cfg.IfName+" has no IPv4 address inside the network namespace"
	case gw == "":
		s.Status, s.Summary = finding.Fail, "no default route inside the network namespace"
	default:
		s.Status, s.Summary = finding.Pass, fmt.Sprintf("%s: %s is up with %s, default via %s", netName, cfg.IfName, v4, gw)
	}
	return s
}

// defaultGateway reads the default IPv4 route from /proc/net/route (little-endian hex).
func defaultGateway() string {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != "00000000" {
			continue
		}
		v, err := strconv.ParseUint(f[2], 16, 32)
		if err != nil {
			continue
		}
		return net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)).String()
	}
	return ""
}

// echoServer answers the host side's round trip through the published port.
type echoServer struct {
	ln    net.Listener
	err   error
	done  chan struct{}
	once  sync.Once
	peer  string
	bytes int
}

func startEcho(cfg payloadConfig) *echoServer {
	e := &echoServer{done: make(chan struct{})}
	// The builtin port driver's child dials 127.0.0.1:CHILDPORT inside the namespace.
	e.ln, e.err = net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", cfg.ChildPort))
	if e.err != nil {
		close(e.done)
		return e
	}
	nsLink, _ := os.Readlink("/proc/self/ns/net")
	go func() {
		for {
			c, err := e.ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "PING "+cfg.Nonce) {
					return
				}
				n, err := fmt.Fprintf(c, "PONG %s %s\n", cfg.Nonce, nsLink)
				if err != nil {
					return
				}
				e.once.Do(func() {
					e.peer, e.bytes = c.RemoteAddr().String(), len(line)+n
					close(e.done)
				})
			}(c)
		}
	}()
	return e
}

// wait reports the inside view of the port step; the host side's round trip (parent.json)
// decides it.
func (e *echoServer) wait(d time.Duration) stepReport {
	if e.err != nil {
		return fail("cannot listen inside: %v", e.err)
	}
	defer e.ln.Close()
	select {
	case <-e.done:
		return pass("a connection through the published port reached the listener inside").
			with("listener inside", e.ln.Addr().String()).
			with("peer inside", e.peer)
	case <-time.After(d):
		return fail("no connection reached the listener inside within %s", d)
	}
}

// overlayStep mounts overlayfs inside the user namespace (kernel 5.11 and later, and Ubuntu
// kernels since 18.04), with a whiteout, which is what overlay2 / the overlay snapshotter need;
// failing that, fuse-overlayfs. The result names the storage driver that will work.
func overlayStep(outer string, run int) stepReport {
	base := filepath.Join(outer, fmt.Sprintf("ovl-%d", run))
	defer os.RemoveAll(base)
	dirs := map[string]string{}
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		dirs[d] = filepath.Join(base, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return fail("cannot create %s: %v", dirs[d], err)
		}
	}
	if err := os.WriteFile(filepath.Join(dirs["lower"], "gone"), []byte("lower\n"), 0o644); err != nil {
		return fail("cannot write the lower layer: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dirs["lower"], "kept"), []byte("lower\n"), 0o644); err != nil {
		return fail("cannot write the lower layer: %v", err)
	}
	fsType := fsName(base)
	s := stepReport{}.with("layers on", fmt.Sprintf("%s (%s)", base, fsType))

	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", dirs["lower"], dirs["upper"], dirs["work"])
	// userxattr (5.11+): keep overlay's metadata in user.overlay.* xattrs, which an unprivileged
	// mounter may write; this is how rootless containers/storage and dockerd mount it.
	nativeErr := unix.Mount("overlay", dirs["merged"], "overlay", 0, opts+",userxattr")
	if errors.Is(nativeErr, unix.EINVAL) {
		nativeErr = unix.Mount("overlay", dirs["merged"], "overlay", 0, opts)
	}
	if nativeErr == nil {
		err := exerciseOverlay(dirs)
		_ = unix.Unmount(dirs["merged"], unix.MNT_DETACH)
		if err == nil {
			s.Status = finding.Pass
			s.Summary = "overlayfs mounts inside the user namespace, with copy-up and whiteouts: storage driver overlay2 (Docker) / overlay (Podman) will work"
			return s.with("mount", "overlay "+opts)
		}
		s = s.detail("overlayfs mounted but did not behave: %v", err)
		nativeErr = err
	} else {
		s = s.detail("mount -t overlay inside the user namespace: %v (kernels before 5.11 allow it only with Ubuntu's patch)", nativeErr)
	}

	fuseErr := tryFuseOverlayfs(dirs, opts)
	if fuseErr == nil {
		s.Status = finding.Pass
		s.Summary = "native overlayfs failed inside the user namespace but fuse-overlayfs works: storage driver fuse-overlayfs will work"
		return s.with("native overlay", nativeErr.Error())
	}
	s = s.detail("fuse-overlayfs: %v", fuseErr)
	s.Status = finding.Warn
	s.Summary = "neither overlayfs nor fuse-overlayfs works inside the user namespace: only the vfs storage driver (a full copy per layer) will work"
	if errors.Is(fuseErr, errNoFuseOverlayfs) {
		s.Intents = append(s.Intents, finding.InstallTool(string(distro.ToolFuseOverlayfs), "fuse-overlayfs gives a copy-on-write storage driver where native overlayfs is not allowed"))
	}
	s.Details = append(s.Details, "See the static probe storage.driver.")
	return s
}

// exerciseOverlay reads through the mount, writes (copy-up) and deletes a lower file (whiteout).
func exerciseOverlay(dirs map[string]string) error {
	merged := dirs["merged"]
	if b, err := os.ReadFile(filepath.Join(merged, "kept")); err != nil || string(b) != "lower\n" {
		return fmt.Errorf("reading a lower file through the mount: %v", err)
	}
	if err := os.WriteFile(filepath.Join(merged, "kept"), []byte("upper\n"), 0o644); err != nil {
		return fmt.Errorf("writing a lower file (copy-up): %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(dirs["upper"], "kept")); err != nil || string(b) != "upper\n" {
		return fmt.Errorf("the copied-up file is not in the upper layer: %v", err)
	}
	if err := os.Remove(filepath.Join(merged, "gone")); err != nil {
		return fmt.Errorf("deleting a lower file (whiteout): %w", err)
	}
	if _, err := os.Lstat(filepath.Join(merged, "gone")); err == nil {
		return errors.New("a deleted lower file is still visible")
	}
	return nil
}

var errNoFuseOverlayfs = errors.New("fuse-overlayfs is not installed")

// tryFuseOverlayfs runs fuse-overlayfs in the foreground on the same layers, exercises the mount
// and unmounts it, so that nothing outlives the step.
func tryFuseOverlayfs(dirs map[string]string, opts string) error {
	bin, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return errNoFuseOverlayfs
	}
	for _, d := range []string{"upper", "work"} {
		_ = os.RemoveAll(dirs[d])
		_ = os.MkdirAll(dirs[d], 0o755)
	}
	_ = os.WriteFile(filepath.Join(dirs["lower"], "gone"), []byte("lower\n"), 0o644)
	cmd := exec.Command(bin, "-f", "-o", opts, dirs["merged"])
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(3 * time.Second)
	for fsName(dirs["merged"]) != "fuse" {
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v: %s", err, strings.TrimSpace(out.String()))
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("did not mount within 3s")
		}
	}
	xerr := exerciseOverlay(dirs)
	_ = unix.Unmount(dirs["merged"], unix.MNT_DETACH)
	select {
	case <-exited:
	case <-time.After(time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return xerr
}

// fsName names the filesystem a path is on, from statfs.
func fsName(p string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return "unknown"
	}
	switch uint32(st.Type) {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	case unix.FUSE_SUPER_MAGIC:
		return "fuse"
	case unix.NFS_SUPER_MAGIC:
		return "nfs"
	case 0x2fc12fc1: // ZFS_SUPER_MAGIC, not in x/sys
		return "zfs"
	}
	return fmt.Sprintf("0x%x", uint32(st.Type))
}
