package exporter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncwatch/syncwatch/exporter"
)

// TestScrapeSuccessAtTheTTLBoundary: a scrape whose wrapper finds the cache
// still fresh, but whose values pass their TTL before the registry gathers
// them (the scrape is slow to gather, or the machine busy), served values
// that nothing failed to refresh, so syncwatch_exporter_scrape_success must
// be 1. With a scrape interval equal to the cache TTL, every other scrape
// lands at that boundary; a 0 there makes syncwatch:intake_degraded blink
// and resets the `for` of the silence alerts (found by alerts/e2e_test.go).
func TestScrapeSuccessAtTheTTLBoundary(t *testing.T) {
	f := newFixture(t, handDataset(), nil)
	if err := f.c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	gather := promhttp.HandlerFor(f.reg, promhttp.HandlerOpts{})
	scrape := func(between time.Duration) string {
		h := f.c.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.clock.Add(between) // time passes between the wrapper's check and the gathering
			gather.ServeHTTP(w, r)
		}), "/metrics")
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set(exporter.ScrapeTimeoutHeader, "1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String()
	}

	f.clock.Add(exporter.DefaultCacheTTL - time.Millisecond)
	body := scrape(2 * time.Millisecond)
	for _, want := range []string{scrapeSuccess(1), "\n" + `syncwatch_consecutive_failures{source="haier",sync_type="stock"} 2` + "\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape at the TTL boundary lacks %q:\n%s", want, body)
		}
	}

	// The scrape that follows refreshes (once the refresh the boundary
	// scrape may have started in the background is done) and is fresh too.
	f.clock.Add(exporter.DefaultCacheTTL)
	if body := scrape(0); !strings.Contains(body, scrapeSuccess(1)) {
		t.Errorf("next scrape:\n%s", body)
	}
}
