package archive_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncwatch/syncwatch/archive"
	"github.com/syncwatch/syncwatch/clickhouse"
	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/synclog"
)

// targets are the two kinds of archive, each on a fresh place.
func targets(t *testing.T, st *clickhouse.Store) map[string]archive.Target {
	d, err := archive.NewDirTarget(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s3, err := archive.NewS3Target(s3Server(t, "archive")+"/archive/syncwatch", "key", "secret", st)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]archive.Target{"dir": d, "s3": s3}
}

// TestExportDropRestore archives a month, drops it and restores it, and
// checks that the tables hold the same rows (count and checksum) as before,
// that the other month is untouched, and that restoring twice adds nothing.
func TestExportDropRestore(t *testing.T) {
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) {
			st := openStore(t, true)
			ctx := context.Background()
			old, kept := mustMonth(t, "2026-06"), mustMonth(t, "2026-07")
			loadMonth(t, st, old, 200)
			loadMonth(t, st, kept, 50)
			before, keptBefore := sums(t, st, old), sums(t, st, kept)
			if before["reports"].Rows != 400 || before["runs"].Rows != 200 || before["run_activity"].Rows == 0 {
				t.Fatalf("loaded %+v", before)
			}
			a := archive.New(st, targets(t, st)[kind], testLogger(t))
			man, err := a.Export(ctx, old)
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			for _, f := range man.Files {
				if f.Sum != before[f.Table] || len(f.SHA256) != 64 || f.Bytes == 0 {
					t.Errorf("manifest %s: %+v, want %+v", f.Table, f, before[f.Table])
				}
			}
			if man.SchemaVersion == 0 || man.Month != "2026-06" {
				t.Errorf("manifest: %+v", man)
			}
			if err := a.Drop(ctx, old); err != nil {
				t.Fatalf("drop: %v", err)
			}
			after := sums(t, st, old)
			if after["reports"].Rows != 0 || after["runs"].Rows != 0 {
				t.Fatalf("after drop: %+v", after)
			}
			if after["run_activity"] != before["run_activity"] {
				t.Errorf("run_activity was dropped: %+v", after["run_activity"])
			}
			res, err := a.Restore(ctx, old)
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if want := []string{"reports", "runs"}; !reflect.DeepEqual(res.Loaded, want) {
				t.Errorf("restore loaded %v, want %v", res.Loaded, want)
			}
			if got := sums(t, st, old); !reflect.DeepEqual(got, before) {
				t.Errorf("restored %+v\nwant %+v", got, before)
			}
			rawBefore := rawRows(t, st, old)
			res, err = a.Restore(ctx, old)
			if err != nil || len(res.Loaded) != 0 {
				t.Fatalf("second restore: %+v, %v", res, err)
			}
			// Not one row more, even before deduplication.
			if got := rawRows(t, st, old); !reflect.DeepEqual(got, rawBefore) {
				t.Errorf("rows after a second restore %v, before %v", got, rawBefore)
			}
			if got := sums(t, st, old); !reflect.DeepEqual(got, before) {
				t.Errorf("after a second restore %+v\nwant %+v", got, before)
			}
			if got := sums(t, st, kept); !reflect.DeepEqual(got, keptBefore) {
				t.Errorf("the other month changed: %+v, want %+v", got, keptBefore)
			}
			list, err := a.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].Month != "2026-06" || !list[0].Archived || list[1].Archived || list[0].ArchivedRows["runs"] != 200 {
				t.Errorf("list: %+v", list)
			}
		})
	}
}

// failingTarget fails the manifest's write: a fault between the data and
// the manifest.
type failingTarget struct{ archive.Target }

func (failingTarget) WriteManifest(context.Context, archive.Month, []byte) error {
	return errors.New("injected fault")
}

// cancellingStore cancels the export's context once the first table is
// written: an export interrupted half-way.
type cancellingStore struct {
	*clickhouse.Store
	cancel context.CancelFunc
}

func (c cancellingStore) ExportMonth(ctx context.Context, table string, m archive.Month, dst archive.Location) error {
	err := c.Store.ExportMonth(ctx, table, m, dst)
	c.cancel()
	return err
}

