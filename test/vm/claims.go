package vm

import (
	"fmt"
	"slices"
	"strings"
)

// The claims: each builds one Row comparing what the doctor said with what the engines did.
// Guest and Scenario are filled in by the Recorder. A claim with nothing to compare (no engine
// got far enough) returns ok=false and is not recorded.

// ReadyClaim: the doctor finds nothing failing for an engine ⇔ that engine runs a container.
func ReadyClaim(step string, d Doctor, es ...Engine) Row {
	r := Row{Step: step, Claim: "ready", Doctor: d.Verdict(), Agree: true}
	var did []string
	for _, e := range es {
		if !e.Ran {
			continue
		}
		did = append(did, e.Short())
		if d.ReadyFor(e.Name) != e.Works {
			r.Agree = false
		}
	}
	r.Engine = strings.Join(did, "; ")
	return r
}

// GreenClaim: after a fix, the doctor passes every target probe and fails nothing ⇔ the engines
// work.
func GreenClaim(step string, d Doctor, targets []string, es ...Engine) Row {
	green := d.OK
	var st []string
	for _, id := range targets {
		st = append(st, id+" "+d.Status(id))
		if d.Status(id) != "pass" {
			green = false
		}
	}
	verdict := "green: " + strings.Join(st, ", ")
	if !green {
		verdict = "NOT green: " + strings.Join(st, ", ")
		if f := d.Failed(); len(f) > 0 {
			verdict += "; fails " + strings.Join(f, ", ")
		}
	}
	r := Row{Step: step, Claim: "green", Doctor: verdict, Agree: true}
	var did []string
	for _, e := range es {
		if !e.Ran {
			continue
		}
		did = append(did, e.Short())
		if green != e.Works {
			r.Agree = false
		}
	}
	r.Engine = strings.Join(did, "; ")
	return r
}

// FlagsClaim: the doctor flags (warn or fail) each probe the staged problem should trip. The
// engine column says what was staged; there is nothing to run.
func FlagsClaim(step string, d Doctor, targets []string, staged string) Row {
	r := Row{Step: step, Claim: "flags it", Engine: staged, Agree: true}
	var st []string
	for _, id := range targets {
		s := d.Status(id)
		st = append(st, id+" "+s)
		if s != "warn" && s != "fail" {
			r.Agree = false
		}
	}
	r.Doctor = strings.Join(st, ", ")
	return r
}

// LimitsClaim: runtime.cgroup proved a limit enforced ⇔ the engine's container had --memory and
// --pids-limit applied (and the kernel stopped its forks). On cgroup v1 the doctor says limits
// are ignored, and they must not be applied. A proof that skipped on cgroup v2 decides nothing,
// which is a disagreement whatever the engine did.
func LimitsClaim(step string, d Doctor, es ...Engine) (Row, bool) {
	claim := d.LimitsClaim()
	r := Row{Step: step, Claim: "limits", Agree: true,
		Doctor: fmt.Sprintf("%s (%s)", claim, d.Describe("runtime.cgroup"))}
	var did []string
	for _, e := range es {
		if !e.Started || (e.KV["memory"] == "" && !e.LimitsRefused) {
			continue
		}
		switch {
		case e.Limits:
			did = append(did, e.Name+": applied")
		case e.LimitsRefused:
			did = append(did, fmt.Sprintf("%s: container with limits REFUSED (exit %s), without limits it runs", e.Name, e.KV["limits_run"]))
		default:
			did = append(did, fmt.Sprintf("%s: NOT applied (memory.max %s, pids.max %s, %d/%d forks)", e.Name, e.KV["memory"], e.KV["pids"], e.Forks, forkTries))
		}
		switch claim {
		case LimitsEnforced:
			r.Agree = r.Agree && e.Limits
		case LimitsNotEnforced, LimitsIgnored:
			r.Agree = r.Agree && !e.Limits
		default:
			r.Agree = false
		}
	}
	r.Engine = strings.Join(did, "; ")
	return r, len(did) > 0
}

// CpusetClaim: cgroup.delegation found cpuset delegated ⇔ --cpuset-cpus 1 was applied.
func CpusetClaim(step string, d Doctor, es ...Engine) (Row, bool) {
	ctrl, ok := d.Delegated()
	if !ok {
		return Row{}, false
	}
	has := slices.Contains(ctrl, "cpuset")
	r := Row{Step: step, Claim: "cpuset", Agree: true,
		Doctor: fmt.Sprintf("cpuset delegated: %v (%s)", has, d.Describe("cgroup.delegation"))}
	var did []string
	for _, e := range es {
		if !e.Started || e.KV["cpuset_run"] == "" {
			continue
		}
		did = append(did, fmt.Sprintf("%s: cpuset applied: %v (run=%s, cpus %q)", e.Name, e.Cpuset, e.KV["cpuset_run"], e.KV["cpuset"]))
		r.Agree = r.Agree && e.Cpuset == has
	}
	r.Engine = strings.Join(did, "; ")
	return r, len(did) > 0
}

// PortClaim: runtime.port published a port that answered ⇔ the engine's -p port answers.
func PortClaim(step string, d Doctor, es ...Engine) (Row, bool) {
	r := Row{Step: step, Claim: "-p", Agree: true, Doctor: d.Describe("runtime.port")}
	var did []string
	for _, e := range es {
		if !e.Started || e.KV["port"] == "" {
			continue
		}
		did = append(did, fmt.Sprintf("%s: port answers: %v", e.Name, e.Port))
		r.Agree = r.Agree && (d.Status("runtime.port") == "pass") == e.Port
	}
	r.Engine = strings.Join(did, "; ")
	return r, len(did) > 0
}

// StorageClaim: storage.driver names the driver dockerd picks.
func StorageClaim(step string, d Doctor, docker Engine) (Row, bool) {
	if !docker.Started || docker.KV["driver"] == "" {
		return Row{}, false
	}
	return Row{Step: step, Claim: "storage driver", Doctor: d.Describe("storage.driver"),
		Engine: "docker: " + docker.KV["driver"], Agree: d.StorageDriver() == docker.KV["driver"]}, true
}

// Short is the engine's result in a few words.
func (e Engine) Short() string {
	if !e.Ran {
		return e.Name + " not run"
	}
	if e.Works {
		return e.Name + " runs a container"
	}
	return e.String()
}
