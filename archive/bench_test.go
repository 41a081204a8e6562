package archive_test

import (
	"context"
	"testing"

	"github.com/syncwatch/syncwatch/archive"
)

// BenchmarkExportRestore measures a month of 50,000 runs (100,000 reports)
// exported to a directory (write, read back, manifest) and restored into
// the emptied tables (check, staging, attach). Figures: make bench, or
// go test ./archive -run XXX -bench ExportRestore -benchtime 3x.
func BenchmarkExportRestore(b *testing.B) {
	st := openStore(b, true)
	ctx := context.Background()
	m := mustMonth(b, "2026-03")
	loadMonth(b, st, m, 50_000)
	if got := sums(b, st, m); got["reports"].Rows != 100_000 || got["runs"].Rows != 50_000 {
		b.Fatalf("loaded %+v", got)
	}
	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			d, err := archive.NewDirTarget(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := archive.New(st, d, testLogger(b)).Export(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restore", func(b *testing.B) {
		d, err := archive.NewDirTarget(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		a := archive.New(st, d, testLogger(b))
		if _, err := a.Export(ctx, m); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			for _, t := range []string{"reports", "runs"} {
				if err := st.DropMonth(ctx, t, m); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			if _, err := a.Restore(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
