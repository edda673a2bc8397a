package checks

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rootless-doctor/rootless-doctor/checks/facts"
	"github.com/rootless-doctor/rootless-doctor/host"
)

// BenchmarkCheckStatic measures one whole static check: account and distro resolution plus
// every registered probe, on the live host and on each fixture. The README records the figures;
// no test asserts a speed.
func BenchmarkCheckStatic(b *testing.B) {
	b.Run("live", func(b *testing.B) {
		h := host.NewLive()
		benchCheck(b, h, "")
	})
	dirs, _ := filepath.Glob(filepath.Join("..", "fixtures", "*", host.ManifestName))
	for _, m := range dirs {
		dir := filepath.Dir(m)
		h, err := host.OpenTree(dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("fixture="+filepath.Base(dir), func(b *testing.B) { benchCheck(b, h, "") })
	}
}

func benchCheck(b *testing.B, h host.Host, user string) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		env := facts.NewEnv(ctx, h, user)
		res := Run(ctx, All(), env, Options{})
		if len(res) != len(All()) {
			b.Fatal("missing results")
		}
	}
}
