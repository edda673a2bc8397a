package parse

import "testing"

func TestParseModuleBool(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"Y\n", true, false},
		{"N\n", false, false},
		{"y", true, false},
		{"n", false, false},
		{"1\n", true, false},
		{"0", false, false},
		{"  Y  ", true, false},
		{"", false, true},
		{"yes", false, true},
		{"\x00\xff", false, true},
		{"256\n", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseModuleBool([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseModuleBool(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseModuleBool(f *testing.F) {
	for _, s := range []string{"Y\n", "N\n", "1", "0", "", "maybe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseModuleBool(data)
		if err != nil {
			if v {
				t.Fatal("true with an error")
			}
			return
		}
		// What the kernel would print for the value parses back to it.
		out := "N\n"
		if v {
			out = "Y\n"
		}
		if again, err := ParseModuleBool([]byte(out)); err != nil || again != v {
			t.Fatalf("round trip of %v: %v, %v", v, again, err)
		}
	})
}
