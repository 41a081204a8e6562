package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/syncwatch/syncwatch/archive"
)

// TestParquetReadable opens the archived files with a Parquet reader that
// is not ClickHouse (parquet-go) and checks their rows, columns,
// compression and values.
func TestParquetReadable(t *testing.T) {
	st := openStore(t, true)
	m := mustMonth(t, "2026-02")
	loadMonth(t, st, m, 25)
	root := t.TempDir()
	d, err := archive.NewDirTarget(root)
	if err != nil {
		t.Fatal(err)
	}
	man, err := archive.New(st, d, testLogger(t)).Export(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range man.Files {
		t.Run(f.Table, func(t *testing.T) {
			fh, err := os.Open(filepath.Join(root, m.String(), f.File))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			info, _ := fh.Stat()
			pf, err := parquet.OpenFile(fh, info.Size())
			if err != nil {
				t.Fatalf("parquet-go cannot open %s: %v", f.File, err)
			}
			if uint64(pf.NumRows()) != f.Rows {
				t.Errorf("%s: %d rows, manifest %d", f.File, pf.NumRows(), f.Rows)
			}
			for _, rg := range pf.Metadata().RowGroups {
				for _, cc := range rg.Columns {
					if codec := cc.MetaData.Codec; codec != format.Zstd {
						t.Errorf("%s: column %v compressed with %v, want ZSTD", f.File, cc.MetaData.PathInSchema, codec)
					}
				}
			}
			if f.Table != "runs" {
				return
			}
			type run struct {
				RunID      string            `parquet:"run_id"`
				Status     string            `parquet:"status"`
				Message    string            `parquet:"message"`
				Total      uint64            `parquet:"total_count"`
				Attributes map[string]string `parquet:"attributes"`
			}
			rows, err := parquet.Read[run](fh, info.Size())
			if err != nil {
				t.Fatalf("read runs: %v", err)
			}
			slices.SortFunc(rows, func(a, b run) int {
				switch {
				case a.RunID < b.RunID:
					return -1
				case a.RunID > b.RunID:
					return 1
				}
				return 0
			})
			got := rows[3]
			if got.RunID != "2026-02-run-0003" || got.Status != "success" || got.Total != 103 ||
				got.Message != "run 3: 'quoted' \\ back\tslash, 中文 3" || got.Attributes["host"] != "w0" {
				t.Errorf("run 3 reads %+v", got)
			}
		})
	}
}