// TestInterruptedExport checks that an export that fails between data and
// manifest, or is cancelled half-way, leaves no manifest, that the month
// cannot be dropped, and that a later export completes it.
func TestInterruptedExport(t *testing.T) {
	st := openStore(t, true)
	m := mustMonth(t, "2026-05")
	loadMonth(t, st, m, 30)
	before := sums(t, st, m)
	dir := t.TempDir()
	d, err := archive.NewDirTarget(dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func() (*archive.Archiver, context.Context){
		"fault before the manifest": func() (*archive.Archiver, context.Context) {
			return archive.New(st, failingTarget{d}, testLogger(t)), context.Background()
		},
		"cancelled after the first file": func() (*archive.Archiver, context.Context) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			return archive.New(cancellingStore{st, cancel}, d, testLogger(t)), ctx
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			a, ctx := setup()
			if _, err := a.Export(ctx, m); err == nil {
				t.Fatal("export succeeded")
			}
			if _, err := os.Stat(filepath.Join(dir, m.String(), archive.ManifestName)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("manifest after a failed export: %v (files %v)", err, dirFiles(t, dir))
			}
			for _, f := range dirFiles(t, dir) {
				if strings.Contains(f, "manifest") {
					t.Errorf("left %s", f)
				}
			}
			plain := archive.New(st, d, testLogger(t))
			err := plain.Drop(context.Background(), m)
			if !errors.Is(err, archive.ErrNoManifest) {
				t.Fatalf("drop without a manifest: %v", err)
			}
			if got := sums(t, st, m); !reflect.DeepEqual(got, before) {
				t.Fatalf("the month changed: %+v", got)
			}
		})
	}
	a := archive.New(st, d, testLogger(t))
	if _, err := a.Export(context.Background(), m); err != nil {
		t.Fatalf("export after the failures: %v", err)
	}
	if _, err := a.Verify(context.Background(), m); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// TestRestoreDetectsDamage checks that a corrupt, truncated or missing
// file, or a corrupt or missing manifest, stops the restore with an error
// naming what is wrong, before anything is loaded, and that Drop refuses
// such an archive.
func TestRestoreDetectsDamage(t *testing.T) {
	st := openStore(t, true)
	m := mustMonth(t, "2026-04")
	loadMonth(t, st, m, 40)
	before := sums(t, st, m)
	ctx := context.Background()
	soundDir, err := archive.NewDirTarget(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sound := archive.New(st, soundDir, testLogger(t))
	if _, err := sound.Export(ctx, m); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"flipped byte", func(dir string) {
			p := filepath.Join(dir, "runs.parquet")
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0xff
			os.WriteFile(p, b, 0o644)
		}, "runs.parquet"},
		{"truncated file", func(dir string) {
			p := filepath.Join(dir, "reports.parquet")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "reports.parquet"},
		{"missing file", func(dir string) { os.Remove(filepath.Join(dir, "run_activity.parquet")) }, "run_activity.parquet"},
		{"corrupt manifest", func(dir string) {
			os.WriteFile(filepath.Join(dir, archive.ManifestName), []byte(`{"format":1,"month":"2026-04","fil`), 0o644)
		}, "manifest of 2026-04"},
		{"missing manifest", func(dir string) { os.Remove(filepath.Join(dir, archive.ManifestName)) }, "no manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			d, err := archive.NewDirTarget(root)
			if err != nil {
				t.Fatal(err)
			}
			a := archive.New(st, d, testLogger(t))
			if _, err := a.Export(ctx, m); err != nil {
				t.Fatal(err)
			}
			c.damage(filepath.Join(root, m.String()))
			if err := a.Drop(ctx, m); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("drop of a damaged archive: %v, want an error naming %q", err, c.want)
			}
			if got := sums(t, st, m); !reflect.DeepEqual(got, before) {
				t.Fatalf("the month changed: %+v", got)
			}
			// Restore into an emptied month: nothing may be loaded.
			for _, tb := range []string{"reports", "runs"} {
				if err := st.DropMonth(ctx, tb, m); err != nil {
					t.Fatal(err)
				}
			}
			_, err = a.Restore(ctx, m)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v, want an error naming %q", err, c.want)
			}
			if got := sums(t, st, m); got["reports"].Rows != 0 || got["runs"].Rows != 0 {
				t.Fatalf("a damaged archive loaded rows: %+v", got)
			}
			// Put the month back for the next case, from a sound archive.
			if _, err := sound.Restore(ctx, m); err != nil {
				t.Fatal(err)
			}
			if got := sums(t, st, m); !reflect.DeepEqual(got, before) {
				t.Fatalf("reloaded %+v, want %+v", got, before)
			}
		})
	}
}

