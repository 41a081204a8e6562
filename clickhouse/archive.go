package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/archive"
	"github.com/syncwatch/syncwatch/runs"
)

// The store implements the archive's ports: archive.Store, and
// archive.BlobStore for the manifests of a bucket. Every file is read and
// written by ClickHouse itself, through the file() and s3() table
// functions, so that the rows never pass through syncwatch.

var partitionID = regexp.MustCompile(`^[0-9]{6}$`)

// archiveTable checks that table is one the archive keeps.
func archiveTable(table string) error {
	if !slices.ContainsFunc(archive.Tables, func(t archive.Table) bool { return t.Name == table }) {
		return fmt.Errorf("table %q is not archived", table)
	}
	return nil
}

// monthCond selects one month's partition; the partition id is bound.
const monthCond = `_partition_id = {a_partition:String}`

// rowChecksum is the content checksum of a set of rows: the wrapping sum
// of a hash of each row's text form. The text form (with ISO date times,
// stated so that every engine and session renders alike) is the same for a
// table's row and for the row read back from Parquet, where enums become
// strings and low-cardinality strings plain ones.
const rowChecksum = `count() AS rows, sum(cityHash64(toString(tuple(*)))) AS checksum`

// checksumSettings fix the text form the checksum hashes.
const checksumSettings = `date_time_output_format = 'iso', do_not_merge_across_partitions_select_final = 1`

// sqlString quotes s as a ClickHouse string literal.
func sqlString(s string) string { return "'" + quotedEscaper.Replace(s) + "'" }

// tableFunction renders the file() or s3() table function that reaches
// loc in format, with structure when it is not empty. Paths, URLs and
// credentials come from the configuration, never from a request, and are
// quoted as literals: table functions take no bound parameters.
func tableFunction(loc archive.Location, format, structure string) (string, error) {
	var args []string
	switch {
	case loc.URL != "":
		args = append(args, sqlString(loc.URL))
		if loc.KeyID != "" || loc.Secret != "" {
			args = append(args, sqlString(loc.KeyID), sqlString(loc.Secret))
		} else {
			args = append(args, "NOSIGN")
		}
	case loc.Path != "":
		if !strings.HasPrefix(loc.Path, "/") {
			return "", fmt.Errorf("archive path %q: want an absolute path", loc.Path)
		}
		args = append(args, sqlString(loc.Path))
	default:
		return "", fmt.Errorf("archive location is empty")
	}
	args = append(args, sqlString(format))
	if structure != "" {
		args = append(args, sqlString(structure))
	}
	fn := "file"
	if loc.URL != "" {
		fn = "s3"
	}
	return fn + "(" + strings.Join(args, ", ") + ")", nil
}

// truncateSetting lets an insert into loc replace the file or object.
func truncateSetting(loc archive.Location) string {
	if loc.URL != "" {
		return "s3_truncate_on_insert = 1" + locSettings(loc)
	}
	return "engine_file_truncate_on_insert = 1"
}

// locSettings are the settings of every statement that reaches loc, each
// with a leading ", ". A bucket that does not answer fails the statement
// within a second or two: with ClickHouse's defaults (up to 100 retries of
// a request) a read from a dead bucket took more than five minutes here,
// holding an archive pass and a shutdown waiting for it, while the archive
// repeats a failed pass anyway.
func locSettings(loc archive.Location) string {
	if loc.URL == "" {
		return ""
	}
	return ", s3_retry_attempts = 2, s3_connect_timeout_ms = 2000, s3_max_single_read_retries = 2"
}

// structure returns table's columns as a table function's structure
// argument ("name Type, …").
func (s *Store) structure(ctx context.Context, table string) (string, error) {
	out, err := s.eng.selectRows(ctx, `SELECT name, type FROM system.columns
WHERE database = currentDatabase() AND table = {a_table:String} ORDER BY position`, Params{"a_table": table})
	if err != nil {
		return "", fmt.Errorf("columns of %s: %w", table, err)
	}
	cols, err := decodeRows[Column](out)
	if err != nil {
		return "", err
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("table %s is missing; run migrations first", table)
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = quoteIdent(c.Name) + " " + c.Type
	}
	return strings.Join(parts, ", "), nil
}

// SchemaVersion returns the version of the applied migrations.
func (s *Store) SchemaVersion(context.Context) (uint, error) {
	m, err := s.Migrator()
	if err != nil {
		return 0, err
	}
	v, dirty, err := m.Version()
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if dirty {
		return 0, fmt.Errorf("schema version %d is dirty: repair it with syncwatch migrate", v)
	}
	return v, nil
}

