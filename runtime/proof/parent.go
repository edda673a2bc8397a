package proof

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rootless-containers/rootlesskit/v3/pkg/messages"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// request is what the CLI tells the parent role (request.json in the state dir).
type request struct {
	Net string `json:"net"`
	// Exe is the binary the user runs (for an AppArmor profile); the payload may be a copy.
	Exe string `json:"exe"`
	// GvisorExe is the helper that runs the gvisor-tap-vsock network (empty when the parent
	// role's binary links it, or when there is none: GvisorErr says why then).
	GvisorExe string `json:"gvisor_exe,omitempty"`
	GvisorErr string `json:"gvisor_err,omitempty"`
	// NetTimeout bounds the network driver's ConfigureNetwork (zero: no bound). rootlesskit
	// waits for slirp4netns's ready signal, and for pasta, without a timeout of its own.
	NetTimeout time.Duration `json:"net_timeout_ns,omitempty"`
}

const fileRequest = "request.json"

// payloadConfig is what the parent role tells the payload (config.json in the state dir).
type payloadConfig struct {
	ParentPort int    `json:"parent_port"`
	ChildPort  int    `json:"child_port"`
	Nonce      string `json:"nonce"`
	IfName     string `json:"ifname"`
	// HostUserNS is the parent role's /proc/self/ns/user link ("user:[4026531837]").
	HostUserNS string `json:"host_userns"`
}

const fileConfig = "config.json"

// parentReport is what the parent role found (parent.json).
type parentReport struct {
	Net         string        `json:"net"`
	Driver      string        `json:"driver"`
	DriverNotes []string      `json:"driver_notes,omitempty"`
	Facts       facts         `json:"facts"`
	Runs        []runReport   `json:"runs"`
	Port        *portReport   `json:"port,omitempty"`
	Cgroup      *stepReport   `json:"cgroup,omitempty"`
	Config      payloadConfig `json:"config"`
}

// runReport is one start of rootlesskit.
type runReport struct {
	Net string     `json:"net"`
	Err *wireError `json:"err,omitempty"`
	// Durations of the phases, measured from parent.Parent's start: until the child said hello
	// (user namespace created), until the network driver was called (ids mapped, caps gained),
	// and the network driver itself.
	UsernsDur time.Duration `json:"userns_ns"`
	IDMapDur  time.Duration `json:"idmap_ns"`
	NetDur    time.Duration `json:"net_ns"`
	NetEnd    time.Time     `json:"net_end"`
	Total     time.Duration `json:"total_ns"`
	NetInfo   *netInfo      `json:"net_info,omitempty"`
	ChildPID  int           `json:"child_pid,omitempty"`
	// ChownHost is the owner, seen from the host, of the file the payload chowned to 1000:1000.
	ChownHost string `json:"chown_host,omitempty"`
	// SubUIDs and SubGIDs are the ranges rootlesskit computed for the maps, from its own debug
	// log ("subuid ranges=[{100000 65536}]"): the maps inside must show exactly these.
	SubUIDs string `json:"subuids,omitempty"`
	SubGIDs string `json:"subgids,omitempty"`
	// Stopped lists helpers that outlived the namespace and had to be killed (see
	// stopNetDaemons).
	Stopped []string `json:"stopped,omitempty"`
}

type netInfo struct {
	Dev     string   `json:"dev"`
	IP      string   `json:"ip"`
	Netmask int      `json:"netmask"`
	Gateway string   `json:"gateway"`
	MTU     int      `json:"mtu"`
	DNS     []string `json:"dns,omitempty"`
}

// portReport is the host side of the port step.
type portReport struct {
	Spec     string        `json:"spec"`
	OK       bool          `json:"ok"`
	Attempts int           `json:"attempts"`
	Reply    string        `json:"reply,omitempty"`
	Err      string        `json:"err,omitempty"`
	RTT      time.Duration `json:"rtt_ns"`
}

