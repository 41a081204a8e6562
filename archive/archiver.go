package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/runs"
)

// ManifestFormat is the version of the manifest's own layout.
const ManifestFormat = 1

// Manifest describes one month's archive. It is written last, once every
// file is written and read back.
type Manifest struct {
	Format int `json:"format"`
	// Month is the archived month, YYYY-MM.
	Month string `json:"month"`
	// SchemaVersion is the migration version of the tables exported.
	SchemaVersion uint `json:"schema_version"`
	// CreatedAt is when the export finished.
	CreatedAt time.Time `json:"created_at"`
	// Files are the month's tables, one Parquet file each.
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one table's file in a month's archive.
type ManifestFile struct {
	Table string `json:"table"`
	File  string `json:"file"`
	FileSum
}

// file returns the entry of table, or nil.
func (m *Manifest) file(table string) *ManifestFile {
	for i := range m.Files {
		if m.Files[i].Table == table {
			return &m.Files[i]
		}
	}
	return nil
}

// ErrEmptyMonth says that the tables hold no row of a month to export.
var ErrEmptyMonth = errors.New("the tables hold no row of the month")

// Archiver exports, verifies, drops and restores months.
type Archiver struct {
	store  Store
	target Target
	log    logrus.FieldLogger
	now    func() time.Time
}

// New returns an archiver of store's months to target.
func New(store Store, target Target, log logrus.FieldLogger) *Archiver {
	return &Archiver{store: store, target: target, log: log, now: time.Now}
}

// Target returns where the archive lives.
func (a *Archiver) Target() Target { return a.target }

// Export writes month m of every table to the target, reads every file
// back, and writes the manifest last. A month whose rows change while it
// is exported, or a file that reads back other rows than the table holds,
// fails the export and leaves no manifest.
func (a *Archiver) Export(ctx context.Context, m Month) (*Manifest, error) {
	version, err := a.store.SchemaVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", m, err)
	}
	man := &Manifest{Format: ManifestFormat, Month: m.String(), SchemaVersion: version}
	sums := make([]Sum, len(Tables))
	empty := true
	for i, t := range Tables {
		if sums[i], err = a.store.MonthSum(ctx, t.Name, m); err != nil {
			return nil, fmt.Errorf("export %s of %s: %w", t.Name, m, err)
		}
		empty = empty && sums[i].Rows == 0
	}
	if empty {
		return nil, fmt.Errorf("export %s: %w", m, ErrEmptyMonth)
	}
	for i, t := range Tables {
		before := sums[i]
		loc := a.target.Location(m, fileName(t.Name))
		if err := a.store.ExportMonth(ctx, t.Name, m, loc); err != nil {
			return nil, fmt.Errorf("export %s of %s to %s: %w", t.Name, m, loc, err)
		}
		got, err := a.store.FileSum(ctx, t.Name, loc)
		if err != nil {
			return nil, fmt.Errorf("export %s of %s: read back %s: %w", t.Name, m, loc, err)
		}
		if got.Sum != before {
			return nil, fmt.Errorf("export %s of %s: %s holds %d rows (checksum %x), the table %d rows (checksum %x): the month changed while it was exported, or the file is not what was written", t.Name, m, loc, got.Rows, got.Checksum, before.Rows, before.Checksum)
		}
		man.Files = append(man.Files, ManifestFile{Table: t.Name, File: fileName(t.Name), FileSum: got})
	}
	man.CreatedAt = a.now().UTC()
	data, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", m, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("export %s: %w", m, err)
	}
	if err := a.target.WriteManifest(ctx, m, append(data, '\n')); err != nil {
		return nil, fmt.Errorf("export %s: %w", m, err)
	}
	a.log.WithFields(logrus.Fields{"month": m.String(), "target": a.target.String()}).Info("month archived")
	return man, nil
}

// Manifest reads and checks month m's manifest.
func (a *Archiver) Manifest(ctx context.Context, m Month) (*Manifest, error) {
	data, err := a.target.ReadManifest(ctx, m)
	if err != nil {
		return nil, err
	}
	var man Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("manifest of %s in %s is corrupt: %w", m, a.target, err)
	}
	if man.Format != ManifestFormat || man.Month != m.String() {
		return nil, fmt.Errorf("manifest of %s in %s is corrupt: format %d, month %q", m, a.target, man.Format, man.Month)
	}
	for _, t := range Tables {
		if man.file(t.Name) == nil {
			return nil, fmt.Errorf("manifest of %s in %s is corrupt: it lacks table %s", m, a.target, t.Name)
		}
	}
	return &man, nil
}

// checkFiles reads every file of the archive back and compares it with
// the manifest: size, SHA-256, rows and checksum.
func (a *Archiver) checkFiles(ctx context.Context, m Month, man *Manifest) error {
	for _, t := range Tables {
		f := man.file(t.Name)
		loc := a.target.Location(m, f.File)
		got, err := a.store.FileSum(ctx, t.Name, loc)
		if err != nil {
			return fmt.Errorf("archive of %s is damaged: cannot read %s: %w", m, loc, err)
		}
		if got != f.FileSum {
			return fmt.Errorf("archive of %s is damaged: %s is corrupt: %d bytes, sha256 %s, %d rows; the manifest says %d bytes, sha256 %s, %d rows", m, loc, got.Bytes, got.SHA256, got.Rows, f.Bytes, f.SHA256, f.Rows)
		}
	}
	return nil
}