// Months returns the months table holds, oldest first.
func (s *Store) Months(ctx context.Context, table string) ([]archive.MonthStat, error) {
	if err := archiveTable(table); err != nil {
		return nil, err
	}
	out, err := s.eng.selectRows(ctx, `SELECT partition_id, sum(rows) AS rows, toUnixTimestamp(max(modification_time)) AS last_write
FROM system.parts WHERE database = currentDatabase() AND table = {a_table:String} AND active
GROUP BY partition_id ORDER BY partition_id`, Params{"a_table": table})
	if err != nil {
		return nil, fmt.Errorf("months of %s: %w", table, err)
	}
	rows, err := decodeRows[struct {
		PartitionID string `json:"partition_id"`
		Rows        uint64 `json:"rows"`
		LastWrite   int64  `json:"last_write"`
	}](out)
	if err != nil {
		return nil, err
	}
	stats := make([]archive.MonthStat, 0, len(rows))
	for _, r := range rows {
		m, err := archive.ParseMonth(r.PartitionID[:min(4, len(r.PartitionID))] + "-" + r.PartitionID[min(4, len(r.PartitionID)):])
		if err != nil {
			return nil, fmt.Errorf("partition %q of %s is not a month: %w", r.PartitionID, table, err)
		}
		stats = append(stats, archive.MonthStat{Month: m, Rows: r.Rows, LastWrite: time.Unix(r.LastWrite, 0).UTC()})
	}
	return stats, nil
}

// MonthSum returns the Sum of a month of table after deduplication (FINAL).
func (s *Store) MonthSum(ctx context.Context, table string, m archive.Month) (archive.Sum, error) {
	if err := archiveTable(table); err != nil {
		return archive.Sum{}, err
	}
	return s.sumOf(ctx, quoteIdent(table)+" FINAL WHERE "+monthCond, Params{"a_partition": m.PartitionID()}, "")
}

func (s *Store) sumOf(ctx context.Context, from string, p Params, settings string) (archive.Sum, error) {
	out, err := s.eng.selectRows(ctx, `SELECT `+rowChecksum+` FROM `+from+` SETTINGS `+checksumSettings+settings, p)
	if err != nil {
		return archive.Sum{}, err
	}
	var sum archive.Sum
	if err := json.Unmarshal(firstLine(out), &sum); err != nil {
		return archive.Sum{}, fmt.Errorf("decode checksum %.200q: %w", out, err)
	}
	return sum, nil
}

// ExportMonth writes a month of table, deduplicated, to dst as Parquet
// compressed with ZSTD, replacing what is there.
func (s *Store) ExportMonth(ctx context.Context, table string, m archive.Month, dst archive.Location) error {
	if err := archiveTable(table); err != nil {
		return err
	}
	fn, err := tableFunction(dst, "Parquet", "")
	if err != nil {
		return err
	}
	q := `INSERT INTO FUNCTION ` + fn + ` SELECT * FROM ` + quoteIdent(table) + ` FINAL WHERE ` + monthCond +
		` SETTINGS ` + truncateSetting(dst) + `, output_format_parquet_compression_method = 'zstd', do_not_merge_across_partitions_select_final = 1`
	return redact(s.eng.exec(ctx, q, Params{"a_partition": m.PartitionID()}), dst)
}

// FileSum reads an archived file of table back: its rows, parsed with the
// table's column types, and its bytes.
func (s *Store) FileSum(ctx context.Context, table string, src archive.Location) (archive.FileSum, error) {
	if err := archiveTable(table); err != nil {
		return archive.FileSum{}, err
	}
	st, err := s.structure(ctx, table)
	if err != nil {
		return archive.FileSum{}, err
	}
	fn, err := tableFunction(src, "Parquet", st)
	if err != nil {
		return archive.FileSum{}, err
	}
	sum, err := s.sumOf(ctx, fn, nil, locSettings(src))
	if err != nil {
		return archive.FileSum{}, redact(err, src)
	}
	raw, err := tableFunction(src, "RawBLOB", "")
	if err != nil {
		return archive.FileSum{}, err
	}
	out, err := s.eng.selectRows(ctx, `SELECT lower(hex(SHA256(raw_blob))) AS sha256, length(raw_blob) AS bytes FROM `+raw+` SETTINGS max_threads = 1`+locSettings(src), nil)
	if err != nil {
		return archive.FileSum{}, redact(err, src)
	}
	var f archive.FileSum
	if err := json.Unmarshal(firstLine(out), &f); err != nil {
		return archive.FileSum{}, fmt.Errorf("decode digest %.200q: %w", out, err)
	}
	f.Sum = sum
	return f, nil
}

