package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoManifest says that a month has no manifest, so no archive.
var ErrNoManifest = errors.New("no manifest")

// DirTarget keeps the archive in a directory, one subdirectory per month
// (2026-01/reports.parquet, …, 2026-01/manifest.json). ClickHouse writes the
// Parquet files with file(), so the directory must be one the engine sees
// at the same path: the embedded engine always does; a ClickHouse server
// only on its own machine, in a directory its user_files_path allows.
// syncwatch writes the manifest itself, to a temporary file renamed into
// place.
type DirTarget struct {
	dir string
}

// NewDirTarget returns the target for dir, which it creates.
func NewDirTarget(dir string) (*DirTarget, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("archive directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("archive directory: %w", err)
	}
	return &DirTarget{dir: abs}, nil
}

// Location returns the file's path in the month's directory.
func (d *DirTarget) Location(m Month, file string) Location {
	return Location{Path: filepath.Join(d.dir, m.String(), file)}
}

// WriteManifest writes the manifest to a temporary file, syncs it, renames
// it into place and syncs the directory.
func (d *DirTarget) WriteManifest(_ context.Context, m Month, data []byte) error {
	dir := filepath.Join(d.dir, m.String())
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".manifest-*.tmp")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync archive directory: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync archive directory: %w", err)
	}
	return nil
}

// ReadManifest reads the month's manifest.
func (d *DirTarget) ReadManifest(_ context.Context, m Month) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, m.String(), ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("month %s in %s: %w", m, d, ErrNoManifest)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return b, nil
}

// Manifests lists the month directories that hold a manifest.
func (d *DirTarget) Manifests(context.Context) ([]Month, error) {
	matches, err := filepath.Glob(filepath.Join(d.dir, "*", ManifestName))
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	return monthsOf(matches), nil
}

// String returns the directory.
func (d *DirTarget) String() string { return d.dir }

// monthsOf returns the months named by the parent directories of paths,
// sorted, ignoring names that are not months.
func monthsOf(paths []string) []Month {
	var out []Month
	for _, p := range paths {
		if m, err := ParseMonth(path.Base(path.Dir(filepath.ToSlash(p)))); err == nil {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Month) int { return a.Start.Compare(b.Start) })
	return slices.CompactFunc(out, func(a, b Month) bool { return a.Start.Equal(b.Start) })
}

// S3Target keeps the archive in an S3-compatible bucket under a prefix
// (<prefix>/2026-01/reports.parquet, …). ClickHouse reads and writes every
// object, the manifest too, with its s3() table function; the manifest is
// uploaded last, and an object is stored whole or not at all.
type S3Target struct {
	base          string // http(s)://host/bucket/prefix, no trailing slash
	keyID, secret string
	blobs         BlobStore
}

// NewS3Target returns the target for a path-style URL
// (http://host:9000/bucket/prefix), with credentials that may be empty for
// a public bucket.
func NewS3Target(rawURL, keyID, secret string, blobs BlobStore) (*S3Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("archive s3 url %q: want a path-style http(s)://host[:port]/bucket[/prefix]", rawURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(u.Path, "*?{}'\\") {
		return nil, fmt.Errorf("archive s3 url %q: credentials go in the credentials file; no query, fragment, quotes or glob characters", rawURL)
	}
	return &S3Target{base: strings.TrimRight(u.String(), "/"), keyID: keyID, secret: secret, blobs: blobs}, nil
}

func (s *S3Target) loc(rel string) Location {
	return Location{URL: s.base + "/" + rel, KeyID: s.keyID, Secret: s.secret}
}

// Location returns the object's URL.
func (s *S3Target) Location(m Month, file string) Location {
	return s.loc(m.String() + "/" + file)
}

// WriteManifest uploads the manifest, in one PUT.
func (s *S3Target) WriteManifest(ctx context.Context, m Month, data []byte) error {
	if err := s.blobs.WriteBlob(ctx, s.Location(m, ManifestName), data); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// ReadManifest downloads the month's manifest.
func (s *S3Target) ReadManifest(ctx context.Context, m Month) ([]byte, error) {
	got, err := s.blobs.ReadBlobs(ctx, s.Location(m, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	for _, b := range got {
		return b, nil
	}
	return nil, fmt.Errorf("month %s in %s: %w", m, s, ErrNoManifest)
}

// Manifests lists the months with a manifest object.
func (s *S3Target) Manifests(ctx context.Context) ([]Month, error) {
	got, err := s.blobs.ReadBlobs(ctx, s.loc("*/"+ManifestName))
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	paths := make([]string, 0, len(got))
	for p := range got {
		paths = append(paths, p)
	}
	return monthsOf(paths), nil
}

// String returns the bucket URL.
func (s *S3Target) String() string { return s.base }
