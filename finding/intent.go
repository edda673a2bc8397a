package finding

// Fix intents: what a probe says must change, as data. Probes never build shell text; they
// attach intents to their results, and the planner (package fixes) turns the intents of one run
// into an ordered, deduplicated, distro-aware plan. Keeping intents as plain data is what lets
// one run be deduplicated (two probes asking for slirp4netns give one install line) and
// ordered (packages before sysctls before profiles before relogin).

// Kind is the kind of change an intent asks for. The values are stable: they appear in JSON.
type Kind string

// The kinds. The planner (fixes/kinds.go) knows, for each, where its steps go in a plan,
// what the step's id is and how it is built.
const (
	// Package installs the distro package that provides Tool.
	Package Kind = "package"
	// Module loads a kernel module now and at boot.
	Module Kind = "module"
	// Sysctl sets Key to Value now and at boot.
	Sysctl Kind = "sysctl"
	// CRLF removes the carriage returns of CRLF line ends from Path (/etc/subuid or
	// /etc/subgid), which shadow reads as garbage after the count.
	CRLF Kind = "crlf"
	// SubIDs gives User a free range of Count subordinate ids (Map: "uid", "gid" or "both"),
	// removing the ranges in Remove first, and leaves each range in Keep on one line only.
	// With Keep and no Count it only removes the duplicate lines (DedupeSubIDs).
	SubIDs Kind = "subids"
	// AppArmor writes and loads a profile that grants `userns` to the binary at Path.
	AppArmor Kind = "apparmor"
	// Delegate delegates Controllers to user@.service with a systemd drop-in.
	Delegate Kind = "delegate"
	// Linger enables logind lingering for User.
	Linger Kind = "linger"
	// Device sets the mode of the device node at Path (now and, through udev, at boot).
	Device Kind = "device"
	// UserFile sets Key to Value in the file at Path in the account's home (Format "toml"
	// or "json"): a containers.conf drop-in, a daemon.json key. It is applied as the account,
	// never as root (docs/security.md, "User-scope steps").
	UserFile Kind = "userfile"
	// Relogin asks the user to log out and in again (a new session picks up the change).
	Relogin Kind = "relogin"
	// Manual is a change no script can make safely (move a data root off NFS, upgrade a
	// kernel); Reason says what to do.
	Manual Kind = "manual"
)

// Intent is one change a probe asks for. Which fields matter depends on Kind.
type Intent struct {
	Kind Kind `json:"kind"`
	// Tool is a distro.Tool name ("newuidmap", "slirp4netns", …) for Package.
	Tool string `json:"tool,omitempty"`
	// Name is the module name (Module) or a short name for Manual.
	Name string `json:"name,omitempty"`
	// Key and Value are a sysctl (Sysctl), or a dotted key of a user file and its value
	// (UserFile: a TOML string, or for JSON a JSON literal).
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
	// User is the account (SubIDs, Linger, UserFile).
	User string `json:"user,omitempty"`
	// Map is "uid", "gid" or "both" (SubIDs).
	Map string `json:"map,omitempty"`
	// Count is how many subordinate ids (SubIDs).
	Count int64 `json:"count,omitempty"`
	// Remove lists "START-END" ranges to delete first (SubIDs, for overlapping ranges).
	Remove []string `json:"remove,omitempty"`
	// Keep lists "START-END" ranges the account has on more than one line (SubIDs): the
	// first line stays, the later copies go. Its existing container storage is mapped with
	// that range, so it must stay, exactly once.
	Keep []string `json:"keep,omitempty"`
	// Path is a binary (AppArmor), a device node (Device), a subid file (CRLF) or a file in
	// the account's home (UserFile).
	Path string `json:"path,omitempty"`
	// Mode is an octal mode (Device).
	Mode string `json:"mode,omitempty"`
	// Controllers are cgroup controllers (Delegate).
	Controllers []string `json:"controllers,omitempty"`
	// Format is "toml" or "json" (UserFile): how Key and Value are written into Path.
	Format string `json:"format,omitempty"`
	// Optional marks a step that is shown apart and not applied by default (ping group
	// range, unprivileged port start).
	Optional bool `json:"optional,omitempty"`
	// Reason says why, in one line; the planner puts it in the script's comments.
	Reason string `json:"reason,omitempty"`
}

// InstallTool asks for the package that provides tool (a distro.Tool name).
func InstallTool(tool, reason string) Intent {
	return Intent{Kind: Package, Tool: tool, Reason: reason}
}

// LoadModule asks for a kernel module to be loaded now and at boot.
func LoadModule(name, reason string) Intent {
	return Intent{Kind: Module, Name: name, Reason: reason}
}

// SetSysctl asks for a sysctl to be set now and at boot.
func SetSysctl(key, value, reason string) Intent {
	return Intent{Kind: Sysctl, Key: key, Value: value, Reason: reason}
}

// AddSubIDs asks for count subordinate ids for user; which is "uid", "gid" or "both".
// remove lists ranges ("START-END") that must go first.
func AddSubIDs(user, which string, count int64, remove []string, reason string) Intent {
	return Intent{Kind: SubIDs, User: user, Map: which, Count: count, Remove: remove, Reason: reason}
}

// DedupeSubIDs asks for the duplicate lines of user's ranges keep ("START-END") to be
// removed, the first line of each staying; which is "uid", "gid" or "both". No new range is
// given.
func DedupeSubIDs(user, which string, keep []string, reason string) Intent {
	return Intent{Kind: SubIDs, User: user, Map: which, Keep: keep, Reason: reason}
}

// StripCR asks for the carriage returns of CRLF line ends to be removed from path.
func StripCR(path, reason string) Intent {
	return Intent{Kind: CRLF, Path: path, Reason: reason}
}

// AppArmorProfile asks for a profile granting `userns` to the binary at path.
func AppArmorProfile(path, reason string) Intent {
	return Intent{Kind: AppArmor, Path: path, Reason: reason}
}

// DelegateControllers asks for controllers to be delegated to user@.service.
func DelegateControllers(controllers []string, reason string) Intent {
	return Intent{Kind: Delegate, Controllers: controllers, Reason: reason}
}

// EnableLinger asks for logind lingering for user.
func EnableLinger(user, reason string) Intent {
	return Intent{Kind: Linger, User: user, Reason: reason}
}

// DeviceMode asks for a device node mode.
func DeviceMode(path, mode, reason string) Intent {
	return Intent{Kind: Device, Path: path, Mode: mode, Reason: reason}
}

// SetUserTOML asks for key (dotted: "engine.runtime") = value (a string) in the TOML file at
// path in user's home, written as user.
func SetUserTOML(user, path, key, value, reason string) Intent {
	return Intent{Kind: UserFile, User: user, Path: path, Format: "toml", Key: key, Value: value, Reason: reason}
}

// SetUserJSON asks for key (dotted: "features.containerd-snapshotter") = value (a JSON
// literal: false, "fuse-overlayfs") in the JSON file at path in user's home, written as user.
func SetUserJSON(user, path, key, value, reason string) Intent {
	return Intent{Kind: UserFile, User: user, Path: path, Format: "json", Key: key, Value: value, Reason: reason}
}

// AskRelogin asks the user to log out and in.
func AskRelogin(reason string) Intent {
	return Intent{Kind: Relogin, Reason: reason}
}

// ManualStep names a change only a person can make; reason says what to do.
func ManualStep(name, reason string) Intent {
	return Intent{Kind: Manual, Name: name, Reason: reason}
}

// Optionally marks the intent optional: shown apart, not part of the default plan.
func (i Intent) Optionally() Intent {
	i.Optional = true
	return i
}
