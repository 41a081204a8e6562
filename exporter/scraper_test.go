package exporter_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncwatch/syncwatch/exporter"
	"github.com/syncwatch/syncwatch/exporter/exportertest"
)

// splitSource fails TypeStates or WindowStats alone, as told.
type splitSource struct {
	exporter.Source
	mu                   sync.Mutex
	statesErr, windowErr error
}

func (s *splitSource) fail(states, windows error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statesErr, s.windowErr = states, windows
}

func (s *splitSource) TypeStates(ctx context.Context, since time.Time) ([]exporter.TypeState, error) {
	s.mu.Lock()
	err := s.statesErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Source.TypeStates(ctx, since)
}

func (s *splitSource) WindowStats(ctx context.Context, q exporter.WindowQuery) ([]exporter.WindowStat, error) {
	s.mu.Lock()
	err := s.windowErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Source.WindowStats(ctx, q)
}

// TestScrapersFailAlone checks that each scraper has its own success: one
// that fails is marked 0 and serves its cached values while the other is
// refreshed and marked 1.
func TestScrapersFailAlone(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name            string
		states, windows error
		want            []string
	}{
		{
			name:   "type states fail",
			states: down,
			want: []string{
				"\n" + `syncwatch_exporter_scrape_success{scraper="type_states"} 0` + "\n",
				"\n" + `syncwatch_exporter_scrape_success{scraper="window_stats"} 1` + "\n",
				// cached type states
				"\n" + `syncwatch_consecutive_failures{source="haier",sync_type="stock"} 2` + "\n",
				// the pairs of the cached type states still get zeros
				"\n" + `syncwatch_window_runs{source="acme",status="pending",sync_type="order",window="1h"} 0` + "\n",
			},
		},
		{
			name:    "window stats fail",
			windows: down,
			want: []string{
				"\n" + `syncwatch_exporter_scrape_success{scraper="type_states"} 1` + "\n",
				"\n" + `syncwatch_exporter_scrape_success{scraper="window_stats"} 0` + "\n",
				// cached windows
				"\n" + `syncwatch_window_runs{source="haier",status="failed",sync_type="stock",window="1h"} 2` + "\n",
				"\n" + `syncwatch_exporter_cache_age_seconds 15` + "\n",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{now: testNow}
			src := &splitSource{Source: exportertest.Model{DS: handDataset()}}
			reg := prometheus.NewPedanticRegistry()
			c, err := exporter.New(src, exporter.Config{SyncTypes: testTypes, Now: clk.Now}, reg)
			if err != nil {
				t.Fatal(err)
			}
			h := c.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), "/metrics")
			scrape := func() string {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set(exporter.ScrapeTimeoutHeader, "1")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Body.String()
			}
			if body := scrape(); !strings.Contains(body, scrapeSuccess(1)) {
				t.Fatalf("first scrape:\n%s", body)
			}
			src.fail(tt.states, tt.windows)
			clk.Add(exporter.DefaultCacheTTL)
			body := scrape()
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("scrape lacks %q:\n%s", strings.TrimSpace(want), body)
				}
			}
			if err := c.Refresh(context.Background()); !errors.Is(err, down) {
				t.Errorf("Refresh = %v, want %v", err, down)
			}
		})
	}
}