// Verify checks that month m's archive is whole (every file as the
// manifest describes it) and that it holds what the tables hold.
func (a *Archiver) Verify(ctx context.Context, m Month) (*Manifest, error) {
	man, err := a.Manifest(ctx, m)
	if err != nil {
		return nil, err
	}
	if err := a.checkFiles(ctx, m, man); err != nil {
		return nil, err
	}
	for _, t := range Tables {
		have, err := a.store.MonthSum(ctx, t.Name, m)
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", m, err)
		}
		if f := man.file(t.Name); have != f.Sum {
			return nil, fmt.Errorf("verify %s: %s holds %d rows (checksum %x), the archive %d (checksum %x)", m, t.Name, have.Rows, have.Checksum, f.Rows, f.Checksum)
		}
	}
	return man, nil
}

// Drop verifies month m's archive against the tables and then drops the
// month from the tables that retention empties. Nothing is dropped when
// the archive does not verify.
func (a *Archiver) Drop(ctx context.Context, m Month) error {
	if _, err := a.Verify(ctx, m); err != nil {
		return fmt.Errorf("not dropping %s: %w", m, err)
	}
	for _, t := range Tables {
		if !t.Retained {
			continue
		}
		if err := a.store.DropMonth(ctx, t.Name, m); err != nil {
			return fmt.Errorf("drop %s of %s: %w", m, t.Name, err)
		}
	}
	a.log.WithField("month", m.String()).Info("archived month dropped from the tables")
	return nil
}

// RestoreResult says what Restore did with each table.
type RestoreResult struct {
	Month string `json:"month"`
	// Loaded names the tables the month was loaded into; the others
	// already held it.
	Loaded []string `json:"loaded"`
}

// Restore loads month m back into the tables from its archive. It checks
// every file against the manifest before it loads anything; a table that
// already holds the month's archived rows is left as it is, so restoring
// twice changes nothing.
func (a *Archiver) Restore(ctx context.Context, m Month) (RestoreResult, error) {
	res := RestoreResult{Month: m.String(), Loaded: []string{}}
	man, err := a.Manifest(ctx, m)
	if err != nil {
		return res, fmt.Errorf("restore %s: %w", m, err)
	}
	version, err := a.store.SchemaVersion(ctx)
	if err != nil {
		return res, fmt.Errorf("restore %s: %w", m, err)
	}
	if man.SchemaVersion > version {
		return res, fmt.Errorf("restore %s: the archive has schema version %d, the tables %d: migrate first", m, man.SchemaVersion, version)
	}
	if err := a.checkFiles(ctx, m, man); err != nil {
		return res, fmt.Errorf("restore %s: %w", m, err)
	}
	for _, t := range Tables {
		f := man.file(t.Name)
		loaded, err := a.store.RestoreMonth(ctx, t.Name, m, a.target.Location(m, f.File), f.Sum)
		if err != nil {
			return res, fmt.Errorf("restore %s of %s: %w", m, t.Name, err)
		}
		if loaded {
			res.Loaded = append(res.Loaded, t.Name)
		}
	}
	a.log.WithFields(logrus.Fields{"month": m.String(), "loaded": res.Loaded}).Info("month restored")
	return res, nil
}

// MonthStatus is one month as List reports it.
type MonthStatus struct {
	Month string `json:"month"`
	// InTables counts the month's rows in the tables (before
	// deduplication), per table.
	InTables map[string]uint64 `json:"in_tables"`
	// Archived is true when the target holds a manifest for the month.
	Archived bool `json:"archived"`
	// ArchivedAt is when the archive was written.
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
	// ArchivedRows counts the archived rows, per table.
	ArchivedRows map[string]uint64 `json:"archived_rows,omitempty"`
	// Error says why the month's manifest could not be read.
	Error string `json:"error,omitempty"`
}

// List returns every month the tables or the archive hold, oldest first.
func (a *Archiver) List(ctx context.Context) ([]MonthStatus, error) {
	byMonth := map[string]*MonthStatus{}
	get := func(m Month) *MonthStatus {
		s := byMonth[m.String()]
		if s == nil {
			s = &MonthStatus{Month: m.String(), InTables: map[string]uint64{}}
			byMonth[m.String()] = s
		}
		return s
	}
	for _, t := range Tables {
		stats, err := a.store.Months(ctx, t.Name)
		if err != nil {
			return nil, fmt.Errorf("list months of %s: %w", t.Name, err)
		}
		for _, st := range stats {
			get(st.Month).InTables[t.Name] = st.Rows
		}
	}
	months, err := a.target.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range months {
		s := get(m)
		man, err := a.Manifest(ctx, m)
		if err != nil {
			s.Error = err.Error()
			continue
		}
		s.Archived = true
		at := man.CreatedAt
		s.ArchivedAt = &at
		s.ArchivedRows = map[string]uint64{}
		for _, f := range man.Files {
			s.ArchivedRows[f.Table] = f.Rows
		}
	}
	out := make([]MonthStatus, 0, len(byMonth))
	for _, s := range byMonth {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b MonthStatus) int { return strings.Compare(a.Month, b.Month) })
	return out, nil
}

// ListRuns returns a page of the runs of month's archive, read in place
// (the tables need not hold the month), newest first. A month without an
// archive is runs.ErrNotFound.
func (a *Archiver) ListRuns(ctx context.Context, month time.Time, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error) {
	m := MonthOf(month)
	man, err := a.Manifest(ctx, m)
	if errors.Is(err, ErrNoManifest) {
		return nil, nil, fmt.Errorf("no archive of %s: %w", m, runs.ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	return a.store.ListRunsIn(ctx, a.target.Location(m, man.file("runs").File), opt)
}
