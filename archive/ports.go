package archive

import (
	"context"
	"time"

	"github.com/syncwatch/syncwatch/runs"
)

// Location is where ClickHouse reads or writes one file of the archive:
// a path on the engine's file system (the file() table function) or the
// URL of an object in an S3-compatible bucket (the s3() table function).
type Location struct {
	// Path is an absolute file path, for the file() table function.
	Path string
	// URL is a path-style object URL (http://host:9000/bucket/key), for
	// the s3() table function.
	URL string
	// KeyID and Secret are the bucket's credentials; empty for a public
	// bucket.
	KeyID, Secret string
}

// String names the location without its credentials.
func (l Location) String() string {
	if l.URL != "" {
		return l.URL
	}
	return l.Path
}

// Sum identifies the rows of one month of one table: how many there are
// and a checksum of their content (the wrapping sum of a 64-bit hash of
// every row's text form), computed by ClickHouse over the table's
// deduplicated rows or over an archived file alike. It does not depend on
// the rows' order or on how they are spread over parts.
type Sum struct {
	Rows     uint64 `json:"rows"`
	Checksum uint64 `json:"checksum"`
}

// FileSum is what ClickHouse reads back from an archived file: its rows'
// Sum, the file's size and the SHA-256 of its bytes.
type FileSum struct {
	Sum
	Bytes  uint64 `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// MonthStat is one month of one table as the table holds it.
type MonthStat struct {
	Month Month
	// Rows counts the rows of the month's active parts (before
	// deduplication).
	Rows uint64
	// LastWrite is when the newest of the month's parts was written (by
	// an insert, a merge or a restore).
	LastWrite time.Time
}

// Store is what the archive asks of ClickHouse. *clickhouse.Store
// implements it.
type Store interface {
	// SchemaVersion returns the version of the applied migrations.
	SchemaVersion(ctx context.Context) (uint, error)
	// Months returns the months table holds, oldest first.
	Months(ctx context.Context, table string) ([]MonthStat, error)
	// MonthSum returns the Sum of a month of table, after deduplication.
	MonthSum(ctx context.Context, table string, m Month) (Sum, error)
	// ExportMonth writes a month of table, deduplicated, as Parquet with
	// ZSTD to dst, replacing whatever is there.
	ExportMonth(ctx context.Context, table string, m Month, dst Location) error
	// FileSum reads an archived Parquet file back.
	FileSum(ctx context.Context, table string, src Location) (FileSum, error)
	// RestoreMonth loads a month of table from src when the table does
	// not hold it, and reports whether it loaded anything: a month that
	// already holds rows with the Sum want is left as it is; one that
	// holds other rows is an error and is left as it is.
	RestoreMonth(ctx context.Context, table string, m Month, src Location, want Sum) (bool, error)
	// DropMonth drops a month of table.
	DropMonth(ctx context.Context, table string, m Month) error
	// ListRunsIn returns a page of the runs of an archived runs file,
	// newest first, and the cursor of the next page.
	ListRunsIn(ctx context.Context, src Location, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error)
}

// BlobStore is how an S3 target writes and reads small objects (the
// manifests) through ClickHouse's s3() table function. *clickhouse.Store
// implements it.
type BlobStore interface {
	// WriteBlob writes data as the whole object at dst.
	WriteBlob(ctx context.Context, dst Location, data []byte) error
	// ReadBlobs returns the objects matching the glob in src's URL (with
	// * and ?), keyed by their path (bucket/key).
	ReadBlobs(ctx context.Context, src Location) (map[string][]byte, error)
}

// Target is where the archive lives.
type Target interface {
	// Location returns where ClickHouse finds file of month m.
	Location(m Month, file string) Location
	// WriteManifest stores a month's manifest so that it appears whole or
	// not at all. It is written last: a month without a manifest has no
	// archive, whatever files it holds.
	WriteManifest(ctx context.Context, m Month, data []byte) error
	// ReadManifest returns a month's manifest, or an error wrapping
	// ErrNoManifest.
	ReadManifest(ctx context.Context, m Month) ([]byte, error)
	// Manifests returns the months that have a manifest.
	Manifests(ctx context.Context) ([]Month, error)
	// String describes the target without credentials.
	String() string
}
