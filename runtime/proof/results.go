package proof

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rootless-doctor/rootless-doctor/finding"
	"github.com/rootless-doctor/rootless-doctor/runtime/rootlesskit"
)

// logLine is one line of the captured fd 2: a logrus JSON entry from rootlesskit (parent or
// child), or the raw text of a helper (nsenter, ip, slirp4netns, pasta).
type logLine struct {
	// Run is the start of rootlesskit the line belongs to (the parent role logs runMarker
	// before each).
	Run   int
	Level string
	Text  string
	// Chatter marks rootlesskit's debug lines about its own handshake messages.
	Chatter bool
}

// runMarker is logged by the parent role, with a "run" field, before each start.
const runMarker = "rootless-doctor: starting rootlesskit"

func (l logLine) String() string {
	if l.Level == "" {
		return l.Text
	}
	return l.Level + ": " + l.Text
}

func parseLogs(b []byte) []logLine {
	var out []logLine
	run := 0
	for _, raw := range bytes.Split(b, []byte("\n")) {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		var e map[string]any
		if raw[0] == '{' && json.Unmarshal(raw, &e) == nil {
			if e["msg"] == runMarker {
				if r, ok := e["run"].(float64); ok {
					run = int(r)
				}
				continue
			}
			l := logLine{Run: run, Level: fmt.Sprint(e["level"]), Text: fmt.Sprint(e["msg"])}
			l.Chatter = l.Level == "debug" && slices.ContainsFunc(rootlesskit.Chatter, func(t rootlesskit.Text) bool {
				return t.Prefix(l.Text) || t.Match == "getsubids" && t.In(l.Text)
			})
			if d, ok := e["driver"]; ok {
				l.Text = fmt.Sprintf("%v: %s", d, l.Text)
			}
			if er, ok := e["error"]; ok {
				l.Text += ": " + fmt.Sprint(er)
			}
			out = append(out, l)
			continue
		}
		out = append(out, logLine{Run: run, Text: string(raw)})
	}
	return out
}

// isBenign reports a rootlesskit warning that says nothing about the host for the proof
// (rootlesskit.Benign).
func isBenign(l logLine) bool {
	return slices.ContainsFunc(rootlesskit.Benign, func(t rootlesskit.Text) bool { return t.In(l.Text) })
}

// warnings are the warning and error lines worth showing even when the proof passes.
func warnings(logs []logLine) []string {
	var out []string
	for _, l := range logs {
		if (l.Level == "warning" || l.Level == "error" || l.Level == "fatal") && !isBenign(l) {
			out = append(out, "rootlesskit "+l.String())
		}
	}
	return out
}