// parentMain is the parent role: it runs rootlesskit's parent.Parent (once, or twice when the
// network failed: the second start has no network namespace, so the other steps still get
// proven) and writes parent.json. Its exit status only says whether it could write that.
func parentMain(args []string) int {
	outer, _, _, err := parseParentArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rootless-doctor proof:", err)
		return 2
	}
	// Everything written to fd 2 from here on, by this process and every child (rk child,
	// payload, nsenter, ip, slirp4netns), lands in the state dir, where the CLI parses it.
	if lf, err := createNew(filepath.Join(outer, fileLog), os.O_APPEND); err == nil {
		_ = unix.Dup2(int(lf.Fd()), 2)
		lf.Close()
	}
	rootlesskit.SetupLogrus("parent")
	var req request
	if b, err := os.ReadFile(filepath.Join(outer, fileRequest)); err == nil {
		_ = json.Unmarshal(b, &req)
	}
	// The driver is chosen before anything is written: when it is gvisor-tap-vsock and this
	// binary does not link it, the helper binary takes over this very process and starts
	// this role again (it finds the log already on fd 2).
	driver, nd, notes, nerr := rootlesskit.NewNetDriver(req.Net)
	if errors.Is(nerr, rootlesskit.ErrGvisorNotLinked) {
		if req.GvisorExe != "" {
			nerr = fmt.Errorf("starting %s: %w", req.GvisorExe, rootlesskit.ExecHelper(req.GvisorExe))
		} else if req.GvisorErr != "" {
			nerr = errors.New(req.GvisorErr)
		}
	}
	timing := &phaseHook{progress: openProgress(outer)}
	logrus.AddHook(timing)

	rep := &parentReport{Net: req.Net, Facts: readFacts(req.Exe)}
	rep.Config = makeConfig()
	if err := writeJSON(filepath.Join(outer, fileConfig), rep.Config); err != nil {
		logrus.WithError(err).Error("writing the payload config")
		return 2
	}

	// The cgroup step does not depend on the namespaces: run it beside them.
	var cgWG sync.WaitGroup
	cgWG.Add(1)
	go func() {
		defer cgWG.Done()
		s := cgroupStep()
		rep.Cgroup = &s
	}()

	rep.Driver, rep.DriverNotes = driver, notes
	if nerr != nil {
		// The driver could not even be built (binary missing, too old): that is the network
		// step's failure; prove the rest without a network namespace.
		rep.Runs = append(rep.Runs, runReport{Net: driver, Err: describe(phaseNetwork, nerr)})
		rep.Runs = append(rep.Runs, runOnce(outer, 1, rootlesskit.NetHost, nil, rep, timing))
	} else {
		var tn *timedNet
		if nd != nil {
			tn = &timedNet{ParentDriver: nd, name: driver, limit: req.NetTimeout, hook: timing}
		}
		r := runOnce(outer, 0, driver, tn, rep, timing)
		rep.Runs = append(rep.Runs, r)
		if r.Err != nil && driver != rootlesskit.NetHost && networkish(r.Err) {
			rep.Runs = append(rep.Runs, runOnce(outer, 1, rootlesskit.NetHost, nil, rep, timing))
		}
	}
	cgWG.Wait()
	if err := writeJSON(filepath.Join(outer, fileParent), rep); err != nil {
		logrus.WithError(err).Error("writing parent.json")
		return 2
	}
	return 0
}

// networkish reports whether a start failed because of the network or port driver, so that a
// start without them can still prove the other steps.
func networkish(w *wireError) bool {
	switch w.Phase {
	case phaseNetwork, phasePort:
		return true
	case phaseChild:
		return childStep(w.Message) == StepNetwork
	}
	return false
}

