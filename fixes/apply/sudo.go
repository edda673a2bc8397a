package apply

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/distro"
	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/fixes"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// HelperCommand is the hidden subcommand of rootless-doctor that `fix --apply` starts through
// sudo for an ordinary account: `sudo rootless-doctor __apply-helper`.
//
// The helper applies one plan and nothing else (docs/security.md, "The sudo helper"). It reads
// one Order from its standard input: the account the plan is for, the requests the plan was
// built from and the digest of the plan the account was shown. As root it checks the account
// against the one that ran sudo, checks every request against what a probe may ask for
// (fixes.CheckSudo), builds the plan again from the host it reads itself, and compares digests.
// Only then does it apply that plan, streaming the applier's lines back, and ends with the
// outcome. There is no request to run a command, write, read or remove a file: a caller that
// can start the helper through sudo gets exactly the changes the doctor would print for it.
// (Until issue 10 the helper served run/read/write requests for any command and path.)
const HelperCommand = "__apply-helper"

// maxOrder caps the order the helper reads: a plan's requests take a few kilobytes.
const maxOrder = 1 << 20

// Order is what `fix --apply` sends the helper.
type Order struct {
	// User is the account the plan was built for.
	User string `json:"user"`
	// Requests are what the plan was built from (fixes.RequestsFrom of the probe results).
	Requests []Request `json:"requests"`
	// Digest is fixes.Digest of the plan the account was shown and confirmed.
	Digest string `json:"digest"`
}

// Request is a fixes.Request on the wire.
type Request struct {
	Probe  string         `json:"probe"`
	Intent finding.Intent `json:"intent"`
}

// NewOrder is the order for plan p, built for user from reqs.
func NewOrder(user string, reqs []fixes.Request, p fixes.Plan) Order {
	o := Order{User: user, Digest: fixes.Digest(p)}
	for _, r := range reqs {
		o.Requests = append(o.Requests, Request{Probe: r.ProbeID, Intent: r.Intent})
	}
	return o
}

func (o Order) requests() []fixes.Request {
	out := make([]fixes.Request, len(o.Requests))
	for i, r := range o.Requests {
		out[i] = fixes.Request{ProbeID: r.Probe, Intent: r.Intent}
	}
	return out
}

// reply is one line the helper writes: a line of the applier's log, the refusal, or the
// outcome (last).
type reply struct {
	Log     string        `json:"log,omitempty"`
	Refused string        `json:"refused,omitempty"`
	Outcome []stepOutcome `json:"outcome,omitempty"`
}

type stepOutcome struct {
	ID      string   `json:"id"`
	State   string   `json:"state"`
	Changed []string `json:"changed,omitempty"`
	Backups []string `json:"backups,omitempty"`
	Err     string   `json:"err,omitempty"`
}

// Helper is the root side: what `__apply-helper` runs.
type Helper struct {
	// Root applies the plan.
	Root *Root
	// Host is the machine the plan is built again from (the live host).
	Host host.Host
	// Caller is the account that started the helper through sudo; "" when root did, which
	// may apply a plan for any account (as `fix --apply --user` as root does).
	Caller string
}

// Caller is the account that started this process through sudo: SUDO_UID, which sudo sets
// itself (sudo(8), "Environment": the caller cannot choose it), looked up by uid. Without
// SUDO_UID the caller is the real uid; "" means root. The helper is meant to be started by
// sudo only: a setuid wrapper or another tool that keeps the real uid 0 and sets no SUDO_UID
// makes every caller root.
func Caller() (string, error) {
	v, ok := os.LookupEnv("SUDO_UID")
	if !ok {
		v = strconv.Itoa(os.Getuid())
	}
	if v == "0" {
		return "", nil
	}
	if _, err := strconv.ParseUint(v, 10, 32); err != nil {
		return "", fmt.Errorf("SUDO_UID %q is not a uid", v)
	}
	u, err := user.LookupId(v)
	if err != nil {
		return "", fmt.Errorf("the account that ran sudo (uid %s): %w", v, err)
	}
	return u.Username, nil
}

// Verify checks an order and returns the plan the helper will apply: the one it builds itself,
// when its digest is the one the account was shown. Every refusal wraps fixes.ErrRefused.
func (h *Helper) Verify(o Order) (fixes.Plan, error) {
	if h.Caller != "" && o.User != h.Caller {
		return fixes.Plan{}, fmt.Errorf("%w: the plan is for %q, but %s ran sudo: an account may apply only a plan for itself", fixes.ErrRefused, o.User, h.Caller)
	}
	reqs := o.requests()
	if err := fixes.CheckSudo(reqs, o.User, h.Host); err != nil {
		return fixes.Plan{}, err
	}
	plan, err := fixes.Build(fixes.Input{Requests: reqs, Env: &facts.Env{Distro: distro.Detect(h.Host), Host: h.Host}})
	if err != nil {
		return fixes.Plan{}, fmt.Errorf("%w: %w", fixes.ErrRefused, err)
	}
	if d := fixes.Digest(plan); d != o.Digest {
		return fixes.Plan{}, fmt.Errorf("%w: the plan root builds from this host now (%s) is not the plan you were shown (%s): the host changed since, or the plan was not made by rootless-doctor fix for this host; run fix --apply again",
			fixes.ErrRefused, d, o.Digest)
	}
	return plan, nil
}

