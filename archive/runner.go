package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// RunnerConfig is the schedule of the automatic archive.
type RunnerConfig struct {
	// Retention is how long months stay in the tables: a month is
	// archived and dropped once its end is Retention in the past.
	Retention time.Duration
	// Interval is the time between two passes.
	Interval time.Duration
	// KeepRestored is how long a month past the retention stays after its
	// latest write (a restore, or a late report) before it is dropped
	// again.
	KeepRestored time.Duration
}

// Runner is the automatic archive of serve: every Interval it archives,
// verifies and drops each month past the retention. It is the only thing
// that removes months when archiving is on (the tables have no TTL then),
// and it drops a month only through Archiver.Drop, which verifies the
// archive first.
type Runner struct {
	a   *Archiver
	cfg RunnerConfig
	log logrus.FieldLogger
	now func() time.Time

	passes      *prometheus.CounterVec
	exported    prometheus.Counter
	dropped     prometheus.Counter
	lastMonth   prometheus.Gauge
	lastSuccess prometheus.Gauge
	overdue     prometheus.Gauge
	lastOK      prometheus.Gauge

	mu           sync.Mutex
	last         PassResult
	lastArchived time.Time
}

// PassResult is what one pass did.
type PassResult struct {
	// At is when the pass finished.
	At time.Time `json:"at"`
	// Exported and Dropped are the months archived and dropped.
	Exported []string `json:"exported"`
	Dropped  []string `json:"dropped"`
	// Overdue are the months past the retention still in the tables
	// because they failed (months kept after a restore are not overdue).
	Overdue []string `json:"overdue"`
	// Err is the first failure of the pass.
	Err error `json:"-"`
}

// NewRunner returns the automatic archive of a, registering its metrics
// with reg.
func NewRunner(a *Archiver, cfg RunnerConfig, reg prometheus.Registerer, log logrus.FieldLogger) (*Runner, error) {
	if cfg.Retention <= 0 || cfg.Interval <= 0 || cfg.KeepRestored <= 0 {
		return nil, fmt.Errorf("archive runner: retention, interval and keep-restored must be above 0: %+v", cfg)
	}
	r := &Runner{
		a: a, cfg: cfg, log: log, now: time.Now,
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncwatch_archive_passes_total",
			Help: "Passes of the automatic archive, by outcome (success: every month past the retention archived and dropped; failure: one failed).",
		}, []string{"outcome"}),
		exported: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncwatch_archive_exported_months_total",
			Help: "Months the automatic archive exported to Parquet, with their manifest.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncwatch_archive_dropped_months_total",
			Help: "Months the automatic archive dropped from the tables once their archive verified.",
		}),
		lastMonth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncwatch_archive_last_archived_month_timestamp_seconds",
			Help: "Start of the newest month whose archive the automatic archive verified; 0 before the first.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncwatch_archive_last_success_timestamp_seconds",
			Help: "When a pass of the automatic archive last succeeded; 0 before the first.",
		}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncwatch_archive_last_pass_success",
			Help: "1 when the latest pass of the automatic archive succeeded (or none has run yet), 0 when it failed.",
		}),
		overdue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncwatch_archive_overdue_months",
			Help: "Months past the retention still in the tables after the latest pass because archiving them failed.",
		}),
	}
	r.lastOK.Set(1)
	for _, outcome := range []string{"success", "failure"} {
		r.passes.WithLabelValues(outcome)
	}
	for _, c := range []prometheus.Collector{r.passes, r.exported, r.dropped, r.lastMonth, r.lastSuccess, r.lastOK, r.overdue} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register archive metrics: %w", err)
		}
	}
	return r, nil
}

// Run makes a pass at once and then every Interval until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.Pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass archives and drops every month past the retention, oldest first,
// and stops at the first failure (a later month is never dropped while an
// older one waits).
func (r *Runner) Pass(ctx context.Context) PassResult {
	res := r.pass(ctx)
	res.At = r.now().UTC()
	outcome := "success"
	if res.Err != nil {
		outcome = "failure"
		r.log.WithError(res.Err).WithField("overdue", res.Overdue).Error("archive pass failed")
		r.lastOK.Set(0)
	} else {
		r.lastSuccess.Set(float64(res.At.Unix()))
		r.lastOK.Set(1)
	}
	r.passes.WithLabelValues(outcome).Inc()
	r.overdue.Set(float64(len(res.Overdue)))
	r.mu.Lock()
	r.last = res
	r.mu.Unlock()
	return res
}

func (r *Runner) pass(ctx context.Context) PassResult {
	res := PassResult{Exported: []string{}, Dropped: []string{}, Overdue: []string{}}
	now := r.now()
	// The months past the retention, with their latest write.
	lastWrite := map[Month]time.Time{}
	var months []Month
	for _, t := range Tables {
		if !t.Retained {
			continue
		}
		stats, err := r.a.store.Months(ctx, t.Name)
		if err != nil {
			res.Err = fmt.Errorf("list months of %s: %w", t.Name, err)
			return res
		}
		for _, st := range stats {
			if st.Month.End().Add(r.cfg.Retention).After(now) {
				continue
			}
			if _, seen := lastWrite[st.Month]; !seen {
				months = append(months, st.Month)
			}
			if st.LastWrite.After(lastWrite[st.Month]) {
				lastWrite[st.Month] = st.LastWrite
			}
		}
	}
	slices.SortFunc(months, func(a, b Month) int { return a.Start.Compare(b.Start) })
	for i, m := range months {
		if now.Sub(lastWrite[m]) < r.cfg.KeepRestored {
			// Restored (or written late) lately: kept for a while.
			continue
		}
		if err := r.archive(ctx, m, &res); err != nil {
			res.Err = err
			for _, rest := range months[i:] {
				res.Overdue = append(res.Overdue, rest.String())
			}
			return res
		}
	}
	return res
}

// archive makes sure month m has a verified archive, exporting it when it
// has none or one that no longer matches, and drops it.
func (r *Runner) archive(ctx context.Context, m Month, res *PassResult) error {
	if _, err := r.a.Verify(ctx, m); err != nil {
		if ctx.Err() != nil {
			return err
		}
		if !errors.Is(err, ErrNoManifest) {
			r.log.WithError(err).WithField("month", m.String()).Warn("archive does not verify: exporting the month again")
		}
		if _, err := r.a.Export(ctx, m); err != nil {
			return err
		}
		r.exported.Inc()
		res.Exported = append(res.Exported, m.String())
	}
	if err := r.a.Drop(ctx, m); err != nil {
		return err
	}
	r.dropped.Inc()
	res.Dropped = append(res.Dropped, m.String())
	r.mu.Lock()
	if m.Start.After(r.lastArchived) {
		r.lastArchived = m.Start
		r.lastMonth.Set(float64(m.Start.Unix()))
	}
	r.mu.Unlock()
	return nil
}

// Last returns the result of the latest pass, and false before the first.
func (r *Runner) Last() (PassResult, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, !r.last.At.IsZero()
}