func makeConfig() payloadConfig {
	c := payloadConfig{ChildPort: 8080, IfName: "tap0"}
	if l, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil {
		c.ParentPort = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	c.Nonce = hex.EncodeToString(b)
	c.HostUserNS, _ = os.Readlink("/proc/self/ns/user")
	return c
}

// timedNet wraps the network driver to time it, bound it and keep its own error
// (parent.Parent wraps it in a message that dumps the whole driver struct).
type timedNet struct {
	network.ParentDriver
	// name is the driver's name; limit bounds ConfigureNetwork (zero: no bound).
	name  string
	limit time.Duration
	hook  *phaseHook

	start, end time.Time
	childPID   int
	msg        *messages.ParentInitNetworkDriverCompleted
	err        error
}

// errNetHung is wrapped by the error of a network driver stopped at its limit.
var errNetHung = errors.New("the network driver hung")

// ConfigureNetwork runs the driver's, at most for limit. rootlesskit calls it once the child
// has gained its capabilities in the mapped user namespace, so the call itself says the id
// maps were written (a progress event). A driver that hangs (slirp4netns that never signals
// ready, issue 15) has its helper processes killed — rootlesskit's slirp4netns driver then
// returns "killed by signal" and runs its cleanups — and fails with errNetHung: the network
// step is blamed, and the second start without a network namespace still proves the rest.
func (t *timedNet) ConfigureNetwork(childPID int, stateDir, netns string) (*messages.ParentInitNetworkDriverCompleted, func() error, error) {
	t.start, t.childPID = time.Now(), childPID
	t.hook.emit(progressEvent{Event: evNetStart, Driver: t.name})
	type result struct {
		m       *messages.ParentInitNetworkDriverCompleted
		cleanup func() error
		err     error
	}
	ch := make(chan result, 1)
	go func() {
		m, cleanup, err := t.ParentDriver.ConfigureNetwork(childPID, stateDir, netns)
		ch <- result{m, cleanup, err}
	}()
	var r result
	if t.limit <= 0 {
		r = <-ch
	} else {
		timer := time.NewTimer(t.limit)
		select {
		case r = <-ch:
			timer.Stop()
		case <-timer.C:
			killed := killChildren(childPID)
			hung := fmt.Errorf("%s did not bring the network up within %s (stopped: %s): %w", t.name, t.limit, strings.Join(killed, ", "), errNetHung)
			select {
			case r = <-ch:
				// It returned once its helper died: run its cleanups, keep our error.
				if r.cleanup != nil {
					_ = r.cleanup()
				}
			case <-time.After(2 * time.Second):
				// An in-process driver (gvisor) cannot be killed: leave its goroutine.
			}
			r = result{err: hung}
		}
	}
	t.end, t.msg, t.err = time.Now(), r.m, r.err
	ev := progressEvent{Event: evNetEnd, Driver: t.name}
	if r.err != nil {
		ev.Err = r.err.Error()
	}
	t.hook.emit(ev)
	return r.m, r.cleanup, r.err
}

// killChildren kills this process's children but the one with pid except (rootlesskit's
// child): while the network driver is configured, they are its helpers. It returns their
// names and pids.
func killChildren(except int) []string {
	me := strconv.Itoa(os.Getpid())
	var killed []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == except {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		lp, rp := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if lp < 0 || rp < lp {
			continue
		}
		f := strings.Fields(s[rp+1:])
		if len(f) < 2 || f[1] != me {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, fmt.Sprintf("%s (pid %d)", s[lp+1:rp], pid))
		}
	}
	return killed
}

// phaseHook reads two things from rootlesskit's debug log. When parent.Parent starts
// computing the id maps: that comes right after the child said hello, so it splits "user
// namespace created" from "ids mapped". And the subordinate ranges it computed. If rootlesskit
// ever rewords these lines, the two phases are reported together and the maps are checked by
// their size only.
type phaseHook struct {
	mu               sync.Mutex
	seen             time.Time
	subUIDs, subGIDs string
	// progress streams what the parent role learns to the CLI (progress.jsonl), with the run
	// and the time since parent.Parent started.
	progress *os.File
	run      int
	t0       time.Time
}

// emit appends one progress event.
func (h *phaseHook) emit(ev progressEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.emitLocked(ev)
}

func (h *phaseHook) emitLocked(ev progressEvent) {
	if h.progress == nil {
		return
	}
	ev.Run, ev.At = h.run, time.Since(h.t0)
	ev.SubUIDs, ev.SubGIDs = h.subUIDs, h.subGIDs
	b, err := json.Marshal(ev)
	if err == nil {
		_, _ = h.progress.Write(append(b, '\n'))
	}
}

