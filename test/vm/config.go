package vm

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Config is a lab run's settings, from the environment (README.md lists the knobs).
type Config struct {
	// Cache holds the images between runs (VMLAB_CACHE, default /var/cache/rootless-doctor-vm).
	Cache string
	// Out receives the matrix, the transcripts and the serial logs (VMLAB_OUT, default out).
	Out string
	// Guests to boot, in order (VMLAB_GUESTS, comma-separated; default all).
	Guests []Guest
	// Scenarios, when set, replace each guest's default list (VMLAB_SCENARIOS).
	Scenarios []string
	// Accel is auto, kvm or tcg (VMLAB_ACCEL).
	Accel string
	// Rebuild rebuilds the images even when cached (VMLAB_REBUILD=1).
	Rebuild bool
	// Mirrors are the archives (VMLAB_MIRROR, VMLAB_SECURITY_MIRROR).
	Mirrors Mirrors
	// BootTimeout bounds the wait for ssh (VMLAB_BOOT_TIMEOUT, a Go duration; default 5m).
	BootTimeout time.Duration
	// Doctor is a prebuilt rootless-doctor binary (VMLAB_DOCTOR); empty builds the repo's.
	Doctor string
	// Budget, when set, is the run's time budget (VMLAB_BUDGET, a Go duration): once it is
	// spent no guest boots and no scenario starts; they are reported NOT RUN and fail the
	// run, which then still ends with its matrix (go test -timeout would end it without one).
	Budget time.Duration
}

// DefaultCache is the image cache when VMLAB_CACHE is unset.
const DefaultCache = "/var/cache/rootless-doctor-vm"

// ConfigFromEnv reads the configuration; getenv is os.Getenv outside tests.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Cache: DefaultCache, Out: "out", Guests: Guests, Accel: getenv("VMLAB_ACCEL"),
		Mirrors: DefaultMirrors, BootTimeout: 5 * time.Minute, Doctor: getenv("VMLAB_DOCTOR"),
		Rebuild: getenv("VMLAB_REBUILD") == "1"}
	if v := getenv("VMLAB_CACHE"); v != "" {
		c.Cache = v
	}
	if v := getenv("VMLAB_OUT"); v != "" {
		c.Out = v
	}
	if v := getenv("VMLAB_MIRROR"); v != "" {
		c.Mirrors.Debian = v
	}
	if v := getenv("VMLAB_SECURITY_MIRROR"); v != "" {
		c.Mirrors.Security = v
	}
	if v := getenv("VMLAB_BOOT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("VMLAB_BOOT_TIMEOUT=%q: want a positive duration such as 5m", v)
		}
		c.BootTimeout = d
	}
	if v := getenv("VMLAB_BUDGET"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("VMLAB_BUDGET=%q: want a positive duration such as 70m", v)
		}
		c.Budget = d
	}
	if v := getenv("VMLAB_GUESTS"); v != "" {
		c.Guests = nil
		for _, name := range splitList(v) {
			g, err := GuestByName(name)
			if err != nil {
				return Config{}, fmt.Errorf("VMLAB_GUESTS: %w", err)
			}
			c.Guests = append(c.Guests, g)
		}
	}
	if v := getenv("VMLAB_SCENARIOS"); v != "" {
		names := splitList(v)
		for _, n := range names {
			if _, err := ScenarioByName(n); err != nil {
				return Config{}, fmt.Errorf("VMLAB_SCENARIOS: %w", err)
			}
		}
		c.Scenarios = Order(names)
	}
	if _, err := Accel(c.Accel); err != nil {
		return Config{}, fmt.Errorf("VMLAB_ACCEL: %w", err)
	}
	return c, nil
}

// ScenariosFor returns the scenarios to run on g, in order.
func (c Config) ScenariosFor(g Guest) []string {
	if len(c.Scenarios) > 0 {
		return c.Scenarios
	}
	return Order(g.Scenarios)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
