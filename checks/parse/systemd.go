package parse

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/rootless-doctor/rootless-doctor/finding"
)

// ConfOption is one assignment of a systemd-style configuration file (a unit, a drop-in,
// logind.conf, also the INI of /etc/wsl.conf).
type ConfOption struct {
	Section, Name, Value string
}

// ParseConf reads the assignments of a systemd-style file with go-systemd's unit parser, in
// file order. systemd itself logs a bad line and goes on; go-systemd stops at it (a line with
// no '=', a line longer than 2048 bytes). The options read before the bad line are returned
// together with the error, so a caller can still use them and report the problem.
func ParseConf(data []byte) ([]ConfOption, error) {
	opts, err := unit.DeserializeOptions(bytes.NewReader(data))
	out := make([]ConfOption, 0, len(opts))
	for _, o := range opts {
		if o == nil {
			continue
		}
		out = append(out, ConfOption{Section: o.Section, Name: o.Name, Value: o.Value})
	}
	if err != nil {
		return out, fmt.Errorf("parsing configuration: %w", err)
	}
	return out, nil
}

// ConfValues returns the values assigned to name in section, in file order.
func ConfValues(opts []ConfOption, section, name string) []string {
	var out []string
	for _, o := range opts {
		if o.Section == section && o.Name == name {
			out = append(out, o.Value)
		}
	}
	return out
}

// ParseSystemdBool parses a boolean the way systemd's parse_boolean() does.
func ParseSystemdBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", finding.Clip(s, maxText))
}

// LogindKill is what logind.conf says about killing a user's processes at logout
// (logind.conf(5): KillUserProcesses=, KillOnlyUsers=, KillExcludeUsers=).
type LogindKill struct {
	// KillUserProcesses is nil while no file sets it: the compiled-in default applies then.
	// That default is chosen when systemd is built (meson option default-kill-user-processes;
	// systemd 230 turned it on upstream, and distributions commonly build with "no" because
	// it kills screen and tmux at logout), so only an explicit setting is trusted.
	KillUserProcesses *bool
	// Source is the file of the assignment that set KillUserProcesses.
	Source string
	// KillOnlyUsers and KillExcludeUsers are the lists after all assignments; ExcludeUsers
	// starts as ["root"], as logind's manager_reset_config() sets it.
	KillOnlyUsers, KillExcludeUsers []string
	excludeTouched                  bool
	// Problems lists lines that were ignored (bad booleans, unparsable files).
	Problems []string
}

// Apply applies the [Login] assignments of one file over s, in the order logind reads them:
// the main logind.conf first, then the drop-ins sorted by file name. Later assignments win;
// an empty list assignment empties the list.
func (s *LogindKill) Apply(source string, data []byte) {
	opts, err := ParseConf(data)
	if err != nil {
		s.Problems = append(s.Problems, fmt.Sprintf("%s: %v", source, err))
	}
	for _, o := range opts {
		if o.Section != "Login" {
			continue
		}
		switch o.Name {
		case "KillUserProcesses":
			b, err := ParseSystemdBool(o.Value)
			if err != nil {
				s.Problems = append(s.Problems, fmt.Sprintf("%s: KillUserProcesses=%s is ignored: %v", source, finding.Clip(o.Value, maxText), err))
				continue
			}
			s.KillUserProcesses, s.Source = &b, source
		case "KillOnlyUsers":
			s.KillOnlyUsers = applyList(s.KillOnlyUsers, o.Value)
		case "KillExcludeUsers":
			if !s.excludeTouched {
				s.excludeTouched = true
				s.KillExcludeUsers = []string{"root"}
			}
			s.KillExcludeUsers = applyList(s.KillExcludeUsers, o.Value)
		}
	}
}

// applyList is systemd's config_parse_strv: an empty value resets, words are appended.
func applyList(list []string, value string) []string {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	for _, w := range strings.Fields(value) {
		list = append(list, strings.Trim(w, `"'`))
	}
	return list
}

// Kills reports whether logind kills the processes of user's sessions at logout, with the
// logic of logind's manager_shall_kill(): excluded users never, then KillOnlyUsers if set,
// then KillUserProcesses. An unset KillUserProcesses counts as "no" (see the field).
func (s LogindKill) Kills(user string) bool {
	exclude := s.KillExcludeUsers
	if !s.excludeTouched {
		exclude = []string{"root"}
	}
	if slices.Contains(exclude, user) {
		return false
	}
	if len(s.KillOnlyUsers) > 0 {
		return slices.Contains(s.KillOnlyUsers, user)
	}
	return s.KillUserProcesses != nil && *s.KillUserProcesses
}