// logTail is the end of one run's log, shown under a failed step.
func logTail(logs []logLine, run, n int) []string {
	var keep []string
	for _, l := range logs {
		if l.Run == run && !isBenign(l) && !l.Chatter {
			keep = append(keep, l.String())
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return keep
}

func logTexts(logs []logLine, run int) []string {
	out := make([]string, 0, len(logs))
	for _, l := range logs {
		if l.Run == run {
			out = append(out, l.Text)
		}
	}
	return out
}

// stepOf is the step a failure of rootlesskit belongs to.
func stepOf(w *wireError) string {
	switch w.Phase {
	case phaseStart, phaseUserNS:
		return StepUserNS
	case phaseIDMap:
		return StepIDMap
	case phaseNetwork:
		return StepNetwork
	case phasePort:
		return StepPort
	case phaseChild:
		return childStep(w.Message)
	}
	return ""
}

// childStep places an error of rootlesskit's child (after the maps): its messages are fixed
// strings in pkg/child and the network drivers (rootlesskit.Child*).
func childStep(msg string) string {
	switch {
	case rootlesskit.ChildGainCaps.In(msg):
		return StepIDMap
	case rootlesskit.ChildShareMount.In(msg), rootlesskit.ChildCopyUp.In(msg):
		return StepMount
	case rootlesskit.ChildSysfs.In(msg), rootlesskit.ChildResolvConf.In(msg), rootlesskit.ChildHosts.In(msg),
		rootlesskit.ChildExecuting.In(msg), rootlesskit.ChildTap.In(msg), rootlesskit.ChildSocket.In(msg):
		return StepNetwork
	}
	return StepUserNS
}

func index(id string) int {
	return slices.Index(StepIDs(), id)
}

// assemble turns what the processes left into one result per step, in order.
func assemble(c collected) []finding.Result {
	var f facts
	var run0 runReport
	if c.parent != nil {
		f = c.parent.Facts
		if len(c.parent.Runs) > 0 {
			run0 = c.parent.Runs[0]
		}
	}
	p0, p1 := c.payload[0], c.payload[1]
	logs := logTexts(c.logs, 0)
	// Killed at the time limit before the parent role could write parent.json: its progress
	// events say how far rootlesskit got.
	var hung *wireError
	if c.parent == nil && c.terminal != nil && c.terminal.Phase == phaseTimeout {
		run0, hung = fromProgress(c.progress, c.terminal)
	}

	// The first failure decides which steps were not reached.
	var failure *wireError
	failStep := ""
	if run0.Err != nil {
		failure, failStep = run0.Err, stepOf(run0.Err)
	}
	if failure != nil && failure.Phase == phasePayload {
		failStep = firstMissing(p0)
	}
	if failure == nil && hung != nil {
		failure, failStep = hung, stepOf(hung)
	}
	if failure == nil && c.terminal != nil {
		failure, failStep = c.terminal, firstMissing(p0)
	}
	explainedFail := func(id string) stepReport {
		x := explain(*failure, f, logs)
		s := stepReport{ID: id}.explained(finding.Fail, x, failure.Message)
		if tail := logTail(c.logs, 0, 15); len(tail) > 0 {
			s = s.detail("Last log lines: %s", strings.Join(tail, " | "))
		}
		return s
	}
	notReached := func(id string) stepReport {
		if failStep == "" {
			return stepReport{ID: id, Status: finding.Fail, Summary: "the payload did not report this step"}
		}
		return stepReport{ID: id, Status: finding.Skip, Summary: fmt.Sprintf("not reached: %s failed", failStep)}
	}

	var out []stepReport
	for _, id := range []string{StepUserNS, StepIDMap, StepMount, StepOverlay} {
		var s stepReport
		var rr *runReport
		switch {
		case hasStep(p0, id):
			s, rr = p0[id], &run0
		case hasStep(p1, id):
			s = p1[id].detail("Proven in a second start without a network namespace, because the network failed in the first.")
			if c.parent != nil && len(c.parent.Runs) > 1 {
				rr = &c.parent.Runs[1]
			}
		case failStep == id:
			s = explainedFail(id)
		case id == StepUserNS && failStep != "" && index(failStep) > index(id) && run0.UsernsDur > 0:
			// rootlesskit's child said hello from its new namespaces before a later phase
			// failed: the namespace exists, though the payload never looked from inside.
			s = pass("user namespace created: rootlesskit's child started in new user and mount namespaces (not checked from inside: %s failed before the payload ran)", failStep)
			rr = &run0
		case id == StepIDMap && failStep != "" && index(failStep) > index(id) && run0.IDMapDur > 0:
			// rootlesskit calls the network driver only once the maps are written and the
			// child has gained its capabilities in them.
			s = pass("ids mapped: newuidmap and newgidmap wrote the maps and rootlesskit went on to the network (not checked from inside: %s failed before the payload ran)", failStep)
			rr = &run0
		default:
			s = notReached(id)
		}
		s.ID = id
		if rr != nil {
			switch id {
			case StepUserNS:
				s.Duration += rr.UsernsDur
				if rr.UsernsDur > 0 {
					s = s.with("rootlesskit", fmt.Sprintf("child started in new user and mount namespaces in %s", ms(rr.UsernsDur)))
				}
			case StepIDMap:
				s.Duration += rr.IDMapDur
				if rr.IDMapDur > 0 {
					s = s.with("rootlesskit", fmt.Sprintf("newuidmap/newgidmap and the child's re-exec took %s", ms(rr.IDMapDur)))
				}
				if rr.ChownHost != "" {
					s = s.with("host view of the chowned file", rr.ChownHost+" (1000:1000 inside)")
				}
				s = checkRanges(s)(rr.SubUIDs, "uid")
				s = checkRanges(s)(rr.SubGIDs, "gid")
			}
		}
		out = append(out, s)
	}

	// Network: the payload's inside view, plus the parent's view of the driver.
	var net stepReport
	switch {
	case hasStep(p0, StepNetwork):
		net = p0[StepNetwork]
		net.Duration += run0.NetDur
		// rootlesskit's child configures loopback and the interface (ip) between the
		// driver and the payload: count it here.
		if st, err := time.Parse(time.RFC3339Nano, p0[markStarted].Summary); err == nil && !run0.NetEnd.IsZero() && st.After(run0.NetEnd) {
			d := st.Sub(run0.NetEnd)
			net.Duration += d
			net = net.with("rootlesskit child", fmt.Sprintf("configured the interfaces inside and started the payload in %s", ms(d)))
		}
	case failStep == StepNetwork:
		net = explainedFail(StepNetwork)
	default:
		net = notReached(StepNetwork)
	}
	if c.parent != nil {
		if c.parent.Driver != "" {
			net = net.with("network driver", driverWhy(c.parent))
		}
		for _, n := range c.parent.DriverNotes {
			net = net.detail("Not used: %s.", n)
		}
		for _, st := range run0.Stopped {
			net = net.detail("%s kept running after the namespace was gone and was stopped by rootless-doctor: rootlesskit's pasta driver has no cleanup for it, so an engine started through rootlesskit with this passt leaves one behind per start.", st)
		}
		if ni := run0.NetInfo; ni != nil && ni.IP != "" {
			net = net.with("rootlesskit", fmt.Sprintf("%s %s/%d gw %s mtu %d, set up in %s", ni.Dev, ni.IP, ni.Netmask, ni.Gateway, ni.MTU, ms(run0.NetDur)))
		}
	}
	out = append(out, net)

	// Port: decided by the host side's round trip.
	var prt stepReport
	var pr *portReport
	if c.parent != nil {
		pr = c.parent.Port
	}
	switch {
	case failStep == StepPort:
		prt = explainedFail(StepPort)
	case failStep != "" && index(failStep) < index(StepPort):
		prt = notReached(StepPort)
	case pr != nil && pr.OK:
		prt = pass("a TCP listener inside, published on 127.0.0.1:%d by the builtin port driver, answered a round trip from the host in %s", c.parent.Config.ParentPort, ms(pr.RTT))
		prt = prt.with("port", pr.Spec).with("reply", pr.Reply).with("attempts", fmt.Sprint(pr.Attempts))
		if s, ok := p0[StepPort]; ok {
			prt.Evidence = append(prt.Evidence, s.Evidence...)
			prt.Duration = s.Duration
		}
	case hasStep(p0, StepPort) && c.parent != nil && c.parent.Config.ParentPort != 0:
		prt = fail("the host could not reach the listener inside through 127.0.0.1:%d", c.parent.Config.ParentPort)
		if pr != nil {
			prt = prt.with("port", pr.Spec).with("last error", pr.Err).with("attempts", fmt.Sprint(pr.Attempts))
		}
		prt.Details = append(prt.Details, p0[StepPort].Summary)
	default:
		prt = notReached(StepPort)
	}
	prt.ID = StepPort
	out = append(out, prt)

	// cgroup: the parent role's own step.
	var cg stepReport
	switch {
	case c.parent != nil && c.parent.Cgroup != nil:
		cg = *c.parent.Cgroup
	case c.terminal != nil:
		cg = stepReport{Status: finding.Skip, Summary: "not reached: " + clipMessage(c.terminal.Message)}
	default:
		cg = notReached(StepCgroup)
	}
	cg.ID = StepCgroup
	out = append(out, cg)

	// rootlesskit's warnings go with the first step; a failure of rootlesskit already shows
	// them in its log tail.
	if ws := warnings(c.logs); len(ws) > 0 && failure == nil {
		out[0].Details = append(out[0].Details, ws...)
	}

	results := make([]finding.Result, 0, len(out))
	for _, s := range out {
		results = append(results, finding.Result{
			ID: s.ID, Title: Title(s.ID), Status: s.Status, Summary: s.Summary,
			Details: s.Details, Evidence: s.Evidence, Intents: s.Intents, Duration: s.Duration,
		})
	}
	return results
}

// fromProgress rebuilds what parent.json would have said of run 0 from its progress events,
// and the phase that was still running when the proof was killed (nil: none that the events
// can tell, e.g. the payload itself hung).
func fromProgress(events []progressEvent, terminal *wireError) (runReport, *wireError) {
	var rr runReport
	var sawUserNS, sawNet, sawNetEnd bool
	for _, ev := range events {
		if ev.Run != 0 {
			continue
		}
		switch ev.Event {
		case evUserNS:
			sawUserNS, rr.UsernsDur = true, ev.At
		case evNetStart:
			sawNet, rr.Net = true, ev.Driver
			rr.IDMapDur = ev.At - rr.UsernsDur
			rr.SubUIDs, rr.SubGIDs = ev.SubUIDs, ev.SubGIDs
		case evNetEnd:
			sawNetEnd = true
		}
	}
	hung := &wireError{Message: terminal.Message, Exit: -1, Hung: true}
	switch {
	case sawNet && !sawNetEnd:
		hung.Phase = phaseNetwork
		if rr.Net != "" {
			hung.Message = rr.Net + ": " + terminal.Message
		}
	case sawUserNS && !sawNet:
		hung.Phase = phaseIDMap
	default:
		return rr, nil
	}
	return rr, hung
}

var rangeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{(\d+) (\d+)\}`) })

// checkRanges verifies, for a passing idmap step, that the map seen inside covers every
// subordinate range rootlesskit computed (all but the account's own id, which is mapped to 0).
func checkRanges(s stepReport) func(ranges, kind string) stepReport {
	return func(ranges, kind string) stepReport {
		if ranges == "" || (s.Status != finding.Pass && s.Status != finding.Warn) {
			return s
		}
		s = s.with("rootlesskit sub"+kind+" ranges", ranges)
		lines := strings.Split(evidenceOf(s, "/proc/self/"+kind+"_map"), "; ")
		if len(lines) == 0 {
			return s
		}
		type span struct{ start, n int64 }
		var mapped []span
		var self int64 = -1
		for i, l := range lines {
			var in, out, n int64
			if _, err := fmt.Sscan(l, &in, &out, &n); err != nil {
				return s
			}
			if i == 0 && in == 0 && n == 1 {
				self = out
				continue
			}
			mapped = append(mapped, span{out, n})
		}
		for _, m := range rangeRE().FindAllStringSubmatch(ranges, -1) {
			start, _ := strconv.ParseInt(m[1], 10, 64)
			n, _ := strconv.ParseInt(m[2], 10, 64)
			want := n
			if self >= start && self < start+n {
				want--
			}
			var got int64
			for _, sp := range mapped {
				lo, hi := max(start, sp.start), min(start+n, sp.start+sp.n)
				if hi > lo {
					got += hi - lo
				}
			}
			if got < want {
				s.Status = finding.Fail
				s.Summary = fmt.Sprintf("the %s map inside covers %d of the %d ids of the subordinate range %d-%d", kind, got, want, start, start+n-1)
				return s.detail("newuidmap/newgidmap mapped less than rootlesskit asked for: /etc/sub%s and the nsswitch subid source may disagree (see idmap.sub%s).", kind, kind)
			}
		}
		return s
	}
}

func evidenceOf(s stepReport, source string) string {
	for _, e := range s.Evidence {
		if e.Source == source {
			return e.Value
		}
	}
	return ""
}

func hasStep(m map[string]stepReport, id string) bool {
	_, ok := m[id]
	return ok
}

func firstMissing(m map[string]stepReport) string {
	for _, id := range StepIDs() {
		if id == StepCgroup {
			break
		}
		if !hasStep(m, id) {
			return id
		}
	}
	return StepUserNS
}

func driverWhy(p *parentReport) string {
	if p.Net == rootlesskit.NetAuto || p.Net == "" {
		return p.Driver + " (auto)"
	}
	return p.Driver
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}
