// Package archive keeps the months that retention removes from ClickHouse:
// it exports a month of every table to Parquet (ZSTD) through ClickHouse's
// own file() and s3() table functions, writes a manifest of what it wrote
// (rows, checksums, schema version) last, verifies the archive against the
// tables, and only then drops the month. Archived months come back with
// Restore, or are read in place.
//
// The package owns its ports: Store (what it asks of ClickHouse, implemented
// by *clickhouse.Store) and Target (where the archive lives: a directory or
// an S3-compatible bucket).
package archive

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Month is a calendar month in UTC, the unit of the tables' partitions.
type Month struct {
	// Start is the first instant of the month, UTC.
	Start time.Time
}

var monthPattern = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})$`)

// ParseMonth parses a month written YYYY-MM (2026-01). Its error names the
// month and the expected form.
func ParseMonth(s string) (Month, error) {
	m := monthPattern.FindStringSubmatch(s)
	if m == nil {
		return Month{}, fmt.Errorf("month %q: want YYYY-MM, such as 2026-01", s)
	}
	y, _ := strconv.Atoi(m[1])
	mon, _ := strconv.Atoi(m[2])
	if y < 1970 || mon < 1 || mon > 12 {
		return Month{}, fmt.Errorf("month %q: want YYYY-MM with a month 01..12 from 1970 on", s)
	}
	return Month{Start: time.Date(y, time.Month(mon), 1, 0, 0, 0, 0, time.UTC)}, nil
}

// MonthOf returns the month that holds t.
func MonthOf(t time.Time) Month {
	t = t.UTC()
	return Month{Start: time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)}
}

// String returns the month as YYYY-MM.
func (m Month) String() string { return m.Start.Format("2006-01") }

// PartitionID returns the month as the tables' partition id, YYYYMM.
func (m Month) PartitionID() string { return m.Start.Format("200601") }

// End returns the first instant of the next month.
func (m Month) End() time.Time { return m.Start.AddDate(0, 1, 0) }

// IsZero reports whether m is the zero Month.
func (m Month) IsZero() bool { return m.Start.IsZero() }

// Table is one table the archive keeps.
type Table struct {
	// Name is the table's name in ClickHouse.
	Name string
	// Retained is true for the tables that retention empties (reports,
	// runs): those are the tables the archiver drops months of once they
	// are archived. The others (run_activity: a few rows a day) are
	// archived with the month and kept.
	Retained bool
}

// Tables are the tables of a month's archive, in the order they are
// exported and restored.
var Tables = []Table{
	{Name: "reports", Retained: true},
	{Name: "runs", Retained: true},
	{Name: "run_activity"},
}

// fileName is the name of a table's Parquet file in a month's archive.
func fileName(table string) string { return table + ".parquet" }

// ManifestName is the name of a month's manifest.
const ManifestName = "manifest.json"
