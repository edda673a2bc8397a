// Package daemon runs a container engine (dockerd, containerd, buildkitd, or any command)
// inside rootlesskit's namespaces, embedded: the job dockerd-rootless.sh and
// containerd-rootless.sh do with the rootlesskit binary, done with the drivers the live proof
// (runtime/proof) has just tested: both use the one embedding in runtime/rootlesskit.
//
// The binary plays three roles here, decided by rootlesskit.Dispatch (with Roles) before the
// CLI parses anything:
//
//	parent  argv[1] == argParent: the CLI exec()s into this after the preflight. It calls
//	        rootlesskit's parent.Parent, which takes over every signal (forwarding them to the
//	        child) and uses the global logrus logger, so it owns its process: the daemon's.
//	rk child  env envPipe set (by parent.Parent): rootlesskit's child.Child in the new user,
//	        mount and network namespaces; copies up /etc and /run and runs the engine role.
//	engine  argv[1] == argEngine: inside the namespaces, removes what the copy-up of /run
//	        leaks from the host and exec()s the engine, which thus receives the signals.
//
// The engine role is marked by argv, never by environment: an environment marker would leak
// into rootlesskit's re-execution of its child (see runtime/proof/roles.go).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/rootless-containers/rootlesskit/v3/pkg/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/common"
	"github.com/rootless-containers/rootlesskit/v3/pkg/copyup/tmpfssymlink"
	"github.com/rootless-containers/rootlesskit/v3/pkg/parent"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/rootless-doctor/rootless-doctor/internal/safefs"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// The environment keys. The documented ones are the names engines read to detect rootless mode
// and find the API socket that publishes ports (moby's rootless.RunningWithRootlessKit reads
// ROOTLESSKIT_STATE_DIR; rootlesskit-docker-proxy reads the socket from it).
const (
	envPipe   = "_RLDOCTOR_DAEMON_PIPEFD"
	envAct    = "_RLDOCTOR_DAEMON_CHILD_ACTIVATION"
	envActRun = "_RLDOCTOR_DAEMON_ACTIVATION_HELPER"

	EnvStateDir   = "ROOTLESSKIT_STATE_DIR"
	EnvParentEUID = "ROOTLESSKIT_PARENT_EUID"
	EnvParentEGID = "ROOTLESSKIT_PARENT_EGID"

	argParent = "__rldoctor_daemon_parent"
	argEngine = "__rldoctor_daemon_engine"
)

// StateDirName is the daemon's state dir under $XDG_RUNTIME_DIR.
const StateDirName = "rootless-doctor"

// Engines are the engines tried, in order, when no command is given.
var Engines = []string{"dockerd", "containerd", "buildkitd"}

// Roles are the daemon's roles, for rootlesskit.Dispatch: main() passes them (with the
// proof's) before cobra parses anything.
func Roles() []rootlesskit.Role {
	return []rootlesskit.Role{
		{Env: envPipe, Main: func([]string) int { return childMain() }},
		{Arg: argParent, Main: parentMain},
		{Arg: argEngine, Main: engineMain},
	}
}

// Options say what Exec runs.
type Options struct {
	// Net is the network driver (rootlesskit.NetAuto, NetSlirp4netns, NetPasta, NetGvisor).
	Net string
	// Engine is the engine's argv; empty means the first of Engines on PATH.
	Engine []string
}