// Delegation is a unit's Delegate= setting after all its assignments
// (systemd.resource-control(5)).
type Delegation struct {
	// Set is true once any assignment was read.
	Set bool
	// On is whether delegation is turned on at all.
	On bool
	// All is Delegate=yes: every controller the kernel offers.
	All bool
	// Controllers are the names delegated by list assignments, in first-seen order.
	Controllers []string
}

// Apply applies one Delegate= value with systemd's config_parse_delegate(): an empty value
// turns delegation on with no controllers; a boolean turns it on for all controllers or off;
// a list adds controllers.
func (d *Delegation) Apply(value string) {
	d.Set = true
	value = strings.TrimSpace(value)
	if value == "" {
		d.On, d.All, d.Controllers = true, false, nil
		return
	}
	if b, err := ParseSystemdBool(value); err == nil {
		d.On, d.All, d.Controllers = b, b, nil
		return
	}
	d.On = true
	for _, w := range strings.Fields(value) {
		// systemd warns about and ignores unknown names; keep only names that could be one.
		if validController(w) && !slices.Contains(d.Controllers, w) {
			d.Controllers = append(d.Controllers, w)
		}
	}
}

// Has reports whether controller c is delegated.
func (d Delegation) Has(c string) bool {
	return d.On && (d.All || slices.Contains(d.Controllers, c))
}

// String is the setting as a Delegate= value would state it.
func (d Delegation) String() string {
	switch {
	case !d.Set:
		return "(not set)"
	case !d.On:
		return "no"
	case d.All:
		return "yes"
	case len(d.Controllers) == 0:
		return "(no controllers)"
	}
	return strings.Join(d.Controllers, " ")
}

// NoNewPrivs is what the [Service] settings of a unit (its file and drop-ins, applied in order)
// say about the no_new_privs bit of the processes it starts. NoNewPrivileges=yes sets it; for a
// process the manager starts without CAP_SYS_ADMIN — every unit of a user manager — systemd
// also sets it for each setting that installs a seccomp filter (src/core/exec-invoke.c,
// context_has_no_new_privileges; systemd.exec(5), NoNewPrivileges=).
type NoNewPrivs struct {
	// Explicit is the last NoNewPrivileges= value, nil when none (or it was not a boolean).
	Explicit *bool
	// implied holds the settings that imply it, by name, with their value.
	implied map[string]string
}

// nnpBooleans are the boolean settings that imply no_new_privs in a user manager when true;
// nnpLists those that imply it when they hold anything (an empty assignment resets them).
var (
	nnpBooleans = []string{"MemoryDenyWriteExecute", "RestrictRealtime", "RestrictSUIDSGID",
		"ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectClock",
		"PrivateDevices", "LockPersonality"}
	nnpLists = []string{"RestrictAddressFamilies", "SystemCallFilter", "SystemCallArchitectures"}
)

// Apply takes the [Service] assignments of one file of the unit, in order.
func (n *NoNewPrivs) Apply(opts []ConfOption) {
	if n.implied == nil {
		n.implied = map[string]string{}
	}
	for _, o := range opts {
		if o.Section != "Service" {
			continue
		}
		v := strings.TrimSpace(o.Value)
		switch {
		case o.Name == "NoNewPrivileges":
			if b, err := ParseSystemdBool(v); err == nil {
				n.Explicit = &b
			} else if v == "" {
				n.Explicit = nil
			}
		case slices.Contains(nnpBooleans, o.Name):
			if b, err := ParseSystemdBool(v); err == nil && b {
				n.implied[o.Name] = v
			} else if err == nil || v == "" {
				delete(n.implied, o.Name)
			}
		case slices.Contains(nnpLists, o.Name):
			if v == "" {
				delete(n.implied, o.Name)
			} else {
				n.implied[o.Name] = v
			}
		case o.Name == "RestrictNamespaces", o.Name == "ProtectHostname":
			// A boolean, or (RestrictNamespaces) a list of namespace types, or (ProtectHostname,
			// systemd 258) "private": anything but false installs a filter.
			if b, err := ParseSystemdBool(v); (err == nil && !b) || v == "" {
				delete(n.implied, o.Name)
			} else {
				n.implied[o.Name] = v
			}
		}
	}
}

// Set reports whether the unit's processes run with no_new_privs.
func (n NoNewPrivs) Set() bool {
	if n.Explicit != nil && *n.Explicit {
		return true
	}
	return len(n.implied) > 0
}

// Causes are the settings that set it, "Name=value", NoNewPrivileges= first, the others
// sorted by name.
func (n NoNewPrivs) Causes() []string {
	var out []string
	if n.Explicit != nil && *n.Explicit {
		out = append(out, "NoNewPrivileges=yes")
	}
	var names []string
	for k := range n.implied {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		out = append(out, k+"="+finding.Clip(n.implied[k], 60))
	}
	return out
}
