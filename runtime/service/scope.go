package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// ErrScope says the user manager did not give a delegated scope.
var ErrScope = errors.New("the user manager did not start a delegated scope")

// StartDelegatedScope asks the user manager for the transient scope name holding pids, with
// Delegate=yes: the manager creates the scope's cgroup, moves pids into it (asking the system
// manager when a pid's group is outside its own subtree, as for a process of a login session)
// and hands the group to the account. It is what `systemd-run --user --scope -p
// Delegate=yes` does, and what rootless engines do for the containers' cgroups
// (https://systemd.io/CGROUP_DELEGATION/). It returns once the start job is done; ctx bounds
// the wait. The scope stops by itself when its last process exits (CollectMode
// inactive-or-failed lets the manager forget it even when it failed).
func StartDelegatedScope(ctx context.Context, c *sd.Conn, name string, pids ...int) error {
	if !strings.HasSuffix(name, ".scope") {
		return fmt.Errorf("%w: %q is not a scope name", ErrScope, name)
	}
	if len(pids) == 0 {
		return fmt.Errorf("%w: %s: no process to hold", ErrScope, name)
	}
	ids := make([]uint32, len(pids))
	for i, p := range pids {
		ids[i] = uint32(p)
	}
	done := make(chan string, 1)
	props := []sd.Property{
		sd.PropDescription("rootless-doctor live proof: a pids limit in a delegated group"),
		sd.PropPids(ids...),
		{Name: "Delegate", Value: dbus.MakeVariant(true)},
		{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")},
	}
	if _, err := c.StartTransientUnitContext(ctx, name, "fail", props, done); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrScope, name, err)
	}
	return waitJob(ctx, done, ErrScope, name)
}

// StopUnit stops the unit name; a unit already gone is not an error.
func StopUnit(ctx context.Context, c *sd.Conn, name string) error {
	if _, err := c.StopUnitContext(ctx, name, "replace", nil); err != nil {
		var de dbus.Error
		if errors.As(err, &de) && strings.HasSuffix(de.Name, "NoSuchUnit") {
			return nil
		}
		return fmt.Errorf("stopping %s: %w", name, err)
	}
	return nil
}
