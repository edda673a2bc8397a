package finding

import "testing"

// TestEngineOnlyFolded: an engine is waived with the probes it folds in only when every
// reason is a waived probe's; a reason of its own, or one probe not waived, keeps it failing.
func TestEngineOnlyFolded(t *testing.T) {
	waived := func(id string) bool { return id == "userns.apparmor" || id == "net.tun" }
	for _, tt := range []struct {
		e    *Engine
		want bool
	}{
		{nil, false},
		{&Engine{Ready: true}, false},
		{&Engine{FoldedFails: []string{"userns.apparmor"}}, true},
		{&Engine{FoldedFails: []string{"userns.apparmor", "net.tun"}}, true},
		{&Engine{FoldedFails: []string{"userns.apparmor", "idmap.subuid"}}, false},
		{&Engine{FoldedFails: []string{"userns.apparmor"}, OwnFails: 1}, false},
		{&Engine{OwnFails: 1}, false},
	} {
		if got := tt.e.OnlyFolded(waived); got != tt.want {
			t.Errorf("%+v: %t, want %t", tt.e, got, tt.want)
		}
	}
}
