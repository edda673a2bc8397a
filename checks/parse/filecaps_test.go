package parse

import (
	"testing"

	"kernel.org/pub/linux/libs/security/libcap/cap"
)

func TestParseFileCaps(t *testing.T) {
	tests := []struct {
		in         string
		e, p, err  bool
		rootID     int
		gidE, gidP bool
	}{
		{in: ""},
		{in: "cap_setuid=ep", e: true, p: true},
		{in: "cap_setuid+ep", e: true, p: true},
		{in: "cap_setuid=p", p: true},
		{in: "cap_setuid+i"},
		{in: "cap_setgid,cap_setuid=ep", e: true, p: true, gidE: true, gidP: true},
		{in: "= cap_setuid+ep", e: true, p: true},
		{in: "cap_setuid=ep cap_setgid=ep", gidE: true, gidP: true}, // a second "=" resets
		{in: "cap_setuid=ep cap_setuid-e", p: true},
		{in: "/usr/bin/newuidmap cap_setuid=ep", e: true, p: true},
		{in: "/usr/bin/newuidmap = cap_setuid+ep", e: true, p: true},
		{in: "cap_setuid=ep [rootid=1001]", e: true, p: true, rootID: 1001},
		{in: "cap_setuid=ep [rootid=x]", err: true},
		{in: "cap_nosuch=ep", err: true},
		{in: "cap_setuid", err: true},
		{in: "all=ep", e: true, p: true, gidE: true, gidP: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			fc, err := ParseFileCaps(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			e, p := fc.Flags(cap.SETUID)
			ge, gp := fc.Flags(cap.SETGID)
			if e != tt.e || p != tt.p || ge != tt.gidE || gp != tt.gidP || fc.RootID != tt.rootID {
				t.Errorf("setuid e=%v p=%v setgid e=%v p=%v rootid=%d", e, p, ge, gp, fc.RootID)
			}
		})
	}
}

func FuzzParseFileCaps(f *testing.F) {
	for _, s := range []string{"cap_setuid=ep", "= cap_setgid+ep [rootid=5]", "/x cap_setuid+e-p", "all=", "=p all+ei"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fc, err := ParseFileCaps(in)
		if err != nil {
			if fc.String() != "" {
				t.Fatal("an error came with capabilities")
			}
			return
		}
		if fc.RootID < 0 {
			t.Fatalf("negative rootid %d", fc.RootID)
		}
		// The canonical text reads back to the same flags.
		again, err := ParseFileCaps(fc.String())
		if err != nil {
			t.Fatalf("re-parsing %q (from %q): %v", fc.String(), in, err)
		}
		for _, v := range []cap.Value{cap.SETUID, cap.SETGID} {
			e1, p1 := fc.Flags(v)
			e2, p2 := again.Flags(v)
			if e1 != e2 || p1 != p2 || again.RootID != fc.RootID {
				t.Fatalf("%q → %q changed %v", in, fc.String(), v)
			}
		}
	})
}