// Serve reads one order from r, verifies it and applies its plan, writing the applier's log,
// then the outcome (or the refusal) to w, one JSON object a line. The error says why nothing
// was applied (the refusal also went to w).
func (h *Helper) Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	enc := json.NewEncoder(w)
	dec := json.NewDecoder(io.LimitReader(r, maxOrder))
	dec.DisallowUnknownFields()
	var o Order
	err := dec.Decode(&o)
	if err != nil {
		err = fmt.Errorf("%w: reading the order: %w", fixes.ErrRefused, err)
	} else if dec.More() {
		err = fmt.Errorf("%w: one order per helper", fixes.ErrRefused)
	}
	var plan fixes.Plan
	if err == nil {
		plan, err = h.Verify(o)
	}
	if err != nil {
		_ = enc.Encode(reply{Refused: err.Error()})
		return err
	}
	a := &Applier{Sys: h.Root, Log: logLines{enc}, Hook: h.Root.Hook}
	return enc.Encode(outcomeReply(a.Apply(ctx, plan)))
}

// outcomeReply is the last reply of a helper: each step's outcome.
func outcomeReply(out Outcome) reply {
	var rep reply
	for _, so := range out.Steps {
		s := stepOutcome{ID: so.Step.ID, State: so.State, Changed: so.Changed, Backups: so.Backups}
		if so.Err != nil {
			s.Err = so.Err.Error()
		}
		rep.Outcome = append(rep.Outcome, s)
	}
	return rep
}

// logLines sends what the applier writes as log replies.
type logLines struct{ enc *json.Encoder }

func (l logLines) Write(b []byte) (int, error) {
	if err := l.enc.Encode(reply{Log: string(b)}); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Sudo starts the helper through sudo and has it apply one plan.
type Sudo struct {
	// Argv starts the helper, e.g. {"sudo", "--", "/usr/bin/rootless-doctor", HelperCommand}.
	Argv []string
	// Stderr receives sudo's password prompt and the helper's own errors (the CLI passes its
	// stderr stream; nil discards them).
	Stderr io.Writer
}

// NewSudo returns a Sudo that runs this executable's helper through sudo, its prompt and
// errors going to stderr.
func NewSudo(stderr io.Writer) (*Sudo, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &Sudo{Argv: []string{"sudo", "--", self, HelperCommand}, Stderr: stderr}, nil
}

// Apply has the helper apply plan p, sent as order o (NewOrder), copying the applier's log to
// log. A refusal wraps fixes.ErrRefused: nothing was changed then.
func (s *Sudo) Apply(ctx context.Context, o Order, p fixes.Plan, log io.Writer) (Outcome, error) {
	proc, err := host.StartPiped(ctx, s.Argv, func(cmd *exec.Cmd) { cmd.Stderr = s.Stderr })
	if err != nil {
		return Outcome{}, fmt.Errorf("starting %v: %w", s.Argv, err)
	}
	outcome, err := exchange(proc.Stdin, proc.Stdout, o, p, log)
	if werr := proc.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("the sudo helper: %w", werr)
	}
	return outcome, err
}

// exchange sends o on in and reads the helper's replies from out.
func exchange(in io.WriteCloser, out io.Reader, o Order, p fixes.Plan, log io.Writer) (Outcome, error) {
	b, err := json.Marshal(o)
	if err != nil {
		in.Close()
		return Outcome{}, err
	}
	_, werr := in.Write(append(b, '\n'))
	in.Close()
	return readReplies(out, werr, p, log)
}

// readReplies reads a helper's replies (log lines, then the refusal or the outcome) from out.
func readReplies(out io.Reader, werr error, p fixes.Plan, log io.Writer) (Outcome, error) {
	dec := json.NewDecoder(bufio.NewReader(out))
	for {
		var r reply
		if err := dec.Decode(&r); err != nil {
			if werr != nil {
				err = werr
			}
			_, _ = io.Copy(io.Discard, out)
			return Outcome{}, fmt.Errorf("the sudo helper stopped (was the password refused?): %w", err)
		}
		switch {
		case r.Log != "":
			_, _ = io.WriteString(log, r.Log)
		case r.Refused != "":
			_, _ = io.Copy(io.Discard, out)
			return Outcome{}, refusal(r.Refused)
		default:
			return outcomeOf(r.Outcome, p)
		}
	}
}

// refusal is the helper's refusal, as it worded it, on the client side.
type refusal string

func (r refusal) Error() string { return string(r) }
func (refusal) Unwrap() error   { return fixes.ErrRefused }

// outcomeOf maps the helper's outcome onto the steps of p (the same plan: the digests matched).
func outcomeOf(steps []stepOutcome, p fixes.Plan) (Outcome, error) {
	if len(steps) != len(p.Steps) {
		return Outcome{}, fmt.Errorf("the sudo helper reported %d steps for a plan of %d", len(steps), len(p.Steps))
	}
	var out Outcome
	for i, s := range steps {
		if s.ID != p.Steps[i].ID {
			return Outcome{}, fmt.Errorf("the sudo helper reported step %q where the plan has %q", s.ID, p.Steps[i].ID)
		}
		so := StepOutcome{Step: p.Steps[i], State: s.State, Changed: s.Changed, Backups: s.Backups}
		if s.Err != "" {
			so.Err = errors.New(s.Err)
		}
		out.Steps = append(out.Steps, so)
	}
	return out, nil
}
