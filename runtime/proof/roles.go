package proof

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rootless-containers/rootlesskit/v3/pkg/child"
	"github.com/rootless-containers/rootlesskit/v3/pkg/port/builtin"
	"github.com/sirupsen/logrus"

	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// The proof runs the rootless-doctor binary in five roles. Which one a process plays is
// decided here, before cobra (or the testing package) sees the arguments:
//
//	CLI          rootless-doctor prove / check: proof.Run starts the parent role and waits
//	parent role  argv[1] == argParent: calls rootlesskit's parent.Parent, which has no context,
//	             takes over every signal and uses the global logrus logger, so it gets a process
//	             of its own that the CLI can kill (docs/architecture.md, "Processes")
//	rk child     env envPipe set (by parent.Parent): rootlesskit's child.Child in the new user,
//	             mount and network namespaces; it re-executes itself once to gain capabilities
//	payload      argv[1] == argPayload: the steps, run by the rk child as its target command
//	             (and the payload's own helpers: the pivot_root step, the process in the root)
//
// The payload is marked by argv, never by environment: an environment marker set for the
// payload would leak into the rk child's own re-execution, which would then run the payload
// instead of finishing the handshake, and parent.Parent would hang forever. The rk child is
// marked by environment only because rootlesskit decides that.
const (
	envPipe   = "_RLDOCTOR_RK_PIPEFD"
	envAct    = "_RLDOCTOR_RK_CHILD_ACTIVATION"
	envActRun = "_RLDOCTOR_RK_ACTIVATION_HELPER"
	envState  = "RLDOCTOR_RK_STATE_DIR"

	argParent  = "__rldoctor_proof_parent"
	argPayload = "__rldoctor_proof_payload"
)

// Roles are the proof's roles, for rootlesskit.Dispatch: main() and every TestMain that
// re-executes the binary pass them, so that the re-executed binary plays its role instead of
// running the CLI or the tests.
func Roles() []rootlesskit.Role {
	return []rootlesskit.Role{
		{Env: envPipe, Main: func([]string) int { return rkChildMain() }},
		{Arg: argParent, Main: parentMain},
		{Arg: argPayload, Main: payloadMain},
		{Arg: argEnginePayload, Main: enginePayloadMain},
	}
}

// parentArgs is the argv of the parent role. rootlesskit re-executes /proc/self/exe with the
// parent's own os.Args[1:] (not configurable), so the rk child learns the state
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

// rkChildMain is rootlesskit's child: it waits for the maps, gains its capabilities by
// re-executing itself, configures the network inside and runs the payload.
func rkChildMain() int {
	rootlesskit.SetupLogrus("child")
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
		NetworkDriver: rootlesskit.ChildNetDriver(net),
	}
	if net != rootlesskit.NetHost && net != "" {
		opt.PortDriver = builtin.NewChildDriver(rootlesskit.LogWriter("port/builtin"))
	}
	err = child.Child(opt)
	if err == nil {
		return 0
	}
	if code, ok := rootlesskit.ExitStatus(err); ok {
		// The payload itself exited badly; its exit status is the child's.
		return code
	}
	logrus.WithError(err).Error("rootlesskit child failed")
	if outer != "" {
		_ = writeJSON(filepath.Join(outer, childFile(run)), describe(phaseChild, err))
	}
	return 1
}
