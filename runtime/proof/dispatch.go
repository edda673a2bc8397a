package proof

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rootless-containers/rootlesskit/v3/pkg/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/common"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/gvisortapvsock"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/pasta"
	"github.com/rootless-containers/rootlesskit/v3/pkg/network/slirp4netns"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin"
	"github.com/sirupsen/logrus"
)

// The proof runs the rootless-doctor binary in five roles. Which one a process plays is
// decided here, before cobra (or the testing package) sees the arguments:
//
//	CLI          rootless-doctor prove / check: proof.Run starts the parent role and waits
//	parent role  argv[1] == argParent: calls rootlesskit's parent.Parent, which has no context,
//	             takes over every signal and uses the global logrus logger, so it gets a process
//	             of its own that the CLI can kill (LIBRARIES §1.11)
//	rk child     env envPipe set (by parent.Parent): rootlesskit's child.Child in the new user,
//	             mount and network namespaces; it re-executes itself once to gain capabilities
//	payload      argv[1] == argPayload: the steps, run by the rk child as its target command
//	             (and the payload's own helpers: the pivot_root step, the process in the root)
//
// The payload is marked by argv, never by environment: an environment marker set for the
// payload would leak into the rk child's own re-execution, which would then run the payload
// instead of finishing the handshake, and parent.Parent would hang forever (LIBRARIES §1.11,
// gotcha 1). The rk child is marked by environment only because rootlesskit decides that.
const (
	envPipe   = "_RLDOCTOR_RK_PIPEFD"
	envAct    = "_RLDOCTOR_RK_CHILD_ACTIVATION"
	envActRun = "_RLDOCTOR_RK_ACTIVATION_HELPER"
	envState  = "RLDOCTOR_RK_STATE_DIR"

	argParent  = "__rldoctor_proof_parent"
	argPayload = "__rldoctor_proof_payload"
)

// Network drivers, as --net names them. "host" is internal: the second start after a network
// failure runs without a network namespace so the other steps still get proven.
const (
	NetAuto        = "auto"
	NetSlirp4netns = "slirp4netns"
	NetPasta       = "pasta"
	NetGvisor      = "gvisor"
	NetNone        = "none"
	netHost        = "host"
)

// Dispatch runs the proof's helper roles and exits when this process is one of them; otherwise
// it returns at once. It must be the first thing main() and every TestMain do, before flag
// parsing, so that the re-executed binary plays its role instead of running the CLI or tests.
func Dispatch() {
	if os.Getenv(envPipe) != "" {
		os.Exit(rkChildMain())
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case argParent:
			os.Exit(parentMain(os.Args[2:]))
		case argPayload:
			os.Exit(payloadMain(os.Args[2:]))
		}
	}
}

// parentArgs is the argv of the parent role. rootlesskit re-executes /proc/self/exe with the
// parent's own os.Args[1:] (not configurable, LIBRARIES §1.2), so the rk child learns the state
// dir, network driver and run number from it too.
func parentArgs(outer, net string, run int) []string {
	return []string{argParent, outer, net, strconv.Itoa(run)}
}

func parseParentArgs(args []string) (outer, net string, run int, err error) {
	if len(args) < 3 {
		return "", "", 0, fmt.Errorf("want STATE-DIR NET RUN, got %q", args)
	}
	run, err = strconv.Atoi(args[2])
	if err != nil || !filepath.IsAbs(args[0]) {
		return "", "", 0, fmt.Errorf("bad arguments %q", args)
	}
	return args[0], args[1], run, nil
}

// setupLogrus sends rootlesskit's global logger to fd 2 as JSON lines, which the parent role
// redirected into the state dir; the CLI parses them into results instead of printing them.
func setupLogrus(role string) {
	logrus.SetOutput(os.Stderr)
	logrus.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "15:04:05.000000"})
	logrus.SetLevel(logrus.DebugLevel)
	logrus.AddHook(roleHook(role))
}

type roleHook string

func (roleHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h roleHook) Fire(e *logrus.Entry) error {
	e.Data["role"] = string(h)
	return nil
}

// logWriter turns the output of rootlesskit's drivers (slirp4netns, pasta, the port driver) into
// debug log lines with a label, like rootlesskit's own logrusDebugWriter.
type logWriter string

func (w logWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l != "" {
			logrus.WithField("driver", string(w)).Debug(l)
		}
	}
	return len(p), nil
}

// rkChildMain is rootlesskit's child: it waits for the maps, gains its capabilities by
// re-executing itself, configures the network inside and runs the payload.
func rkChildMain() int {
	setupLogrus("child")
	// argv is the parent role's: [/proc/self/exe, argParent, STATE-DIR, NET, RUN].
	var outer, net string
	run := 0
	if len(os.Args) > 1 && os.Args[1] == argParent {
		var err error
		outer, net, run, err = parseParentArgs(os.Args[2:])
		if err != nil {
			logrus.WithError(err).Error("rootlesskit child: bad arguments")
			return 1
		}
	}
	self, err := os.Executable()
	if err != nil {
		logrus.WithError(err).Error("rootlesskit child: cannot find its own binary")
		return 1
	}
	opt := child.Opt{
		PipeFDEnvKey:              envPipe,
		RunActivationHelperEnvKey: envActRun,
		ChildUseActivationEnvKey:  envAct,
		StateDirEnvKey:            envState,
		TargetCmd:                 []string{self, argPayload, "main", outer, net, strconv.Itoa(run)},
		// rprivate: nothing the payload mounts can reach the host. /etc is not copied up: the
		// payload needs no DNS, and copy-up would cost a symlink per /etc entry.
		Propagation:   "rprivate",
		NetworkDriver: childNetDriver(net),
	}
	if net != netHost && net != "" {
		opt.PortDriver = builtin.NewChildDriver(logWriter("port/builtin"))
	}
	err = child.Child(opt)
	if err == nil {
		return 0
	}
	if strings.HasPrefix(err.Error(), "command ") {
		// The payload itself exited badly; its exit status is the child's.
		if code, ok := common.GetExecExitStatus(err); ok {
			return code
		}
	}
	logrus.WithError(err).Error("rootlesskit child failed")
	if outer != "" {
		_ = writeJSON(filepath.Join(outer, childFile(run)), describe(phaseChild, err))
	}
	return 1
}

func childNetDriver(net string) network.ChildDriver {
	switch net {
	case NetSlirp4netns:
		return slirp4netns.NewChildDriver()
	case NetPasta:
		return pasta.NewChildDriver()
	case NetGvisor:
		return gvisortapvsock.NewChildDriver()
	}
	// none: the parent's none driver configures loopback through nsenter; host: no netns.
	return nil
}
