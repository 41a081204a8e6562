package exporter

import (
	"cmp"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Handler returns the /metrics handler of g together with c: it answers
// what promhttp.HandlerFor(prometheus.Gatherers{g, registry of c}, opts)
// answers, the same families, negotiation and error handling, but the
// families that change only when c refreshes its cache (the scrapers' and
// the configuration's) are gathered, encoded in each negotiated format and
// compressed once per refresh, not at every scrape. The families that
// change at every scrape (g's, and c's own scrape_success, cache_age,
// folded_sources, scrape_duration and refreshes_total) are gathered and
// encoded at every scrape, as promhttp does.
//
// c must not be registered in g (New with a nil Registerer): a family both
// in g and in c is a gathering error, as with prometheus.Gatherers. Wrap
// the handler in WrapHandler, so that a scrape waits for the refresh of a
// stale cache.
// Requests with name[] filters, content encodings other than gzip and
// identity, and options that limit or time requests
// (MaxRequestsInFlight, Timeout, CoalesceGather, Registry,
// EnableOpenMetricsTextCreatedSamples) are served by promhttp itself.
//
// With gzip, the answer is one gzip member whose DEFLATE stream is the
// live families compressed per scrape with the cached families' blocks,
// compressed beforehand, spliced in (RFC 1951 blocks end byte-aligned
// after a sync flush and never refer back beyond their own start).
func (c *Collector) Handler(g prometheus.Gatherer, opts promhttp.HandlerOpts) http.Handler {
	all := prometheus.Gatherers{g, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		reg := prometheus.NewRegistry()
		if err := reg.Register(c); err != nil {
			return nil, err
		}
		return reg.Gather()
	})}
	fallback := promhttp.HandlerFor(all, opts)
	if opts.MaxRequestsInFlight > 0 || opts.Timeout > 0 || opts.CoalesceGather || opts.Registry != nil ||
		opts.EnableOpenMetricsTextCreatedSamples {
		return fallback
	}
	// promhttp negotiates the format and the encoding of every answer:
	// asked with no families, it sets the headers it would set.
	empty := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return nil, nil })
	return &handler{
		c: c, g: g, opts: opts, fallback: fallback,
		negotiator: promhttp.HandlerFor(empty, promhttp.HandlerOpts{
			EnableOpenMetrics: opts.EnableOpenMetrics, AcceptedFormats: opts.AcceptedFormats,
			DisableCompression: opts.DisableCompression, OfferedCompressions: opts.OfferedCompressions,
			ProcessStartTime: opts.ProcessStartTime,
		}),
		flates: sync.Pool{New: func() any {
			w, err := flate.NewWriter(nil, flate.DefaultCompression)
			if err != nil {
				panic(err) // only for a level out of range
			}
			return w
		}},
	}
}

// handler is Collector.Handler's.
type handler struct {
	c          *Collector
	g          prometheus.Gatherer
	opts       promhttp.HandlerOpts
	fallback   http.Handler
	negotiator http.Handler
	// flates are the DEFLATE writers of the live families.
	flates sync.Pool
}