// RestoreMonth loads a month of table from src through a staging table:
// the rows are inserted there, checked against want, and the staging
// partition is attached to the table in one step, so that a failure at
// any point leaves the table as it was. A month the table already holds
// with the Sum want is left alone (restoring twice adds nothing); one
// that holds other rows is refused.
func (s *Store) RestoreMonth(ctx context.Context, table string, m archive.Month, src archive.Location, want archive.Sum) (bool, error) {
	if err := archiveTable(table); err != nil {
		return false, err
	}
	have, err := s.MonthSum(ctx, table, m)
	if err != nil {
		return false, err
	}
	switch {
	case have == want:
		return false, nil
	case have.Rows != 0:
		return false, fmt.Errorf("%s already holds %d rows of %s that differ from the archive's %d; drop the month first to restore it", table, have.Rows, m, want.Rows)
	}
	if err := s.checkRestoreKept(ctx, table, m); err != nil {
		return false, err
	}
	st, err := s.structure(ctx, table)
	if err != nil {
		return false, err
	}
	fn, err := tableFunction(src, "Parquet", st)
	if err != nil {
		return false, err
	}
	staging := quoteIdent("archive_restore_" + table + "_" + m.PartitionID())
	dropStaging := func() error { return s.eng.exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+staging, nil) }
	if err := dropStaging(); err != nil {
		return false, err
	}
	if err := s.eng.exec(ctx, `CREATE TABLE `+staging+` AS `+quoteIdent(table), nil); err != nil {
		return false, fmt.Errorf("create staging table: %w", err)
	}
	defer func() { _ = dropStaging() }()
	if ttl, err := s.hasTTL(ctx, "archive_restore_"+table+"_"+m.PartitionID()); err != nil {
		return false, err
	} else if ttl {
		// The staging table must keep the month whatever its age.
		if err := s.eng.exec(ctx, `ALTER TABLE `+staging+` REMOVE TTL`, nil); err != nil {
			return false, fmt.Errorf("staging table: %w", err)
		}
	}
	if err := s.eng.exec(ctx, `INSERT INTO `+staging+` SELECT * FROM `+fn+` SETTINGS async_insert = 0`+locSettings(src), nil); err != nil {
		return false, redact(fmt.Errorf("load %s: %w", src, err), src)
	}
	got, err := s.sumOf(ctx, staging+` FINAL WHERE `+monthCond, Params{"a_partition": m.PartitionID()}, "")
	if err != nil {
		return false, err
	}
	if got != want {
		return false, fmt.Errorf("%s loaded %d rows (checksum %x) of %s, the archive says %d (checksum %x); nothing restored", src, got.Rows, got.Checksum, m, want.Rows, want.Checksum)
	}
	if err := s.eng.exec(ctx, `ALTER TABLE `+quoteIdent(table)+` ATTACH PARTITION ID {a_partition:String} FROM `+staging, Params{"a_partition": m.PartitionID()}); err != nil {
		return false, fmt.Errorf("attach %s: %w", m, err)
	}
	return true, s.markMonth(ctx, table, m)
}

// checkRestoreKept refuses to restore a month that the table's TTL would
// remove again: with archiving on, syncwatch removes the TTL and drops
// archived months itself.
func (s *Store) checkRestoreKept(ctx context.Context, table string, m archive.Month) error {
	ttl, err := s.hasTTL(ctx, table)
	if err != nil || !ttl {
		return err
	}
	if m.End().Add(s.cfg.Retention).Before(time.Now()) {
		return fmt.Errorf("%s is past the %s retention of %s, whose TTL would remove it again; restore with archiving on, which hands retention to the archiver", m, s.cfg.Retention, table)
	}
	return nil
}

// hasTTL reports whether table has a TTL.
func (s *Store) hasTTL(ctx context.Context, table string) (bool, error) {
	out, err := s.eng.selectRows(ctx, `SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {a_table:String}`, Params{"a_table": table})
	if err != nil {
		return false, fmt.Errorf("read ttl of %s: %w", table, err)
	}
	var row struct {
		EngineFull string `json:"engine_full"`
	}
	if err := json.Unmarshal(firstLine(out), &row); err != nil {
		return false, fmt.Errorf("table %s is missing; run migrations first: %w", table, err)
	}
	return strings.Contains(row.EngineFull, " TTL "), nil
}

