package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/syncwatch/syncwatch/runs"

	"github.com/gin-gonic/gin"
)

// StatsResponse holds statistics over runs.
type StatsResponse struct {
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	GroupBy []string  `json:"group_by"`
	// Interval is the bucket length as a Go duration, "" without buckets.
	Interval        string      `json:"interval"`
	IntervalSeconds int64       `json:"interval_seconds"`
	Stats           []StatsView `json:"stats"`
}

var statsParams = []string{"source", "sync_type", "status", "since", "until", "q", "group_by", "interval"}

// parseStatsRequest reads the parameters of the statistics.
func parseStatsRequest(raw string, env Env) (runs.StatsQuery, *ParamError) {
	var q runs.StatsQuery
	v, perr := QueryValues(raw, statsParams...)
	if perr != nil {
		return q, perr
	}
	if q.Filter, perr = parseFilter(v, env, filterOptions{statuses: true, defaultSpan: 24 * time.Hour}); perr != nil {
		return q, perr
	}
	allowed := []runs.GroupBy{runs.BySyncType, runs.BySource, runs.ByStatus}
	for _, g := range ParamList(v, "group_by") {
		gb := runs.GroupBy(strings.ToLower(g))
		if !slices.Contains(allowed, gb) {
			return q, BadParam("group_by", "unknown group_by %q: allowed are sync_type, source, status (combinable)", Clip(g))
		}
		if !slices.Contains(q.GroupBy, gb) {
			q.GroupBy = append(q.GroupBy, gb)
		}
	}
	iv, perr := Single(v, "interval")
	if perr != nil || iv == "" {
		return q, perr
	}
	d, err := parseInterval(strings.TrimSpace(iv))
	if err != nil {
		return q, BadParam("interval", "interval %q is not a duration: use a Go duration such as 5m, 1h or 24h", Clip(iv))
	}
	if d < time.Minute {
		return q, BadParam("interval", "interval %s is shorter than the minimum of 1m", d)
	}
	if d%time.Second != 0 {
		return q, BadParam("interval", "interval %s must be a whole number of seconds", d)
	}
	if d > 366*24*time.Hour {
		return q, BadParam("interval", "interval %s is longer than the maximum of 8784h (366 days)", d)
	}
	// Buckets are aligned to multiples of the interval since the epoch.
	sec := int64(d / time.Second)
	first := floorDiv(q.Filter.Since.UnixMilli()/1000, sec)
	last := floorDiv((q.Filter.Until.UnixMilli()-1)/1000, sec)
	if n := last - first + 1; n > MaxBuckets {
		return q, BadParam("interval", "interval %s makes %d buckets between since and until: at most %d; choose a longer interval or a shorter range", d, n, MaxBuckets)
	}
	q.Interval = d
	return q, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// handleStats serves GET /api/v1/stats and /api/monitor/statistics/.
func (a *API) handleStats(c *gin.Context) {
	q, perr := parseStatsRequest(c.Request.URL.RawQuery, a.env())
	if !paramsOK(c, perr) {
		return
	}
	stats, ok := fetch(c, "computing statistics", func(ctx context.Context) ([]runs.Stats, error) {
		return a.q.Stats(ctx, q)
	})
	if !ok {
		return
	}
	resp := StatsResponse{Since: q.Filter.Since, Until: q.Filter.Until, GroupBy: []string{}, Stats: statsViews(stats, langOf(c))}
	for _, g := range q.GroupBy {
		resp.GroupBy = append(resp.GroupBy, string(g))
	}
	if q.Interval > 0 {
		resp.Interval = q.Interval.String()
		resp.IntervalSeconds = int64(q.Interval / time.Second)
	}
	c.JSON(http.StatusOK, resp)
}

// parseInterval reads a Go duration (90s, 1h30m) or a Prometheus one with
// days, weeks or years (7d, 1w).
func parseInterval(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}