func (h *phaseHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h *phaseHook) Fire(e *logrus.Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := strings.CutPrefix(e.Message, rootlesskit.SubuidRanges.Match); ok {
		h.subUIDs = v
	}
	if v, ok := strings.CutPrefix(e.Message, rootlesskit.SubgidRanges.Match); ok {
		h.subGIDs = v
	}
	if h.seen.IsZero() && (rootlesskit.SubidSourceLine.Prefix(e.Message) || rootlesskit.SubuidRanges.Prefix(e.Message)) {
		h.seen = e.Time
		h.emitLocked(progressEvent{Event: evUserNS})
	}
	return nil
}

// reset starts a new run: its events carry run and times from now.
func (h *phaseHook) reset(run int) {
	h.mu.Lock()
	h.seen, h.subUIDs, h.subGIDs = time.Time{}, "", ""
	h.run, h.t0 = run, time.Now()
	h.mu.Unlock()
}

func (h *phaseHook) at() (time.Time, string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen, h.subUIDs, h.subGIDs
}

// runOnce starts rootlesskit once with the given network driver and waits for the payload.
func runOnce(outer string, run int, netName string, tn *timedNet, rep *parentReport, timing *phaseHook) runReport {
	rr := runReport{Net: netName}
	stateDir := filepath.Join(outer, fmt.Sprintf("rk-%d", run))
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		rr.Err = describe(phaseStart, err)
		return rr
	}
	opt := parent.Opt{
		PipeFDEnvKey:             envPipe,
		ChildUseActivationEnvKey: envAct,
		StateDir:                 stateDir,
		StateDirEnvKey:           envState,
		Propagation:              "rprivate",
		SubidSource:              rootlesskit.SubidSource(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var dialWG sync.WaitGroup
	if tn != nil {
		opt.NetworkDriver = tn
		pd, err := builtin.NewParentDriver(rootlesskit.LogWriter("port/builtin"), stateDir, false, "auto")
		if err != nil {
			cancel()
			rr.Err = describe(phasePort, err)
			return rr
		}
		opt.PortDriver = pd
		spec := port.Spec{Proto: "tcp", ParentIP: "127.0.0.1", ParentPort: rep.Config.ParentPort, ChildPort: rep.Config.ChildPort}
		opt.PublishPorts = []port.Spec{spec}
		pr := &portReport{Spec: fmt.Sprintf("127.0.0.1:%d → 127.0.0.1:%d/tcp inside", spec.ParentPort, spec.ChildPort)}
		rep.Port = pr
		dialWG.Add(1)
		go func() {
			defer dialWG.Done()
			roundTrip(ctx, pr, fmt.Sprintf("127.0.0.1:%d", spec.ParentPort), rep.Config.Nonce)
		}()
	}
	// rootlesskit re-executes /proc/self/exe with os.Args[1:] (not configurable): the rk child
	// reads the state dir, driver and run number from there.
	os.Args = append([]string{os.Args[0]}, parentArgs(outer, netName, run)...)
	timing.reset(run)
	logrus.WithField("run", run).Info(runMarker)
	t0 := time.Now()
	err := parent.Parent(opt)
	rr.Total = time.Since(t0)
	cancel()
	dialWG.Wait()

	seen, subU, subG := timing.at()
	if !seen.IsZero() && seen.After(t0) {
		rr.UsernsDur = seen.Sub(t0)
	}
	rr.SubUIDs, rr.SubGIDs = subU, subG
	if tn != nil && !tn.start.IsZero() {
		rr.IDMapDur = tn.start.Sub(t0) - rr.UsernsDur
		rr.NetDur, rr.NetEnd = tn.end.Sub(tn.start), tn.end
		rr.ChildPID = tn.childPID
		if m := tn.msg; m != nil {
			rr.NetInfo = &netInfo{Dev: m.Dev, IP: m.IP, Netmask: m.Netmask, Gateway: m.Gateway, MTU: m.MTU, DNS: m.DNS}
		}
	}
	if err != nil {
		rr.Err = classifyParentErr(err, tn, filepath.Join(outer, childFile(run)))
	}
	if rr.ChildPID != 0 && netName == rootlesskit.NetPasta {
		rr.Stopped = stopNetDaemons(rr.ChildPID, os.Geteuid())
	}
	if fi, err := os.Lstat(filepath.Join(outer, chownFile(run))); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			rr.ChownHost = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		}
	}
	return rr
}