// DropMonth drops a month of table.
func (s *Store) DropMonth(ctx context.Context, table string, m archive.Month) error {
	if err := archiveTable(table); err != nil {
		return err
	}
	id := m.PartitionID()
	if !partitionID.MatchString(id) {
		return fmt.Errorf("partition id %q", id)
	}
	// ALTER takes no bound parameters in its partition expression; id is
	// six digits.
	if err := s.eng.exec(ctx, `ALTER TABLE `+quoteIdent(table)+` DROP PARTITION ID '`+id+`'`, nil); err != nil {
		return err
	}
	return s.markMonth(ctx, table, m)
}

// markMonth marks the diagnostics' summaries of a month of runs that was
// dropped or restored stale.
func (s *Store) markMonth(ctx context.Context, table string, m archive.Month) error {
	if table != "runs" {
		return nil
	}
	var days []string
	for d := m.Start; d.Before(m.End()); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
	}
	return s.markBaselines(ctx, `SELECT arrayJoin({m_days:Array(Date)}) AS day`, Params{"m_days": days})
}

// WriteBlob writes data as the whole object (or file) at dst.
func (s *Store) WriteBlob(ctx context.Context, dst archive.Location, data []byte) error {
	fn, err := tableFunction(dst, "RawBLOB", "raw_blob String")
	if err != nil {
		return err
	}
	return redact(s.eng.exec(ctx, `INSERT INTO FUNCTION `+fn+` SELECT {a_blob:String} SETTINGS `+truncateSetting(dst), Params{"a_blob": string(data)}), dst)
}

// ReadBlobs returns the objects (or files) matching the glob of src, by
// path; none when nothing matches.
func (s *Store) ReadBlobs(ctx context.Context, src archive.Location) (map[string][]byte, error) {
	fn, err := tableFunction(src, "RawBLOB", "raw_blob String")
	if err != nil {
		return nil, err
	}
	out, err := s.eng.selectRows(ctx, `SELECT _path AS path, raw_blob FROM `+fn+` SETTINGS s3_ignore_file_doesnt_exist = 1, engine_file_skip_empty_files = 0`+locSettings(src), nil)
	if err != nil {
		return nil, redact(err, src)
	}
	rows, err := decodeRows[struct {
		Path string `json:"path"`
		Blob string `json:"raw_blob"`
	}](out)
	if err != nil {
		return nil, err
	}
	blobs := make(map[string][]byte, len(rows))
	for _, r := range rows {
		blobs[r.Path] = []byte(r.Blob)
	}
	return blobs, nil
}

// ListRunsIn returns a page of the runs archived at src (a runs.parquet of
// the archive), newest first, as ListRuns does for the table. The file
// holds the runs already deduplicated, so it is read without FINAL.
func (s *Store) ListRunsIn(ctx context.Context, src archive.Location, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error) {
	if opt.Limit < 1 || opt.Limit > 10000 {
		return nil, nil, fmt.Errorf("limit %d: must be between 1 and 10000", opt.Limit)
	}
	st, err := s.structure(ctx, "runs")
	if err != nil {
		return nil, nil, err
	}
	fn, err := tableFunction(src, "Parquet", st)
	if err != nil {
		return nil, nil, err
	}
	p := Params{}
	cond := where(opt.Filter, p)
	if opt.After != nil {
		cond += " AND (started_at, run_id) < ({c_started:DateTime64(3, 'UTC')}, {c_run:String})"
		p["c_started"] = opt.After.StartedAt
		p["c_run"] = opt.After.RunID
	}
	p["limit"] = opt.Limit + 1
	out, err := s.eng.selectRows(ctx, `SELECT `+runColumns+` FROM `+fn+` WHERE `+cond+`
ORDER BY started_at DESC, run_id DESC LIMIT {limit:UInt32}`+ifSettings(locSettings(src)), p)
	if err != nil {
		return nil, nil, redact(fmt.Errorf("list archived runs: %w", err), src)
	}
	found, err := decodeRows[runs.Run](out)
	if err != nil {
		return nil, nil, err
	}
	var next *runs.Cursor
	if len(found) > opt.Limit {
		found = found[:opt.Limit]
		last := found[len(found)-1]
		next = &runs.Cursor{StartedAt: last.StartedAt, RunID: last.RunID}
	}
	return found, next, nil
}

// redact removes loc's secret from err's text, should ClickHouse quote
// the statement in an error.
func redact(err error, loc archive.Location) error {
	if err == nil || loc.Secret == "" || !strings.Contains(err.Error(), loc.Secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), loc.Secret, "[secret]"))
}

// ifSettings turns the ", a = 1, …" of locSettings into a SETTINGS clause,
// or nothing.
func ifSettings(s string) string {
	if s == "" {
		return ""
	}
	return " SETTINGS " + strings.TrimPrefix(s, ", ")
}
