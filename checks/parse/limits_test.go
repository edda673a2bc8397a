package parse

import (
	"reflect"
	"testing"
)

// procLimits is /proc/self/limits as Linux 6.x prints it (this project's dev machine).
const procLimits = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             96368                96368                processes 
Max open files            20000                20000                files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       96368                96368                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`

func TestParseProcLimits(t *testing.T) {
	got := ParseProcLimits([]byte(procLimits))
	for name, want := range map[string]Rlimit{
		"Max open files":        {20000, 20000},
		"Max processes":         {96368, 96368},
		"Max stack size":        {8388608, Unlimited},
		"Max nice priority":     {0, 0},
		"Max realtime timeout":  {Unlimited, Unlimited},
		"Max realtime priority": {0, 0},
	} {
		if got[name] != want {
			t.Errorf("%s = %+v, want %+v", name, got[name], want)
		}
	}
	if len(got) != 16 {
		t.Errorf("%d limits, want 16: %v", len(got), got)
	}
	if got := ParseProcLimits([]byte("Max open files  x  y  files\nMax\n\x00\nLimit Soft\nMax open files -1 5 files\n")); len(got) != 0 {
		t.Errorf("garbage parsed: %v", got)
	}
	if !(Rlimit{Hard: 1024}).Exceeds(65536) || (Rlimit{Hard: Unlimited}).Exceeds(1<<40) || (Rlimit{Hard: 4096}).Exceeds(4096) || !(Rlimit{Hard: 4096}).Exceeds(Unlimited) {
		t.Error("Exceeds")
	}
}

func TestParseKeyUsers(t *testing.T) {
	in := "    0:     9 8/8 3/1000000 64/25000000\n 1001:     2 2/2 2/200 28/20000\nbad line\n 1002: 1 2/2 x/200 28/20000\n-5: 1 1/1 1/1 1/1\n"
	got := ParseKeyUsers([]byte(in))
	want := map[int64]KeyUser{
		0:    {UID: 0, Usage: 9, NKeys: 8, NIKeys: 8, QNKeys: 3, MaxKeys: 1000000, QNBytes: 64, MaxBytes: 25000000},
		1001: {UID: 1001, Usage: 2, NKeys: 2, NIKeys: 2, QNKeys: 2, MaxKeys: 200, QNBytes: 28, MaxBytes: 20000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseKeyUsers = %+v, want %+v", got, want)
	}
}

func FuzzParseProcLimits(f *testing.F) {
	f.Add([]byte(procLimits))
	f.Add([]byte("Max open files 1 unlimited\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, l := range ParseProcLimits(data) {
			if l.Soft < Unlimited || l.Hard < Unlimited || name == "" {
				t.Fatalf("%q: %+v", name, l)
			}
		}
	})
}

func FuzzParseKeyUsers(f *testing.F) {
	f.Add([]byte("    0:     9 8/8 3/1000000 64/25000000\n 1001:     2 2/2 2/200 28/20000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for uid, k := range ParseKeyUsers(data) {
			if uid != k.UID || uid < 0 || k.QNKeys < 0 || k.MaxKeys < 0 || k.QNBytes < 0 || k.MaxBytes < 0 {
				t.Fatalf("%d: %+v", uid, k)
			}
		}
	})
}
