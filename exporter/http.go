package exporter

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// ScrapeTimeoutHeader is the header in which Prometheus sends its scrape
// timeout, in seconds.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// WrapHandler returns a handler that, for requests to path (every request
// when path is empty), waits for fresh ClickHouse-backed values before
// calling next, which serves the registry; other requests go straight to
// next. The wait ends before the scrape timeout the request states in
// ScrapeTimeoutHeader (Config.ScrapeTimeout when absent), keeping a margin
// to gather and encode: a slow or unreachable ClickHouse never fails a
// scrape, which then serves cached values and the ingest instruments with
// syncwatch_exporter_scrape_success 0.
func (c *Collector) WrapHandler(next http.Handler, path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path == "" || r.URL.Path == path {
			ctx, cancel := context.WithTimeout(r.Context(), c.scrapeBudget(r.Header.Get(ScrapeTimeoutHeader)))
			_ = c.Refresh(ctx)
			cancel()
		}
		next.ServeHTTP(w, r)
	})
}

// scrapeBudget is how long a scrape with the given timeout header may wait
// for a refresh: the timeout less a fifth of it, the margin being at least
// 100 ms and at most 1 s.
func (c *Collector) scrapeBudget(header string) time.Duration {
	timeout := c.cfg.ScrapeTimeout
	if secs, err := strconv.ParseFloat(header, 64); err == nil && secs > 0 && secs < 1e6 {
		timeout = time.Duration(secs * float64(time.Second))
	}
	margin := min(max(timeout/5, 100*time.Millisecond), time.Second)
	if margin >= timeout {
		return timeout / 2
	}
	return timeout - margin
}
