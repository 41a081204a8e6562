package web

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the HTTP instruments of every route.
type metrics struct {
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
}

// newMetrics creates the HTTP instruments and registers them with reg.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncwatch_http_requests_total",
			Help: "HTTP requests served, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                        "syncwatch_http_request_duration_seconds",
			Help:                        "Time to serve an HTTP request, by route and method.",
			Buckets:                     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
			NativeHistogramBucketFactor: 1.1,
		}, []string{"route", "method"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.requestDuration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe counts a served request and its duration.
func (m *metrics) observe(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, method, statusText(code)).Inc()
	m.requestDuration.WithLabelValues(route, method).Observe(d.Seconds())
}
