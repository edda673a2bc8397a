package facts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/moby/sys/user"

	"github.com/rootless-doctor/rootless-doctor/checks/apparmor"
	"github.com/rootless-doctor/rootless-doctor/checks/parse"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// Account is the user whose ability to run rootless containers is checked.
type Account struct {
	Name  string `json:"name"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	Home  string `json:"home"`
	Shell string `json:"-"`
	// Groups are the account's group ids, primary first.
	Groups []int `json:"-"`
	// Source is where the entry came from: "/etc/passwd" or "getent passwd".
	Source string `json:"-"`
}

// Env is what a probe gets: the Host, the detected distribution, the account checked, and
// facts several probes (and the planner) share, computed once per run.
type Env struct {
	Host   host.Host
	Distro distro.Info
	// User is the account checked. Valid only when UserErr is nil.
	User Account
	// UserErr says why the account could not be resolved; identity.user reports it and every
	// probe that needs the account skips.
	UserErr error
	// Requested is the --user value, empty when checking the running account.
	Requested string
	// OnBehalf is true when the account checked is not the one running the doctor (root with
	// --user): the running process's environment and session say nothing about the account's
	// own login session then.
	OnBehalf bool

	// The facts several probes share, each computed at most once per run (the first probe
	// to ask computes it; the others wait for it). Typed, one sync.Once each: before issue
	// 11 a map of string keys memoised them outside its lock, and /etc/sysctl.d was scanned
	// three times in one run.
	kernel      once[kernelFact]
	cgroup      once[CgroupMode]
	systemd     once[bool]
	procSys     once[bool]
	sysctlBoot  once[SysctlBoot]
	modTables   once[*moduleTables]
	modprobe    once[modprobeInfo]
	modMu       sync.Mutex
	modFacts    map[string]*once[ModuleFact]
	mounts      once[MountTable]
	dockerRoot  once[DataRoot]
	podmanRoot  once[podmanRoot]
	storageConf once[PodmanStorageConf]
	dpkg        once[fileRead]
	dpkgIndex   once[dpkgIndexed]
	dpkgMu      sync.Mutex
	dpkgAsked   []string
	subIDSource once[SubIDSource]
	appArmor    once[*apparmor.Policy]
	procStatus  once[procStatus]
	lookMu      sync.Mutex
	looked      map[string]lookedPath
	// engines: the engine probes' facts (engines.go).
	binaryState
	unitsOnce
	netDrivers     once[NetDrivers]
	dockerRootless once[DockerRootless]
}

// ErrUnknownUser is wrapped by UserErr when the account does not exist.
var ErrUnknownUser = errors.New("unknown user")

// ResolveTimeout bounds NewEnv, as checks.DefaultTimeout bounds one probe.
const ResolveTimeout = 10 * time.Second

// NewEnv resolves the account and the distribution. userName is the --user value ("" for the
// running account; a name or a numeric uid). It takes at most ResolveTimeout, and returns when
// ctx ends: resolving reads os-release, /etc/passwd and runs getent, on a host that may answer
// slowly or never (before issue 10 a FIFO at /etc/os-release hung check and fix here, outside
// any probe's timeout). Past that, the distribution is unknown and the account unresolved,
// with the reason; identity.user reports it and the probes that need the account skip.
func NewEnv(ctx context.Context, h host.Host, userName string) *Env {
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	ch := make(chan *Env, 1)
	go func() { ch <- newEnv(ctx, h, userName) }()
	select {
	case e := <-ch:
		return e
	case <-ctx.Done():
		err := fmt.Errorf("resolving the distribution and the account did not finish: %w", ctx.Err())
		return &Env{Host: h, Distro: distro.Unknown(err.Error()), Requested: userName, UserErr: err}
	}
}

func newEnv(ctx context.Context, h host.Host, userName string) *Env {
	e := &Env{Host: h, Distro: distro.Detect(h), Requested: userName}
	self := h.Self()
	switch {
	case userName != "":
		e.User, e.UserErr = e.lookupUser(ctx, userName)
	default:
		e.User, e.UserErr = e.lookupUser(ctx, strconv.Itoa(self.UID))
		if e.UserErr != nil && self.Name != "" {
			// An account that exists only for the running process (a container started with
			// --user 1234) has no passwd entry; keep the uid so uid-based checks still work.
			e.User = Account{Name: self.Name, UID: self.UID, GID: self.GID}
		}
	}
	e.OnBehalf = e.UserErr == nil && e.User.UID != self.UID
	return e
}

// lookupUser finds an account by name or uid in /etc/passwd, then through `getent passwd`
// (accounts served by LDAP or SSSD through nsswitch are not in /etc/passwd).
func (e *Env) lookupUser(ctx context.Context, nameOrUID string) (Account, error) {
	uid, numErr := strconv.Atoi(nameOrUID)
	match := func(u user.User) bool {
		if !saneName(u.Name) {
			return false
		}
		if numErr == nil {
			return u.Uid == uid
		}
		return u.Name == nameOrUID
	}
	var readErr error
	if data, err := e.Host.ReadFile("/etc/passwd"); err == nil {
		users, err := user.ParsePasswdFilter(bytes.NewReader(data), match)
		if err == nil && len(users) > 0 {
			return e.account(users[0], "/etc/passwd"), nil
		}
		if err != nil {
			readErr = fmt.Errorf("parsing /etc/passwd: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		readErr = err
	}
	if out, err := e.Host.Run(ctx, "getent", "passwd", nameOrUID); err == nil && out.ExitCode == 0 {
		users, err := user.ParsePasswdFilter(bytes.NewReader(out.Stdout), match)
		if err == nil && len(users) > 0 {
			return e.account(users[0], "getent passwd"), nil
		}
	}
	if readErr != nil {
		return Account{}, readErr
	}
	return Account{}, fmt.Errorf("%w %q: no entry in /etc/passwd or getent passwd", ErrUnknownUser, nameOrUID)
}

// saneName rejects account names no tool could handle: empty, over 256 bytes, not UTF-8, or
// holding control characters, ':' or '/'. Such a passwd line is garbage, not an account.
func saneName(name string) bool {
	if name == "" || len(name) > 256 || !utf8.ValidString(name) {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || c == ':' || c == '/' || unicode.IsControl(c) {
			return false
		}
	}
	return true
}

func (e *Env) account(u user.User, source string) Account {
	a := Account{Name: u.Name, UID: u.Uid, GID: u.Gid, Home: u.Home, Shell: u.Shell, Source: source}
	a.Groups = []int{u.Gid}
	if data, err := e.Host.ReadFile("/etc/group"); err == nil {
		groups, _ := user.ParseGroupFilter(bytes.NewReader(data), func(g user.Group) bool {
			if g.Gid == u.Gid {
				return false
			}
			for _, m := range g.List {
				if m == u.Name {
					return true
				}
			}
			return false
		})
		for _, g := range groups {
			a.Groups = append(a.Groups, g.Gid)
		}
	}
	return a
}

// NeedUser returns a skip result and false when there is no account to check: it is unknown,
// or it is root (rootless containers are for an ordinary account; identity.user reports both,
// and the other probes would only repeat it about an account nobody will use).
func (e *Env) NeedUser() (finding.Result, bool) {
	switch {
	case e.UserErr != nil:
		return finding.Skipf("the account is unknown (see identity.user)"), false
	case e.User.UID == 0:
		return finding.Skipf("the account checked is root (see identity.user)"), false
	}
	return finding.Result{}, true
}

// Kernel is the parsed kernel release.
func (e *Env) Kernel() (parse.KernelVersion, error) {
	r := e.kernel.get(func() kernelFact {
		v, err := parse.ParseKernelRelease(e.Host.KernelRelease())
		return kernelFact{v, err}
	})
	return r.v, r.err
}

type kernelFact struct {
	v   parse.KernelVersion
	err error
}

// SysctlPath is the /proc/sys path of a dotted sysctl key.
func SysctlPath(key string) string {
	return "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
}

// Sysctl reads a sysctl, trimmed. A missing key gives an error wrapping fs.ErrNotExist: on
// many kernels the key does not exist at all, which is different from 0.
func (e *Env) Sysctl(key string) (string, error) {
	data, err := e.Host.ReadFile(SysctlPath(key))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// CgroupMode is how cgroups are mounted.
type CgroupMode string

// The cgroup modes, as systemd names them.
const (
	CgroupUnified     CgroupMode = "unified" // cgroup v2 only
	CgroupHybrid      CgroupMode = "hybrid"  // v1 controllers, an empty v2 at /sys/fs/cgroup/unified
	CgroupLegacy      CgroupMode = "legacy"  // v1 only
	CgroupUnavailable CgroupMode = "unavailable"
)

// Cgroup tells the cgroup mode the way containerd/cgroups' Mode() does (statfs of
// /sys/fs/cgroup, then /sys/fs/cgroup/unified), but through the Host so that --root replays
// it; cgroups.Mode() always looks at the real /sys.
func (e *Env) Cgroup() CgroupMode {
	return e.cgroup.get(func() CgroupMode {
		t, err := e.Host.FSType("/sys/fs/cgroup")
		switch {
		case err != nil:
			return CgroupUnavailable
		case t == "cgroup2":
			return CgroupUnified
		}
		if u, err := e.Host.FSType("/sys/fs/cgroup/unified"); err == nil && u == "cgroup2" {
			if _, err := e.Host.Stat("/sys/fs/cgroup/unified"); err == nil {
				return CgroupHybrid
			}
		}
		return CgroupLegacy
	})
}

// SystemdRunning reports whether systemd is PID 1, the way sd_booted(3) does: /run/systemd/system
// is a directory.
func (e *Env) SystemdRunning() bool {
	return e.systemd.get(func() bool {
		fi, err := e.Host.Stat("/run/systemd/system")
		return err == nil && fi.IsDir()
	})
}

// Getenv reads a variable of the doctor's process. When checking on behalf of another
// account, the process environment is root's, not the account's: ok is false then, and the
// probe must reason from the account's defaults instead.
func (e *Env) Getenv(key string) (value string, ok bool) {
	if e.OnBehalf {
		return "", false
	}
	return e.Host.LookupEnv(key)
}

// RuntimeDir is the account's XDG_RUNTIME_DIR: the variable when checking the running
// account, else /run/user/UID (what pam_systemd would set at login).
func (e *Env) RuntimeDir() string {
	if v, ok := e.Getenv("XDG_RUNTIME_DIR"); ok && v != "" {
		return v
	}
	return fmt.Sprintf("/run/user/%d", e.User.UID)
}

// CanReadWrite reports whether the account may open fi for reading and writing.
func (e *Env) CanReadWrite(fi host.FileInfo) bool { return e.Permits(fi, 0o6) }

// Permits reports whether the account has the access bits want (4 read, 2 write, 1
// execute/search, combined) on fi, from owner, group and mode: access(2) cannot answer for
// another account, nor for a recorded host. Root may do anything.
func (e *Env) Permits(fi host.FileInfo, want uint32) bool {
	if e.UserErr != nil {
		return false
	}
	if e.User.UID == 0 {
		return true
	}
	perm := uint32(fi.Mode.Perm())
	switch {
	case fi.UID == e.User.UID:
		perm >>= 6
	case e.InGroup(fi.GID):
		perm >>= 3
	}
	return perm&want == want
}

// InGroup reports whether the account is a member of gid (its primary group included).
func (e *Env) InGroup(gid int) bool {
	if e.UserErr != nil {
		return false
	}
	for _, g := range e.User.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// lookedPath is what Host.LookPath answered for a name.
type lookedPath struct {
	path string
	err  error
}

// LookPath is Host.LookPath, asked once per name in a run: the probes look for dockerd five
// times, slirp4netns and rootlesskit four, and on a live host each miss is a stat per PATH
// directory (issue 16). A run is one moment: a tool installed while it runs is found by the
// next, as before.
func (e *Env) LookPath(name string) (string, error) {
	e.lookMu.Lock()
	l, ok := e.looked[name]
	e.lookMu.Unlock()
	if ok {
		return l.path, l.err
	}
	p, err := e.Host.LookPath(name)
	e.lookMu.Lock()
	if e.looked == nil {
		e.looked = map[string]lookedPath{}
	}
	e.looked[name] = lookedPath{p, err}
	e.lookMu.Unlock()
	return p, err
}
