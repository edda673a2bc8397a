// Package rootlesskit is the one embedding of rootlesskit v3 that the live proof
// (runtime/proof) and the daemon (runtime/daemon) share: the dispatch of the roles this
// binary plays when rootlesskit re-executes it, the network driver factory, the subordinate
// id source, the adapters of rootlesskit's global logrus logger, and — in rktext.go, the only
// place — every piece of rootlesskit's log or error text the proof and the daemon look for,
// each checked against rootlesskit's source by a test so that a version bump that rewords
// one fails the build's tests instead of a user's proof.
//
// rootlesskit's parent.Parent has no context, takes over every signal and uses the global
// logrus logger; its child re-executes /proc/self/exe with the parent's own os.Args[1:] (not
// configurable). So every role is a process of its own, marked by argv (or, for rootlesskit's
// child, by the environment variable rootlesskit sets), and main() must hand the process to
// its role before anything else parses the arguments (docs/architecture.md, "Processes").
package rootlesskit

import (
	"os"
	"strings"

	"github.com/sirupsen/logrus"
)

// Role is one way this binary runs when it is re-executed: when argv[1] is Arg, or (Arg
// empty) when the environment variable Env is set, Main runs with the arguments after
// argv[1] (all of os.Args[1:] for an Env role) and its result is the exit status.
type Role struct {
	Arg  string
	Env  string
	Main func(args []string) int
}

// Dispatch runs the role this process plays, if any, and exits with its status; otherwise it
// returns at once. main() and every TestMain that re-executes the test binary call it first,
// with the roles of the proof and the daemon (proof.Roles, daemon.Roles). Roles marked by the
// environment are looked at first: rootlesskit's child keeps its parent's argv.
func Dispatch(roles ...Role) {
	for _, r := range roles {
		if r.Arg == "" && r.Env != "" && os.Getenv(r.Env) != "" {
			os.Exit(r.Main(os.Args[1:]))
		}
	}
	if len(os.Args) < 2 {
		return
	}
	for _, r := range roles {
		if r.Arg != "" && os.Args[1] == r.Arg {
			os.Exit(r.Main(os.Args[2:]))
		}
	}
}

// SetupLogrus sends rootlesskit's global logger to fd 2 as JSON lines with the role's name
// in a "role" field: the proof's parent role redirects fd 2 into its state dir, and the CLI
// parses the lines into results instead of printing them.
func SetupLogrus(role string) {
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

// LogWriter turns the output of rootlesskit's drivers (slirp4netns, pasta, the port driver)
// into debug log lines labelled with label, like rootlesskit's own logrusDebugWriter.
type LogWriter string

func (w LogWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if l != "" {
			logrus.WithField("driver", string(w)).Debug(l)
		}
	}
	return len(p), nil
}
