package web

import (
	"net/http"
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

// observe counts a served request and its duration. Every label comes
// from a fixed set, whatever the request says: the method is folded by
// methodLabel, the route is a registered route or "unmatched", and the
// code a status code or "other".
func (m *metrics) observe(route, method string, code int, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, statusText(code)).Inc()
	m.requestDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// methodLabel folds a request method into the fixed set the metrics and
// the access log use: the methods of HTTP that syncwatch could serve, and
// "other" for the rest, so that made-up methods add no series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return method
	}
	return "other"
}
