package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"
)

// ArchiveReader reads the runs of an archived month in place, from its
// Parquet file, without restoring it. *archive.Archiver implements it.
type ArchiveReader interface {
	// ListRuns returns a page of the runs of the month that starts at
	// month, newest first, and the cursor of the next page; a month
	// without an archive is runs.ErrNotFound.
	ListRuns(ctx context.Context, month time.Time, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, error)
}

// ArchiveParam is the run list's parameter that reads an archived month.
const ArchiveParam = "archive"

// splitArchiveParam takes the archive parameter out of a raw query string:
// it returns the month it names (zero when absent) and the other
// parameters.
func splitArchiveParam(raw string) (time.Time, string, *ParamError) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		// QueryValues reports the malformed query.
		return time.Time{}, raw, nil
	}
	vals, ok := v[ArchiveParam]
	if !ok {
		return time.Time{}, raw, nil
	}
	if len(vals) != 1 {
		return time.Time{}, "", BadParam(ArchiveParam, "archive must be given once")
	}
	month, err := time.Parse("2006-01", vals[0])
	if err != nil {
		return time.Time{}, "", BadParam(ArchiveParam, "archive %q: want a month, YYYY-MM, such as 2026-01", vals[0])
	}
	v.Del(ArchiveParam)
	return month, v.Encode(), nil
}

// listArchivedRuns answers the run list for an archived month.
func (a *API) listArchivedRuns(c *gin.Context, month time.Time, opt runs.ListOptions) ([]runs.Run, *runs.Cursor, bool) {
	if a.archive == nil {
		RespondParamError(c, BadParam(ArchiveParam, "archive: this server has no archive configured (--archive-dir or --archive-s3-url)"))
		return nil, nil, false
	}
	ctx, cancel := QueryContext(c)
	defer cancel()
	list, next, err := a.archive.ListRuns(ctx, month, opt)
	if errors.Is(err, runs.ErrNotFound) {
		c.JSON(http.StatusNotFound, web.ErrorResponse{Error: fmt.Sprintf("no archive of %s", month.Format("2006-01")), Field: ArchiveParam})
		return nil, nil, false
	}
	if err != nil {
		QueryFailed(c, "reading the archive", err)
		return nil, nil, false
	}
	return list, next, true
}
