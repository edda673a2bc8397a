package vm

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

// engineScript is guest/engine.sh, copied into every guest at run time.
//
//go:embed guest/engine.sh
var engineScript []byte

// EngineScriptPath is where the harness puts engine.sh in the guest.
const EngineScriptPath = "/usr/local/lib/vmlab/engine.sh"

// What the limits run asks for (engine.sh's payload): --memory 64m --pids-limit 50, and up to
// forkTries sleepers started in the container.
const (
	limitMemory = "67108864"
	limitPids   = "50"
	forkTries   = 80
)

// Engine is what one real engine did, as engine.sh reported it.
type Engine struct {
	Name string
	// Ran is false when the engine was not tried in this step.
	Ran bool
	// Started: the engine ran a container.
	Started bool
	// Works: the engine ran a container, which could chown a file to 1000:1000 (as images
	// with files of other owners need).
	Works bool
	// Limits: the container's cgroup held --memory and --pids-limit and the kernel stopped forks.
	Limits bool
	// LimitsRefused: the engine refused the container with limits (want "plain": the engine
	// then ran one without, which Started and Works describe), as rootless Podman does on
	// cgroup v1.
	LimitsRefused bool
	// Forks is how many sleepers the container could start (forkTries when nothing stopped it).
	Forks int
	// Cpuset: --cpuset-cpus 1 was applied (cpuset.cpus.effective read "1").
	Cpuset bool
	// Port: a published 127.0.0.1 port answered.
	Port bool
	// KV is every key engine.sh printed for this engine.
	KV map[string]string
}

// ParseEngine reads engine.sh's ENGINE.KEY=VALUE lines for engine.
func ParseEngine(name, out string) Engine {
	e := Engine{Name: name, Ran: true, KV: map[string]string{}}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || !strings.HasPrefix(k, name+".") {
			continue
		}
		e.KV[strings.TrimPrefix(k, name+".")] = v
	}
	e.Started = e.KV["run"] == "0"
	e.Works = e.Started && e.KV["chown"] == "ok"
	e.Forks, _ = strconv.Atoi(e.KV["forks"])
	e.Limits = e.Started && e.KV["memory"] == limitMemory && e.KV["pids"] == limitPids && e.Forks > 0 && e.Forks < forkTries
	e.LimitsRefused = e.KV["limits_run"] != "" && e.KV["limits_run"] != "0"
	e.Cpuset = e.KV["cpuset_run"] == "0" && e.KV["cpuset"] == "1"
	e.Port = e.KV["port"] == "yes"
	return e
}

// String is the engine's result for the matrix: "docker ok, limits applied", "docker failed
// (up=no)".
func (e Engine) String() string {
	if !e.Ran {
		return e.Name + " not run"
	}
	if !e.Works {
		why := ""
		for _, k := range []string{"image", "install", "start", "up", "run", "chown"} {
			if v, ok := e.KV[k]; ok && v != "0" && v != "yes" && v != "ok" {
				why = k + "=" + v
				break
			}
		}
		return fmt.Sprintf("%s FAILED (%s)", e.Name, why)
	}
	var parts []string
	if e.LimitsRefused {
		parts = append(parts, "limits REFUSED (exit "+e.KV["limits_run"]+")")
	} else if _, ok := e.KV["memory"]; ok {
		if e.Limits {
			parts = append(parts, "limits applied")
		} else {
			parts = append(parts, fmt.Sprintf("limits NOT applied (memory.max %s, pids.max %s, %d forks)", e.KV["memory"], e.KV["pids"], e.Forks))
		}
	}
	if _, ok := e.KV["cpuset_run"]; ok {
		if e.Cpuset {
			parts = append(parts, "cpuset applied")
		} else {
			parts = append(parts, "cpuset NOT applied")
		}
	}
	if _, ok := e.KV["port"]; ok {
		if e.Port {
			parts = append(parts, "-p answers")
		} else {
			parts = append(parts, "-p does NOT answer")
		}
	}
	if len(parts) == 0 {
		return e.Name + " ok"
	}
	return e.Name + " ok: " + strings.Join(parts, ", ")
}
