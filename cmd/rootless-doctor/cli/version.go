package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rootless-doctor/rootless-doctor/report"
)

// BuildInfo is what the binary knows about itself: the module version and the VCS revision
// the go command stamped into it (runtime/debug.ReadBuildInfo; since Go 1.24 `go build` in a
// git checkout sets the main module's version from the tags and the revision, e.g.
// v0.0.0-20260101120000-0123456789ab+dirty), and the Go release it was built with.
type BuildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	// Time is the commit time of Revision (RFC 3339), as the go command stamps it.
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// ReadBuildInfo reads the binary's build information. It is called when a command needs it,
// never at start-up (`--help` pays nothing for it).
func ReadBuildInfo() BuildInfo { return buildInfoFrom(debug.ReadBuildInfo()) }

func buildInfoFrom(bi *debug.BuildInfo, ok bool) BuildInfo {
	b := BuildInfo{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok || bi == nil {
		return b
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// build is the factory's build information; a Factory without Build (tests) has none.
func (f *Factory) build() BuildInfo {
	if f.Build == nil {
		return BuildInfo{}
	}
	return f.Build()
}

// tool is the build information as reports carry it.
func (f *Factory) tool() report.Tool {
	b := f.build()
	rev := b.Revision
	if rev != "" && b.Modified {
		rev += "+dirty"
	}
	return report.Tool{Name: "rootless-doctor", Version: b.Version, Revision: rev, Go: b.Go}
}

// writeVersion is the text of `version` and `--version`.
func writeVersion(w io.Writer, b BuildInfo) error {
	var s strings.Builder
	fmt.Fprintf(&s, "rootless-doctor %s\n", b.Version)
	if b.Revision != "" {
		rev := b.Revision
		if b.Modified {
			rev += " (modified)"
		}
		if b.Time != "" {
			rev += ", " + b.Time
		}
		fmt.Fprintf(&s, "revision: %s\n", rev)
	}
	fmt.Fprintf(&s, "go: %s %s\n", b.Go, b.Platform)
	_, err := io.WriteString(w, s.String())
	return err
}

// VersionOptions are the flags of version.
type VersionOptions struct {
	IO      *IOStreams
	Factory *Factory

	Output string
}

// NewCmdVersion builds `version`. runF replaces the logic in tests.
func NewCmdVersion(f *Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go release of this binary",
		Long: `Print the module version and the VCS revision this binary was built from (as the go
command stamped them; "(devel)" for a build outside a module version, "+dirty" or
"(modified)" for a build with uncommitted changes) and the Go release and platform.
"rootless-doctor --version" prints the same. Reports carry the version too: JSON "tool",
JUnit properties, the rootless_doctor_build_info metric.`,
		Example: `  rootless-doctor version
  rootless-doctor version -o json | jq -r .version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Output, err = oneOf("--output", opts.Output, []string{"text", "json"}); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return versionRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text|json")
	registerValues(cmd, "output", "text", "json")
	return cmd
}

func versionRun(opts *VersionOptions) error {
	b := opts.Factory.build()
	if opts.Output == "json" {
		out := struct {
			Name string `json:"name"`
			BuildInfo
		}{"rootless-doctor", b}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return writeVersion(opts.IO.Out, b)
}
