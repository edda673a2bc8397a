package parse

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// fill sets every field reachable from v to something not zero: strings, bools, slices of two
// elements, maps of one entry, pointers to a filled value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(reflect.NewAt(v.Field(i).Type(), v.Field(i).Addr().UnsafePointer()).Elem())
		}
	default:
		panic(fmt.Sprintf("fill: a %s field: teach fill and clone about it", v.Kind()))
	}
}

// shared names the first slice, map or pointer a and b have in common.
func shared(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer:
		if !a.IsNil() && a.UnsafePointer() == b.UnsafePointer() {
			return path
		}
	}
	switch a.Kind() {
	case reflect.Slice:
		for i := range a.Len() {
			if p := shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		for _, k := range a.MapKeys() {
			if p := shared(a.MapIndex(k), b.MapIndex(k), fmt.Sprintf("%s[%v]", path, k)); p != "" {
				return p
			}
		}
	case reflect.Pointer:
		if !a.IsNil() {
			return shared(a.Elem(), b.Elem(), path)
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if p := shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
				return p
			}
		}
	}
	return ""
}

// TestContainersConfFileClone: the memo's value and what a chain decodes onto share nothing,
// whatever field containersConfFile grows.
func TestContainersConfFileClone(t *testing.T) {
	var legacy containersConfFile[[]string]
	fill(reflect.ValueOf(&legacy).Elem())
	if c := legacy.clone(slices.Clone[[]string]); !reflect.DeepEqual(c, legacy) {
		t.Errorf("legacy clone differs: %+v", c)
	} else if p := shared(reflect.ValueOf(legacy), reflect.ValueOf(c), "legacy"); p != "" {
		t.Errorf("the clone shares %s", p)
	}
	var modern containersConfFile[attrSlice]
	fill(reflect.ValueOf(&modern).Elem())
	if c := modern.clone(attrSlice.clone); !reflect.DeepEqual(c, modern) {
		t.Errorf("modern clone differs: %+v", c)
	} else if p := shared(reflect.ValueOf(modern), reflect.ValueOf(c), "modern"); p != "" {
		t.Errorf("the clone shares %s", p)
	}
}

// TestDecodeMemo: a file decoded from the memo gives what decoding it gives, and nothing a
// chain decodes onto it, or a caller does with the result, reaches the next host's.
func TestDecodeMemo(t *testing.T) {
	first := []byte("# the distribution's file\n[engine]\nconmon_path = [\"/usr/bin/conmon\"]\n[engine.runtimes]\ncrun = [\"/usr/bin/crun\"]\n[containers]\ndefault_sysctls = [\"a=1\"]\n")
	second := []byte("[engine]\nconmon_path = [\"/opt/conmon\", {append=true}]\n[engine.runtimes]\ncrun = [\"/opt/crun\"]\nrunc = [\"/opt/runc\"]\n")
	want := ContainersConf{ConmonPath: []string{"/usr/bin/conmon"}, Runtimes: map[string][]string{"crun": {"/usr/bin/crun"}}, DefaultSysctls: []string{"a=1"}}
	wantChain := ContainersConf{ConmonPath: []string{"/usr/bin/conmon", "/opt/conmon"},
		Runtimes: map[string][]string{"crun": {"/opt/crun"}, "runc": {"/opt/runc"}}, DefaultSysctls: []string{"a=1"}}
	for i := range 3 { // the first from the decoder, then from the memo
		d := NewContainersConfDecoder(true)
		if err := d.Decode(first); err != nil {
			t.Fatal(err)
		}
		got := d.Conf()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("host %d: first file %+v, want %+v", i, got, want)
		}
		got.ConmonPath[0], got.Runtimes["crun"][0] = "mutated", "mutated"
		if err := d.Decode(second); err != nil {
			t.Fatal(err)
		}
		if got := d.Conf(); !reflect.DeepEqual(got, wantChain) {
			t.Fatalf("host %d: chain %+v, want %+v", i, got, wantChain)
		}
	}
	if _, ok := containersConfAttrMemo.get(first); !ok {
		t.Error("the chain's first file was not kept")
	}
	if _, ok := containersConfAttrMemo.get(second); ok {
		t.Error("a file decoded onto another was kept")
	}
	storage := []byte("[storage]\ndriver = \"overlay\"\n")
	for i := range 3 {
		vals, err := StorageConfValues(storage)
		if err != nil || vals["storage.driver"] != "overlay" || len(vals) != 1 {
			t.Fatalf("host %d: %v, %v", i, vals, err)
		}
		vals["storage.driver"] = "mutated"
	}
	bad := []byte("[storage]\ndriver = 5\n")
	if _, err := StorageConfValues(bad); err == nil {
		t.Fatal("a type error must be an error")
	}
	if _, ok := storageConfMemo.get(bad); ok {
		t.Error("a file that did not decode was kept")
	}
}