// SbinDirs are searched for an engine after PATH: Debian and Ubuntu install dockerd in
// /usr/sbin, which an ordinary account's PATH does not hold (issue 12: the unit ran the
// containerd that docker.io only depends on). Tests replace it.
var SbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// LookEngine is name's executable: name itself when it has a slash, else the first on PATH,
// else in SbinDirs.
func LookEngine(name string) (string, error) {
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range SbinDirs {
		if p, err := exec.LookPath(filepath.Join(d, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: %w on PATH nor in %s", name, exec.ErrNotFound, strings.Join(SbinDirs, ", "))
}

// PathWithSbin is path with the SbinDirs it lacks appended: the PATH the engine runs with,
// whose helpers (iptables, ip) are in the sbin directories too, as in the unit
// dockerd-rootless-setuptool.sh writes (PATH=$BIN:/sbin:/usr/sbin:$PATH).
func PathWithSbin(path string) string {
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	for _, d := range SbinDirs {
		if !slices.Contains(filepath.SplitList(path), d) {
			path += ":" + d
		}
	}
	return path
}

// FindEngine returns the engine's argv with its binary resolved (LookEngine): cmd as given, or
// the first of Engines installed, in that order, so a dockerd in /usr/sbin is preferred to a
// containerd on PATH.
func FindEngine(cmd []string) ([]string, error) {
	if len(cmd) > 0 {
		p, err := LookEngine(cmd[0])
		if err != nil {
			return nil, fmt.Errorf("engine %w", err)
		}
		return append([]string{p}, cmd[1:]...), nil
	}
	for _, e := range Engines {
		if p, err := LookEngine(e); err == nil {
			return []string{p}, nil
		}
	}
	return nil, fmt.Errorf("no engine found on PATH nor in %s (tried %s); name one after --", strings.Join(SbinDirs, ", "), strings.Join(Engines, ", "))
}

// StateDir returns $XDG_RUNTIME_DIR/rootless-doctor, or an error when XDG_RUNTIME_DIR is not
// a usable directory (engines keep their sockets there too).
func StateDir() (string, error) {
	rd := os.Getenv("XDG_RUNTIME_DIR")
	if rd == "" || !filepath.IsAbs(rd) {
		return "", errors.New("XDG_RUNTIME_DIR is not set: log in through a PAM session (systemd-logind) or set it to a private 0700 directory you own")
	}
	if err := unix.Access(rd, unix.W_OK|unix.X_OK); err != nil {
		return "", fmt.Errorf("XDG_RUNTIME_DIR %s is not writable: %w", rd, err)
	}
	return filepath.Join(rd, StateDirName), nil
}

// ErrStateDir is returned (wrapped) when $XDG_RUNTIME_DIR/rootless-doctor is not a private
// directory of the running user: the daemon refuses to use it (exit 2).
var ErrStateDir = errors.New("unsafe state dir")

// PrepareStateDir makes the state dir when it is missing and returns its path after checking,
// without following a symlink, that it is a directory owned by the running uid, mode 0700, in
// a directory that no other account can rename it in (owned by us or root, and not writable by
// others unless sticky). rootlesskit empties the state dir at the start (its InitStateDir), so
// a symlink or someone else's directory there must never be used (docs/security.md, "State
// directories of the account's own processes"; issue 10: a symlink planted there had its
// target emptied).
func PrepareStateDir() (string, error) {
	d, err := StateDir()
	if err != nil {
		return "", err
	}
	rd := filepath.Dir(d)
	fd, err := unix.Open(rd, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("XDG_RUNTIME_DIR %s: %w", rd, err)
	}
	parent := os.NewFile(uintptr(fd), rd)
	defer parent.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("XDG_RUNTIME_DIR %s: %w", rd, err)
	}
	if (int(st.Uid) != os.Geteuid() && st.Uid != 0) || (st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0) {
		return "", fmt.Errorf("%w: refusing %s: XDG_RUNTIME_DIR %s (uid %d, mode %04o) lets other accounts replace it; point XDG_RUNTIME_DIR at a private 0700 directory you own",
			ErrStateDir, d, rd, st.Uid, st.Mode&0o7777)
	}
	if err := unix.Mkdirat(fd, StateDirName, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("creating the state dir %s: %w", d, err)
	}
	f, err := safefs.Open(parent, StateDirName, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	switch {
	case errors.Is(err, unix.ELOOP):
		return "", fmt.Errorf("%w: refusing %s: it is a symlink; remove it (the daemon makes its own directory there)", ErrStateDir, d)
	case errors.Is(err, unix.ENOTDIR):
		return "", fmt.Errorf("%w: refusing %s: it is not a directory; remove it (the daemon makes its own directory there)", ErrStateDir, d)
	case err != nil:
		return "", fmt.Errorf("opening the state dir %s: %w", d, err)
	}
	defer f.Close()
	if err := safefs.CheckPrivate(f, os.Geteuid()); err != nil {
		return "", fmt.Errorf("%w: refusing %s: %w; remove it or make it a 0700 directory of yours", ErrStateDir, d, err)
	}
	return d, nil
}

// Exec replaces this process with the daemon's parent role. It returns only on error.
func Exec(opts Options) error {
	if os.Geteuid() == 0 {
		return errors.New("refusing to run as root: the daemon runs a rootless engine for an unprivileged account")
	}
	net := opts.Net
	if net == "" {
		net = rootlesskit.NetAuto
	}
	switch net {
	case rootlesskit.NetAuto, rootlesskit.NetSlirp4netns, rootlesskit.NetPasta, rootlesskit.NetGvisor:
	default:
		return fmt.Errorf("--net %q: want auto, slirp4netns, pasta or gvisor", net)
	}
	engine, err := FindEngine(opts.Engine)
	if err != nil {
		return err
	}
	if _, err := PrepareStateDir(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this binary: %w", err)
	}
	if net == rootlesskit.NetGvisor {
		// The driver runs in the helper binary (issue 16): exec it directly.
		helper, err := rootlesskit.GvisorHelper()
		if err != nil {
			return fmt.Errorf("--net gvisor: %w", err)
		}
		if helper != "" {
			self = helper
		}
	}
	argv := append([]string{self, argParent, net}, engine...)
	return syscall.Exec(self, argv, os.Environ())
}

func say(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "rootless-doctor daemon: "+format+"\n", a...)
}

// parentMain is the parent role: args are NET ENGINE-ARGV...
func parentMain(args []string) int {
	if len(args) < 2 {
		say("bad arguments %q", args)
		return 2
	}
	netName, engine := args[0], args[1:]
	logrus.SetOutput(os.Stderr)
	// Checked again here: the CLI's check (Exec) ran before the exec. A refused
	// state dir is the clearer answer, so it comes before the network driver.
	stateDir, err := PrepareStateDir()
	if errors.Is(err, ErrStateDir) {
		say("%v", err)
		return 2
	}
	if err != nil {
		say("%v", err)
		return 1
	}
	// Then the driver, before anything is started: when it is gvisor-tap-vsock and this
	// binary does not link it, the helper binary takes this process over and starts this role
	// again (it checks the state dir again, which it now finds made).
	chosen, nd, notes, err := rootlesskit.NewNetDriver(netName)
	if errors.Is(err, rootlesskit.ErrGvisorNotLinked) {
		helper, herr := rootlesskit.GvisorHelper()
		if herr == nil {
			herr = fmt.Errorf("starting %s: %w", helper, rootlesskit.ExecHelper(helper))
		}
		err = herr
	}
	for _, n := range notes {
		say("network: %s", n)
	}
	if err != nil {
		say("network driver %s: %v", chosen, err)
		return 1
	}
	// InitStateDir takes the state dir's lock (failing when another daemon holds it) and
	// removes what a killed daemon left behind. parent.Parent takes
	// the same lock again for its lifetime: two daemons cannot share the dir.
	if err := parent.InitStateDir(stateDir); err != nil {
		say("%v (is another rootless-doctor daemon running for this account?)", err)
		return 1
	}
	pd, err := builtin.NewParentDriver(rootlesskit.LogWriter("port/builtin"), stateDir, false, "auto")
	if err != nil {
		say("port driver: %v", err)
		os.RemoveAll(stateDir)
		return 1
	}
	// rootlesskit re-executes /proc/self/exe with this process's argv (not configurable): the rk
	// child reads the driver chosen and the engine from it.
	os.Args = append([]string{os.Args[0], argParent, chosen}, engine...)
	say("starting %s (network %s, port driver builtin, state dir %s)", strings.Join(engine, " "), chosen, stateDir)
	opt := parent.Opt{
		PipeFDEnvKey:             envPipe,
		ChildUseActivationEnvKey: envAct,
		StateDir:                 stateDir,
		StateDirEnvKey:           EnvStateDir,
		ParentEUIDEnvKey:         EnvParentEUID,
		ParentEGIDEnvKey:         EnvParentEGID,
		NetworkDriver:            nd,
		PortDriver:               pd,
		// rslave: mounts made on the host after the start (a USB stick, an NFS automount)
		// reach the engine, nothing the engine mounts reaches the host. What
		// dockerd-rootless.sh passes (--propagation=rslave).
		Propagation: "rslave",
		SubidSource: rootlesskit.SubidSource(),
	}
	// The service manager (Type=notify) hears READY=1 from this process, the unit's main one,
	// once the engine answers; the engine itself must not see the socket (dockerd would send
	// its own READY=1, from a process that is not the unit's main one).
	notifySocket := os.Getenv("NOTIFY_SOCKET")
	os.Unsetenv("NOTIFY_SOCKET")
	ready, stopWaiting := context.WithCancel(context.Background())
	defer stopWaiting()
	go announceReady(ready, stateDir, ReadyOf(engine, os.Getenv("XDG_RUNTIME_DIR")), notifySocket)
	err = parent.Parent(opt) // removes stateDir on return
	stopWaiting()
	if err == nil {
		return 0
	}
	if code, ok := common.GetExecExitStatus(err); ok {
		if code != 0 {
			say("%s exited with status %d", filepath.Base(engine[0]), code)
		}
		return code
	}
	say("%v", err)
	return 1
}

// announceReady prints the ready line and tells the service manager once the engine answers;
// it gives up silently when ctx ends (the engine exited first).
func announceReady(ctx context.Context, stateDir string, r Ready, notifySocket string) {
	pid, err := WaitReady(ctx, stateDir, r)
	if err != nil {
		return
	}
	say("%s", r.Line(pid))
	if err := Notify(notifySocket, "READY=1\nSTATUS="+r.Line(pid)); err != nil {
		say("%v", err)
	}
}

// childMain is rootlesskit's child: argv is the parent role's [exe, argParent, NET, ENGINE...].
func childMain() int {
	logrus.SetOutput(os.Stderr)
	if len(os.Args) < 4 || os.Args[1] != argParent {
		say("rootlesskit child: bad arguments %q", os.Args)
		return 1
	}
	netName, engine := os.Args[2], os.Args[3:]
	self, err := os.Executable()
	if err != nil {
		say("rootlesskit child: %v", err)
		return 1
	}
	opt := child.Opt{
		PipeFDEnvKey:              envPipe,
		RunActivationHelperEnvKey: envActRun,
		ChildUseActivationEnvKey:  envAct,
		StateDirEnvKey:            EnvStateDir,
		TargetCmd:                 append([]string{self, argEngine}, engine...),
		NetworkDriver:             rootlesskit.ChildNetDriver(netName),
		PortDriver:                builtin.NewChildDriver(rootlesskit.LogWriter("port/builtin")),
		// Copy-up lets the engine replace /etc/resolv.conf, /etc/hosts and create /run/docker
		// etc. without touching the host's (dockerd-rootless.sh: --copy-up=/etc --copy-up=/run).
		CopyUpDriver: tmpfssymlink.NewChildDriver(),
		CopyUpDirs:   []string{"/etc", "/run"},
		Propagation:  "rslave",
	}
	err = child.Child(opt)
	if err == nil {
		return 0
	}
	if code, ok := rootlesskit.ExitStatus(err); ok {
		// The engine itself exited badly: its status is the child's, and the parent's.
		return code
	}
	say("rootlesskit child: %v", err)
	return 1
}

// engineMain runs inside the namespaces as uid 0 of the user namespace: it undoes what the
// copy-up of /run brings from the host and exec()s the engine (what the child half of
// dockerd-rootless.sh does).
func engineMain(engine []string) int {
	if len(engine) == 0 {
		say("engine: no command")
		return 2
	}
	// After the copy-up these are symlinks to the host's (root's) engine state: a rootless
	// engine must create its own.
	for _, p := range []string{"/run/docker", "/run/containerd", "/run/xtables.lock"} {
		_ = os.Remove(p)
	}
	fixEtcSSL()
	err := syscall.Exec(engine[0], engine, os.Environ())
	say("cannot run %s: %v", engine[0], err)
	return 127
}

// fixEtcSSL replaces the copied-up /etc/ssl symlink with a recursive bind of the directory it
// points to, as dockerd-rootless.sh does (its child half, "/etc/ssl" block): the engine then
// sees a real directory for the certificate bundles, not a symlink into the read-only copy.
func fixEtcSSL() {
	var st unix.Statfs_t
	if unix.Statfs("/etc", &st) != nil || st.Type != unix.TMPFS_MAGIC {
		return
	}
	fi, err := os.Lstat("/etc/ssl")
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return
	}
	real, err := filepath.EvalSymlinks("/etc/ssl")
	if err != nil {
		return
	}
	if os.Remove("/etc/ssl") != nil || os.Mkdir("/etc/ssl", 0o755) != nil {
		return
	}
	if err := unix.Mount(real, "/etc/ssl", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		say("binding %s over /etc/ssl: %v", real, err)
	}
}