// TestRestoreRefusesOtherRows checks that a month holding rows other than
// the archive's is left alone.
func TestRestoreRefusesOtherRows(t *testing.T) {
	st := openStore(t, true)
	m := mustMonth(t, "2026-03")
	loadMonth(t, st, m, 10)
	d, _ := archive.NewDirTarget(t.TempDir())
	a := archive.New(st, d, testLogger(t))
	ctx := context.Background()
	if _, err := a.Export(ctx, m); err != nil {
		t.Fatal(err)
	}
	loadMonth(t, st, m, 12) // two more runs, and new versions of none
	before := sums(t, st, m)
	_, err := a.Restore(ctx, m)
	if err == nil || !strings.Contains(err.Error(), "differ from the archive") {
		t.Fatalf("restore over other rows: %v", err)
	}
	if err := a.Drop(ctx, m); err == nil {
		t.Fatal("dropped a month that changed since its archive")
	}
	if got := sums(t, st, m); !reflect.DeepEqual(got, before) {
		t.Fatalf("the month changed: %+v", got)
	}
}

// TestRetentionHandover checks that archiving removes the tables' TTL and
// that turning it off puts the TTL back.
func TestRetentionHandover(t *testing.T) {
	st := openStore(t, true)
	ctx := context.Background()
	ttl := func() []string {
		rows, err := st.QueryJSON(ctx, `SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ('reports', 'runs', 'run_activity') AND engine_full LIKE '% TTL %' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range rows {
			names = append(names, r["name"].(string))
		}
		return names
	}
	if got := ttl(); len(got) != 0 {
		t.Fatalf("with archiving, tables with a TTL: %v", got)
	}
	// The keys of stored reports expire as before: the archive drops
	// months of reports and runs only.
	keys, err := st.QueryJSON(ctx, `SELECT name FROM system.tables WHERE database = currentDatabase() AND name = 'report_keys' AND engine_full LIKE '% TTL %'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("with archiving, report_keys lost its TTL: %v", keys)
	}
	plain := openStore(t, false)
	_ = plain
	if got := ttl(); len(got) != 0 {
		t.Fatalf("tables with a TTL: %v", got)
	}
	rows, err := plain.QueryJSON(ctx, `SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ('reports', 'runs', 'run_activity') AND engine_full LIKE '% TTL %' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r["name"].(string))
	}
	if !slices.Equal(names, []string{"reports", "runs"}) {
		t.Fatalf("without archiving, tables with a TTL: %v", names)
	}
}

// TestListRunsInPlace reads the runs of a dropped month from its archive,
// in the dir and s3 targets, with a filter and pages, and compares them
// with what the table answered before the drop.
func TestListRunsInPlace(t *testing.T) {
	st := openStore(t, true)
	ctx := context.Background()
	m := mustMonth(t, "2026-01")
	loadMonth(t, st, m, 45)
	f := runs.Filter{Sources: []string{"erp"}, Statuses: []synclog.Status{synclog.StatusFailed, synclog.StatusSuccess}}
	want, _, err := st.ListRuns(ctx, runs.ListOptions{Filter: f, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 10 {
		t.Fatalf("the filter selects %d runs", len(want))
	}
	for kind, target := range targets(t, st) {
		t.Run(kind, func(t *testing.T) {
			a := archive.New(st, target, testLogger(t))
			if _, _, err := a.ListRuns(ctx, m.Start, runs.ListOptions{Limit: 10}); !errors.Is(err, runs.ErrNotFound) {
				t.Fatalf("before the export: %v, want runs.ErrNotFound", err)
			}
			if _, err := a.Export(ctx, m); err != nil {
				t.Fatal(err)
			}
			if err := a.Drop(ctx, m); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := a.Restore(ctx, m); err != nil {
					t.Error(err)
				}
			})
			if l, _, _ := st.ListRuns(ctx, runs.ListOptions{Filter: f, Limit: 10}); len(l) != 0 {
				t.Fatalf("the table still lists %d runs", len(l))
			}
			var got []runs.Run
			opt := runs.ListOptions{Filter: f, Limit: 4}
			for {
				page, next, err := a.ListRuns(ctx, m.Start.Add(36*time.Hour), opt)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if next == nil {
					break
				}
				opt.After = next
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("archived runs differ:\n got %d %+v\nwant %d %+v", len(got), got[:1], len(want), want[:1])
			}
		})
	}
}

// TestRestoreUnderTTL checks that with archiving off (the tables keep their
// TTL) a month past the retention is not restored, since ClickHouse would
// drop it again, while a month within the retention is.
func TestRestoreUnderTTL(t *testing.T) {
	ctx := context.Background()
	src := openStore(t, true)
	old := mustMonth(t, "2026-02")
	recent := archive.MonthOf(time.Now().AddDate(0, 0, -40))
	loadMonth(t, src, old, 10)
	loadMonth(t, src, recent, 10)
	d, err := archive.NewDirTarget(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []archive.Month{old, recent} {
		if _, err := archive.New(src, d, testLogger(t)).Export(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	dst := openStore(t, false)
	a := archive.New(dst, d, testLogger(t))
	if _, err := a.Restore(ctx, old); err == nil || !strings.Contains(err.Error(), "past the") {
		t.Fatalf("restore past the retention under a TTL: %v", err)
	}
	if got := sums(t, dst, old); got["reports"].Rows != 0 || got["runs"].Rows != 0 {
		t.Fatalf("rows restored: %+v", got)
	}
	if _, err := a.Restore(ctx, recent); err != nil {
		t.Fatalf("restore within the retention: %v", err)
	}
	if got, want := sums(t, dst, recent), sums(t, src, recent); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored %+v, want %+v", got, want)
	}
}

// TestS3Damage damages an archive in the bucket behind ClickHouse's back:
// a replaced object stops the restore naming it, a deleted manifest makes
// the month unarchived, and nothing is loaded or dropped meanwhile.
func TestS3Damage(t *testing.T) {
	st := openStore(t, true)
	ctx := context.Background()
	m := mustMonth(t, "2026-07")
	loadMonth(t, st, m, 20)
	before := sums(t, st, m)
	url, be := s3ServerBackend(t, "bucket")
	target, err := archive.NewS3Target(url+"/bucket/sw", "", "", st)
	if err != nil {
		t.Fatal(err)
	}
	a := archive.New(st, target, testLogger(t))
	if _, err := a.Export(ctx, m); err != nil {
		t.Fatal(err)
	}
	garbage := []byte("PAR1 not really parquet PAR1")
	if _, err := be.PutObject("bucket", "sw/2026-07/runs.parquet", map[string]string{}, bytes.NewReader(garbage), int64(len(garbage)), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Drop(ctx, m); err == nil || !strings.Contains(err.Error(), "runs.parquet") {
		t.Fatalf("drop of a damaged archive: %v", err)
	}
	if got := sums(t, st, m); !reflect.DeepEqual(got, before) {
		t.Fatalf("the month changed: %+v", got)
	}
	if _, err := be.DeleteObject("bucket", "sw/2026-07/manifest.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Restore(ctx, m); !errors.Is(err, archive.ErrNoManifest) {
		t.Fatalf("restore without a manifest: %v", err)
	}
	list, err := a.List(ctx)
	if err != nil || len(list) != 1 || list[0].Archived {
		t.Fatalf("list: %+v %v", list, err)
	}
	// A new export mends it.
	if _, err := a.Export(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := a.Drop(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Restore(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := sums(t, st, m); !reflect.DeepEqual(got, before) {
		t.Fatalf("restored %+v, want %+v", got, before)
	}
}

// rawRows counts the rows of month m in each table's parts, before any
// deduplication.
func rawRows(t testing.TB, st *clickhouse.Store, m archive.Month) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, tb := range archive.Tables {
		stats, err := st.Months(context.Background(), tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stats {
			if s.Month == m {
				out[tb.Name] = s.Rows
			}
		}
	}
	return out
}