// stopNetDaemons kills what the network driver left running for the namespace of childPID.
// pasta daemonizes (it leaves the process group) and, in passt releases before it learned to
// watch the namespace, keeps running after the namespace is gone; rootlesskit's pasta driver
// has no cleanup for it. The match is narrow: a pasta or passt process of this account whose
// last argument is the child's pid.
func stopNetDaemons(childPID, uid int) []string {
	want := strconv.Itoa(childPID)
	var stopped []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		base := filepath.Base(argv[0])
		if (!strings.HasPrefix(base, "pasta") && !strings.HasPrefix(base, "passt")) || argv[len(argv)-1] != want {
			continue
		}
		if fi, err := os.Stat(filepath.Join("/proc", e.Name())); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			stopped = append(stopped, fmt.Sprintf("%s (pid %d)", base, pid))
			waitDead(pid, time.Second)
		}
	}
	return stopped
}

// waitDead waits until pid is gone or a zombie (it is not our child: init reaps it).
func waitDead(pid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// classifyParentErr finds the phase of parent.Parent's error. rootlesskit has no typed errors
// (runtime/rootlesskit/rktext.go): the phase comes from its fixed message prefixes, the errno
// from the chain.
func classifyParentErr(err error, tn *timedNet, childJSON string) *wireError {
	msg := err.Error()
	switch {
	case tn != nil && tn.err != nil:
		return describe(phaseNetwork, tn.err)
	case rootlesskit.ParentStartChild.Prefix(msg):
		return describe(phaseUserNS, err)
	case rootlesskit.ParentIDMap.Prefix(msg):
		return describe(phaseIDMap, err)
	case rootlesskit.ParentNetwork.Prefix(msg):
		return describe(phaseNetwork, err)
	case rootlesskit.ParentExposePort.Prefix(msg):
		return describe(phasePort, err)
	case rootlesskit.ParentChildExit.Prefix(msg):
		// The child wrote its own error when it failed before running the payload.
		if b, rerr := os.ReadFile(childJSON); rerr == nil {
			var w wireError
			if json.Unmarshal(b, &w) == nil && w.Message != "" {
				return &w
			}
		}
		return describe(phasePayload, err)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && rootlesskit.ParentHello.In(msg) {
		return describe(phaseUserNS, err)
	}
	return describe(phaseStart, err)
}

// roundTrip dials the published port on the host side until the payload answers, or ctx ends.
// Before rootlesskit publishes the port the dial is refused; before the payload listens the
// builtin driver's child cannot connect and closes the connection: both are retried.
func roundTrip(ctx context.Context, pr *portReport, addr, nonce string) {
	for {
		pr.Attempts++
		t := time.Now()
		reply, err := pingOnce(ctx, addr, nonce)
		if err == nil {
			pr.OK, pr.Reply, pr.RTT, pr.Err = true, reply, time.Since(t), ""
			return
		}
		pr.Err = err.Error()
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Millisecond):
		}
	}
}

func pingOnce(ctx context.Context, addr, nonce string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "PING %s\n", nonce); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading the reply: %w", err)
	}
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "PONG "+nonce) {
		return "", fmt.Errorf("unexpected reply %q", line)
	}
	return line, nil
}

// readFacts reads, as the account, what decides between explanations (see facts).
func readFacts(exe string) facts {
	f := facts{Exe: exe}
	if u, err := user.Current(); err == nil {
		f.User = u.Username
	}
	read := func(key string) *int {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				f.Unread = append(f.Unread, key)
			}
			return nil
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			f.Unread = append(f.Unread, key)
			return nil
		}
		return &v
	}
	f.UsernsClone = read(keyUsernsClone)
	f.AppArmorRestrict = read(keyAppArmor)
	f.MaxUserNS = read(keyMaxUserNS)
	if fd, err := unix.Open(tunPath, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		f.TunErrno = errnoName(err)
	} else {
		unix.Close(fd)
	}
	return f
}
