package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/runs"
	"github.com/syncwatch/syncwatch/web"
)

// queryTimeout bounds one request's queries.
const queryTimeout = 60 * time.Second

// QueryContext bounds the queries of one request.
func QueryContext(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), queryTimeout)
}

// paramsOK answers 400 naming the parameter when perr is set, and reports
// whether the request may go on.
func paramsOK(c *gin.Context, perr *ParamError) bool {
	if perr != nil {
		RespondParamError(c, perr)
		return false
	}
	return true
}

// RespondParamError answers 400 naming the parameter.
func RespondParamError(c *gin.Context, e *ParamError) {
	c.JSON(http.StatusBadRequest, web.ErrorResponse{Error: e.Msg, Field: e.Field})
}

// fetch runs one read of the store within the request's time bound. When
// it fails, fetch answers (see QueryFailed) and returns false.
func fetch[T any](c *gin.Context, what string, read func(ctx context.Context) (T, error)) (T, bool) {
	ctx, cancel := QueryContext(c)
	defer cancel()
	v, err := read(ctx)
	if err != nil {
		QueryFailed(c, what, err)
		return v, false
	}
	return v, true
}

// QueryFailed answers a failed store query without its details, which
// the log keeps: 503 when it took too long, else 500.
func QueryFailed(c *gin.Context, what string, err error) {
	web.Log(c).WithError(err).WithField("query", what).Error("query failed")
	if errors.Is(err, context.DeadlineExceeded) {
		c.JSON(http.StatusServiceUnavailable, web.ErrorResponse{Error: what + " took too long: narrow the filter or the time range"})
		return
	}
	c.JSON(http.StatusInternalServerError, web.ErrorResponse{Error: what + " failed; the server log has the details (request id " + c.Writer.Header().Get("X-Request-ID") + ")"})
}

// orEmpty returns s, or an empty slice for nil, so that JSON shows [].
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// withAttributes gives every run a non-nil attribute map, so that JSON
// shows {}.
func withAttributes(list []runs.Run) []runs.Run {
	for i := range list {
		if list[i].Attributes == nil {
			list[i].Attributes = map[string]string{}
		}
	}
	return orEmpty(list)
}