func (h *handler) ServeHTTP(rsp http.ResponseWriter, req *http.Request) {
	if req.URL != nil && len(req.URL.Query()["name[]"]) > 0 {
		h.fallback.ServeHTTP(rsp, req)
		return
	}
	neg := headerRecorder{h: http.Header{}}
	h.negotiator.ServeHTTP(&neg, req)
	format := expfmt.Format(neg.h.Get("Content-Type"))
	encoding := neg.h.Get("Content-Encoding")
	if neg.code != 0 && neg.code != http.StatusOK || encoding != "" && encoding != "gzip" || format == "" {
		h.fallback.ServeHTTP(rsp, req)
		return
	}

	fams, err := h.gather()
	if err != nil {
		if h.opts.ErrorLog != nil {
			h.opts.ErrorLog.Println("error gathering metrics:", err)
		}
		switch h.opts.ErrorHandling {
		case promhttp.PanicOnError:
			panic(err)
		case promhttp.ContinueOnError:
			if len(fams) == 0 {
				httpError(rsp, err)
				return
			}
		case promhttp.HTTPErrorOnError:
			httpError(rsp, err)
			return
		}
	}
	// promhttp adds to Vary and sets the others.
	for k, v := range neg.h {
		if k == "Vary" {
			rsp.Header()[k] = append(rsp.Header()[k], v...)
			continue
		}
		rsp.Header()[k] = v
	}

	var w io.Writer = rsp
	var gz *gzipSplicer
	if encoding == "gzip" {
		fw := h.flates.Get().(*flate.Writer)
		defer h.flates.Put(fw)
		gz = newGzipSplicer(rsp, fw)
		w = gz
	}
	// handleError is promhttp's: it reports whether to stop sending.
	handleError := func(err error) bool {
		if err == nil {
			return false
		}
		if h.opts.ErrorLog != nil {
			h.opts.ErrorLog.Println("error encoding and sending metric family:", err)
		}
		switch h.opts.ErrorHandling {
		case promhttp.PanicOnError:
			panic(err)
		case promhttp.HTTPErrorOnError:
			return true
		}
		return false
	}
	enc := expfmt.NewEncoder(w, format)
	for _, f := range fams {
		var err error
		switch {
		case f.live != nil:
			err = enc.Encode(f.live)
		case gz != nil:
			e := f.cached.encoded(format)
			if err = e.err; err == nil {
				err = gz.splice(e.raw, e.deflated)
			}
		default:
			e := f.cached.encoded(format)
			if err = e.err; err == nil {
				_, err = rsp.Write(e.raw)
			}
		}
		if handleError(err) {
			return
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		// The final "# EOF" of OpenMetrics.
		if handleError(closer.Close()) {
			return
		}
	}
	if gz != nil {
		handleError(gz.Close())
	}
}

// httpError is promhttp's answer to a failed gathering.
func httpError(rsp http.ResponseWriter, err error) {
	rsp.Header().Del("Content-Encoding")
	http.Error(rsp, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
}

// servedFamily is one family of an answer: gathered for this scrape
// (live), or kept from the refresh (cached).
type servedFamily struct {
	name   string
	live   *dto.MetricFamily
	cached *cachedFamily
}

// gather returns the families of a scrape sorted by name: g's and c's
// live ones gathered now, the cached ones of the parts served now.
func (h *handler) gather() ([]servedFamily, error) {
	st, now := h.c.view()
	var errs []error
	mfs, err := h.g.Gather()
	if err != nil {
		errs = append(errs, err)
	}
	reg := prometheus.NewRegistry()
	own, err := func() ([]*dto.MetricFamily, error) {
		if err := reg.Register(metricsCollector(h.c.live(st, now))); err != nil {
			return nil, err
		}
		return reg.Gather()
	}()
	if err != nil {
		errs = append(errs, err)
	}
	out := make([]servedFamily, 0, len(mfs)+len(own)+32)
	seen := make(map[string]bool, cap(out))
	for _, list := range [][]*dto.MetricFamily{mfs, own} {
		for _, mf := range list {
			if seen[mf.GetName()] {
				errs = append(errs, fmt.Errorf("exporter: family %s gathered twice: is the collector registered in the gatherer?", mf.GetName()))
				continue
			}
			seen[mf.GetName()] = true
			out = append(out, servedFamily{name: mf.GetName(), live: mf})
		}
	}
	for _, p := range h.c.cachedParts(st, now) {
		fams, err := p.families()
		if err != nil {
			errs = append(errs, err)
		}
		for _, f := range fams {
			if seen[f.name] {
				errs = append(errs, fmt.Errorf("exporter: family %s gathered twice: is the collector registered in the gatherer?", f.name))
				continue
			}
			seen[f.name] = true
			out = append(out, servedFamily{name: f.name, cached: f})
		}
	}
	slices.SortFunc(out, func(a, b servedFamily) int { return cmp.Compare(a.name, b.name) })
	return out, errors.Join(errs...)
}

// metricsCollector collects its metrics, unchecked.
type metricsCollector []prometheus.Metric

func (metricsCollector) Describe(chan<- *prometheus.Desc) {}

func (m metricsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, x := range m {
		ch <- x
	}
}

// headerRecorder keeps the headers and status of an answer and discards
// its body.
type headerRecorder struct {
	h    http.Header
	code int
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *headerRecorder) WriteHeader(code int)        { r.code = code }

// servedCache holds the cached parts in the served format: per part of
// the collector's cache (or the configuration's) and generation.
type servedCache struct {
	mu    sync.Mutex
	parts map[partKey]*cachedPart
}

// partKey identifies a cached part: the index of its scraper (the number
// of scrapers for the configuration's metrics) and its generation.
type partKey struct {
	index int
	gen   uint64
}

// cachedParts returns the parts a scrape of st at now serves, and forgets
// the others.
func (c *Collector) cachedParts(st cacheState, now time.Time) []*cachedPart {
	served := c.served(st, now)
	keys := make([]partKey, 0, len(served)+1)
	metrics := make([][]prometheus.Metric, 0, len(served)+1)
	for _, i := range served {
		keys = append(keys, partKey{index: i, gen: st.parts[i].gen})
		metrics = append(metrics, st.parts[i].metrics)
	}
	keys = append(keys, partKey{index: len(c.scrapers)})
	metrics = append(metrics, c.static)

	c.encoded.mu.Lock()
	defer c.encoded.mu.Unlock()
	out := make([]*cachedPart, len(keys))
	parts := make(map[partKey]*cachedPart, len(keys))
	for i, k := range keys {
		p := c.encoded.parts[k]
		if p == nil {
			p = &cachedPart{metrics: metrics[i]}
		}
		out[i], parts[k] = p, p
	}
	c.encoded.parts = parts
	return out
}

// cachedPart is one part's metrics, gathered once, with their families
// encoded in each format asked for.
type cachedPart struct {
	metrics []prometheus.Metric

	once sync.Once
	fams []*cachedFamily
	err  error
}

// families gathers the part's metrics into families, sorted by name and
// checked as a registry checks them, once.
func (p *cachedPart) families() ([]*cachedFamily, error) {
	p.once.Do(func() {
		reg := prometheus.NewRegistry()
		if p.err = reg.Register(metricsCollector(p.metrics)); p.err != nil {
			return
		}
		var mfs []*dto.MetricFamily
		mfs, p.err = reg.Gather()
		for _, mf := range mfs {
			p.fams = append(p.fams, &cachedFamily{name: mf.GetName(), mf: mf, byFormat: map[expfmt.Format]*encodedFamily{}})
		}
	})
	return p.fams, p.err
}

// cachedFamily is a family of a cached part and its encodings.
type cachedFamily struct {
	name string
	mf   *dto.MetricFamily

	mu       sync.Mutex
	byFormat map[expfmt.Format]*encodedFamily
}

// encodedFamily is a family in one format: raw, and raw compressed into
// DEFLATE blocks that end with a sync flush, not final.
type encodedFamily struct {
	once          sync.Once
	raw, deflated []byte
	err           error
}

// encoded returns f in format, encoding and compressing it on first use.
// The formats are the few promhttp negotiates.
func (f *cachedFamily) encoded(format expfmt.Format) *encodedFamily {
	f.mu.Lock()
	e := f.byFormat[format]
	if e == nil {
		e = &encodedFamily{}
		f.byFormat[format] = e
	}
	f.mu.Unlock()
	e.once.Do(func() { e.raw, e.deflated, e.err = encodeFamily(f.mf, format) })
	return e
}

// encodeFamily encodes mf in format, as it stands in an exposition of
// several families (OpenMetrics's "# EOF" is the answer's), and
// compresses it.
func encodeFamily(mf *dto.MetricFamily, format expfmt.Format) (raw, deflated []byte, err error) {
	var b bytesWriter
	if err := expfmt.NewEncoder(&b, format).Encode(mf); err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", mf.GetName(), err)
	}
	var d bytesWriter
	fw, err := flate.NewWriter(&d, flate.DefaultCompression)
	if err != nil {
		return nil, nil, err
	}
	if _, err := fw.Write(b); err != nil {
		return nil, nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, nil, err
	}
	return b, d, nil
}

// bytesWriter appends what is written to it.
type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}
