package parse

import (
	"slices"
	"strings"
	"testing"
)

func TestParseUnitExecStart(t *testing.T) {
	tests := []struct {
		name, in string
		want     [][]string
		reset    bool
	}{
		{"setuptool unit", "[Unit]\nDescription=Docker Application Container Engine (Rootless)\n[Service]\nEnvironment=PATH=/home/alice/bin:/sbin:/usr/sbin:/usr/local/bin:/usr/bin:/bin\nExecStart=/home/alice/bin/dockerd-rootless.sh \nExecReload=/bin/kill -s HUP $MAINPID\n",
			[][]string{{"/home/alice/bin/dockerd-rootless.sh"}}, false},
		{"prefixes and quotes", "[Service]\nExecStart=-@/usr/bin/rootlesskit \"buildkitd\" --addr=unix:///run/user/1000/buildkit/buildkitd.sock\n",
			[][]string{{"/usr/bin/rootlesskit", "buildkitd", "--addr=unix:///run/user/1000/buildkit/buildkitd.sock"}}, false},
		{"reset in a drop-in", "[Service]\nExecStart=\nExecStart=/usr/local/bin/dockerd-rootless.sh --experimental\n",
			[][]string{{"/usr/local/bin/dockerd-rootless.sh", "--experimental"}}, true},
		{"reset last", "[Service]\nExecStart=/a\nExecStart=\n", nil, true},
		{"other sections and comments", "[Unit]\nExecStart=/not\n[Service]\n# ExecStart=/commented\n;ExecStart=/also\n", nil, false},
		{"only a prefix", "[Service]\nExecStart=- \nExecStart=! /bin/x\n", [][]string{{"/bin/x"}}, false},
		{"garbage", "\x00=\n[Service\nExecStart", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reset := ParseUnitExecStart([]byte(tt.in))
			if reset != tt.reset || !slices.EqualFunc(got, tt.want, slices.Equal[[]string]) {
				t.Errorf("got %q (reset %v), want %q (reset %v)", got, reset, tt.want, tt.reset)
			}
		})
	}
}

func FuzzParseUnitExecStart(f *testing.F) {
	f.Add([]byte("[Service]\nExecStart=-/usr/bin/x \"a b\" 'c'\nExecStart=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, _ := ParseUnitExecStart(data)
		for _, l := range lines {
			if len(l) == 0 {
				t.Fatal("an empty command line")
			}
		}
	})
}

// The defaults of dockerd-rootless.sh, as releases wrote them (the lines that matter,
// paraphrased): before Docker 29 the script picks MTU 65520 only when it chooses slirp4netns
// itself; Docker 29.0 sets the MTU by driver; 29.4 refuses containerd-rootless.sh's state;
// 29.5 starts RootlessKit with --detach-netns. The "28" script here is a hypothetical one with
// detach-netns but the old MTU logic, to tell the two apart.
const (
	rootlessScript25 = `: "${DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX:=auto}"
if [ -z $net ]; then
	if command -v slirp4netns >/dev/null 2>&1; then
		if slirp4netns --help | grep -qw -- --netns-type; then
			net=slirp4netns
			if [ -z $mtu ]; then
				mtu=65520
			fi
		fi
	fi
fi
`
	rootlessScript28 = `: "${DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS:=true}"
if [ -z "$net" ]; then
	net=slirp4netns
	if [ -z "$mtu" ]; then
		mtu=65520
	fi
fi
if [ -z "$mtu" ]; then
	if [ "$net" = pasta ]; then
		mtu=65520
	fi
fi
`
	rootlessScript29 = `if [ -e "$CONTAINERD_ROOTLESS_ROOTLESSKIT_STATE_DIR" ]; then
	echo "dockerd-rootless.sh conflicts with containerd-rootless.sh. Stop it."
	exit 1
fi
: "${DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS:=true}"
if [ -z "$mtu" ]; then
	case "$net" in
		slirp4netns | pasta | gvisor-tap-vsock)
			mtu=65520
			;;
		*)
			mtu=1500
			;;
	esac
fi
`
)

func TestParseDockerRootlessScript(t *testing.T) {
	for name, tt := range map[string]struct {
		in   string
		want DockerRootlessScript
	}{
		"25":         {rootlessScript25, DockerRootlessScript{}},
		"28":         {rootlessScript28, DockerRootlessScript{DetachNetnsDefault: true}},
		"29":         {rootlessScript29, DockerRootlessScript{DetachNetnsDefault: true, MTUForSetNet: true, RefusesContainerdRootless: true}},
		"pasta only": {strings.Replace(rootlessScript29, "slirp4netns | pasta | gvisor-tap-vsock)", "pasta)", 1), DockerRootlessScript{DetachNetnsDefault: true, RefusesContainerdRootless: true}},
		"empty":      {"", DockerRootlessScript{}},
	} {
		if got := ParseDockerRootlessScript([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", name, got, tt.want)
		}
	}
}

func FuzzParseDockerRootlessScript(f *testing.F) {
	f.Add([]byte(rootlessScript29))
	f.Add([]byte(`case "$net" in ) ;; esac`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := ParseDockerRootlessScript(data)
		if d.MTUForSetNet && !strings.Contains(string(data), "mtu=65520") {
			t.Fatal("MTU default without mtu=65520")
		}
	})
}
