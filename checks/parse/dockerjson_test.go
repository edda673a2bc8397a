package parse

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16LE(s string) string {
	b := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

func utf16BE(s string) string {
	b := []byte{0xFE, 0xFF}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}

func TestParseDockerDaemonJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    DockerDaemonConfig
		wantErr string
	}{
		{"empty file", "", DockerDaemonConfig{}, ""},
		{"blank file", " \n\t\n", DockerDaemonConfig{}, ""},
		{"empty object", "{}", DockerDaemonConfig{}, ""},
		{"data-root", `{"data-root": "/srv/alice/docker"}`, DockerDaemonConfig{DataRoot: "/srv/alice/docker"}, ""},
		{"both", `{"storage-driver":"fuse-overlayfs","data-root":"/d"}`, DockerDaemonConfig{DataRoot: "/d", StorageDriver: "fuse-overlayfs"}, ""},
		{"other keys of any type", `{"features":{"buildkit":true},"dns":["1.1.1.1"],"mtu":1400,"data-root":"/d"}`, DockerDaemonConfig{DataRoot: "/d"}, ""},
		{"null data-root", `{"data-root": null}`, DockerDaemonConfig{}, ""},
		{"userns-remap", `{"userns-remap": "default"}`, DockerDaemonConfig{UsernsRemap: "default"}, ""},
		{"userns-remap of the wrong type", `{"userns-remap": true}`, DockerDaemonConfig{}, "userns-remap"},
		{"utf-8 bom", "\xEF\xBB\xBF{\"data-root\":\"/d\"}", DockerDaemonConfig{DataRoot: "/d"}, ""},
		{"utf-16le bom", utf16LE(`{"data-root":"/dé"}`), DockerDaemonConfig{DataRoot: "/dé"}, ""},
		{"utf-16be bom", utf16BE(`{"data-root":"/d"}`), DockerDaemonConfig{DataRoot: "/d"}, ""},
		{"odd utf-16", "\xFF\xFE{", DockerDaemonConfig{}, "odd number"},
		{"invalid JSON", `{"data-root": "/d",}`, DockerDaemonConfig{}, "parsing JSON"},
		{"comment", "// dockerd has no comments\n{}", DockerDaemonConfig{}, "parsing JSON"},
		{"array top level", `["data-root"]`, DockerDaemonConfig{}, "parsing JSON"},
		{"null top level", `null`, DockerDaemonConfig{}, "null"},
		{"number data-root", `{"data-root": 5}`, DockerDaemonConfig{}, `"data-root" must be a string, not a number`},
		{"object storage-driver", `{"storage-driver": {}}`, DockerDaemonConfig{}, "not an object"},
		{"garbage", "\x00\x01\x02", DockerDaemonConfig{}, "parsing JSON"},
		{"exec-opts", `{"exec-opts":["native.cgroupdriver=systemd"]}`, DockerDaemonConfig{ExecOpts: []string{"native.cgroupdriver=systemd"}}, ""},
		{"exec-opts not an array", `{"exec-opts":"x"}`, DockerDaemonConfig{}, "exec-opts"},
		{"snapshotter off", `{"features":{"containerd-snapshotter":false}}`, DockerDaemonConfig{ContainerdSnapshotter: new(false)}, ""},
		{"snapshotter not a bool", `{"features":{"containerd-snapshotter":"no"}}`, DockerDaemonConfig{}, "boolean"},
		{"runtimes", `{"runtimes":{"nvidia":{"path":"nvidia-container-runtime"}},"default-runtime":"nvidia"}`, DockerDaemonConfig{Runtimes: []string{"nvidia"}, DefaultRuntime: "nvidia"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDockerDaemonJSON([]byte(tt.in))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseDockerCLIConfig(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
		wantErr        bool
	}{
		{"rootless context", `{"auths":{},"currentContext":"rootless"}`, "rootless", false},
		{"no context", `{"auths":{}}`, "", false},
		{"empty", ``, "", false},
		{"garbage", `{"currentContext":`, "", true},
		{"wrong type", `{"currentContext":1}`, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDockerCLIConfig([]byte(tt.in))
			if (err != nil) != tt.wantErr || got.CurrentContext != tt.want {
				t.Errorf("got %+v, %v; want %q, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseDockerContextMeta(t *testing.T) {
	for _, tt := range []struct {
		name, in, wantName, wantHost string
		wantErr                      bool
	}{
		{"rootless", `{"Name":"rootless","Metadata":{"Description":"Rootless mode"},"Endpoints":{"docker":{"Host":"unix:///run/user/1000/docker.sock","SkipTLSVerify":false}}}`, "rootless", "unix:///run/user/1000/docker.sock", false},
		{"no docker endpoint", `{"Name":"k","Endpoints":{"kubernetes":{}}}`, "k", "", false},
		{"garbage", `{"Name":`, "", "", true},
		{"empty", ``, "", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name, h, err := ParseDockerContextMeta([]byte(tt.in))
			if (err != nil) != tt.wantErr || name != tt.wantName || h != tt.wantHost {
				t.Errorf("got %q %q %v; want %q %q err %v", name, h, err, tt.wantName, tt.wantHost, tt.wantErr)
			}
		})
	}
}

func FuzzParseDockerDaemonJSON(f *testing.F) {
	for _, s := range []string{"", "{}", `{"data-root":"/d","storage-driver":"vfs"}`, "\xEF\xBB\xBF{}", utf16LE(`{"data-root":"/x"}`), `{"data-root":5}`, "null"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseDockerDaemonJSON(data)
		if err != nil {
			if c.DataRoot != "" && c.StorageDriver != "" {
				t.Fatalf("error %v with a full result %+v", err, c)
			}
			return
		}
		// What was read survives a round trip through the format dockerd writes.
		out, err := json.Marshal(map[string]string{"data-root": c.DataRoot, "storage-driver": c.StorageDriver})
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseDockerDaemonJSON(out)
		if err != nil {
			t.Fatalf("reparse of %s: %v", out, err)
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD, so compare through the same lens.
		want := DockerDaemonConfig{DataRoot: strings.ToValidUTF8(c.DataRoot, "\uFFFD"), StorageDriver: strings.ToValidUTF8(c.StorageDriver, "\uFFFD")}
		if again.DataRoot != want.DataRoot || again.StorageDriver != want.StorageDriver {
			t.Fatalf("round trip: %+v, want %+v", again, want)
		}
		_, _ = ParseDockerCLIConfig(data)
		_, _, _ = ParseDockerContextMeta(data)
	})
}
