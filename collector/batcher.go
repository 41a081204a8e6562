package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	backoffpkg "github.com/syncwatch/syncwatch/internal/backoff"
	"github.com/syncwatch/syncwatch/synclog"
)

// ReportWriter stores batches of reports; the ClickHouse store is one.
//
// An error that has a method Permanent() bool returning true says that the
// reports themselves are at fault and the same insert would fail again
// (ClickHouse refused a value); the batcher then finds the reports at
// fault and sets them aside in the quarantine. Every other error is taken
// for ClickHouse being away, and the batch is retried with backoff.
// Inserting the same reports again must be harmless, for a batch is
// retried whole after a failure that may have stored part of it.
type ReportWriter interface {
	InsertReports(ctx context.Context, reports []synclog.Report) error
}

// permanent reports whether err says the insert would fail again.
func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// BatcherConfig tunes the batcher.
type BatcherConfig struct {
	// Size is the number of waiting reports that triggers an insert
	// (default 5000).
	Size int
	// MaxSize bounds the reports of one insert (default 4×Size). When
	// ClickHouse falls behind, an insert takes up to MaxSize of the reports
	// waiting rather than Size: ClickHouse spends a fixed cost on every
	// insert (a part per table, later merged), so fewer, larger inserts
	// catch up sooner — 5,000-row inserts cost the embedded engine about
	// 1.6 times as much CPU per row as 20,000-row ones.
	MaxSize int
	// MaxAge is how long a report may wait for a fuller batch (default 1s).
	MaxAge time.Duration
	// InsertTimeout bounds one insert (default 30s).
	InsertTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed inserts
	// (defaults 100ms and 30s); the wait doubles with equal jitter.
	MinBackoff, MaxBackoff time.Duration
}

func (c *BatcherConfig) defaults() {
	if c.Size <= 0 {
		c.Size = 5000
	}
	if c.MaxSize <= 0 {
		c.MaxSize = 4 * c.Size
	}
	if c.MaxAge <= 0 {
		c.MaxAge = time.Second
	}
	if c.InsertTimeout <= 0 {
		c.InsertTimeout = 30 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
}

// Batcher drains the spool into ClickHouse: by size or age, retrying with
// exponential backoff while inserts fail, and committing spool entries only
// after ClickHouse has them.
type Batcher struct {
	spool      *Spool
	quarantine *Quarantine
	writer     ReportWriter
	cfg        BatcherConfig
	log        logrus.FieldLogger
	metrics    *Metrics

	mu        sync.Mutex
	lastFlush time.Time
	lastErr   error
	lastErrAt time.Time
	failures  int

	// ctx bounds inserts; Stop cancels it when its deadline passes.
	ctx    context.Context
	cancel context.CancelFunc

	stop    chan struct{}
	stopped chan struct{}
	// flushCtx bounds the final flush; set by Stop before stop closes.
	flushCtx context.Context
}

// NewBatcher builds a batcher that drains spool into writer and sets the
// reports writer refuses for good aside in quarantine; Run starts it.
func NewBatcher(spool *Spool, quarantine *Quarantine, writer ReportWriter, cfg BatcherConfig, log logrus.FieldLogger, metrics *Metrics) *Batcher {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Batcher{spool: spool, quarantine: quarantine, writer: writer, cfg: cfg, log: log, metrics: metrics,
		ctx: ctx, cancel: cancel, stop: make(chan struct{}), stopped: make(chan struct{})}
}

// BatcherStatus describes the batcher for health reports.
type BatcherStatus struct {
	LastFlush time.Time
	LastError error
	LastErrAt time.Time
	// Failures counts consecutive failed inserts.
	Failures int
}

// Status returns the batcher's state.
func (b *Batcher) Status() BatcherStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BatcherStatus{LastFlush: b.lastFlush, LastError: b.lastErr, LastErrAt: b.lastErrAt, Failures: b.failures}
}

// Run drains the spool until Stop. It returns after the final flush.
func (b *Batcher) Run() {
	defer close(b.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-b.stop:
			b.finalFlush()
			return
		default:
		}
		n, oldest := b.spool.Pending()
		switch {
		case n >= b.cfg.Size || (n > 0 && time.Since(oldest) >= b.cfg.MaxAge):
			if !b.flushOne(b.ctx, false) {
				b.finalFlush()
				return
			}
			continue
		case n > 0:
			timer.Reset(b.cfg.MaxAge - time.Since(oldest))
		default:
			timer.Reset(time.Hour)
		}
		select {
		case <-b.stop:
			b.finalFlush()
			return
		case <-b.spool.Notify():
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// finalFlush inserts what it can before the deadline Stop gave; the rest
// stays in the spool for the next start.
func (b *Batcher) finalFlush() {
	ctx := b.flushCtx
	for ctx.Err() == nil {
		if n, _ := b.spool.Pending(); n == 0 {
			return
		}
		if !b.flushOne(ctx, true) {
			return
		}
	}
}

// flushOne inserts one batch, retrying until it succeeds, the batcher is
// stopped (normal mode) or ctx ends (final mode). It reports whether the
// batcher should go on.
func (b *Batcher) flushOne(ctx context.Context, final bool) bool {
	batch, err := b.spool.Read(b.cfg.MaxSize)
	if err != nil {
		b.fail(err)
		b.log.WithError(err).Error("cannot read the spool")
		return b.sleep(ctx, final)
	}
	if len(batch.Reports) == 0 {
		return true
	}
	for {
		err := b.store(ctx, batch.Reports)
		if err == nil {
			if cerr := b.spool.Commit(batch.Last); cerr != nil {
				// The reports are in ClickHouse; replaying them is harmless
				// because storage deduplicates by event id.
				b.log.WithError(cerr).Error("cannot remove inserted reports from the spool")
			}
			b.mu.Lock()
			b.lastFlush = time.Now()
			b.failures = 0
			b.mu.Unlock()
			return true
		}
		b.fail(err)
		b.log.WithError(err).WithField("reports", len(batch.Reports)).Warn("insert into clickhouse failed; retrying")
		if !b.sleep(ctx, final) {
			return false
		}
	}
}

// store inserts reports. When ClickHouse refuses them for good, it halves
// them until it finds the reports at fault, inserts the others and moves
// those to the quarantine, so that one bad report never stops the rest.
// It returns the first error that is not permanent: the caller retries
// the whole batch, which the writer takes again without doubling.
func (b *Batcher) store(ctx context.Context, reports []synclog.Report) error {
	err := b.insert(ctx, reports)
	if err == nil || !permanent(err) {
		return err
	}
	if len(reports) > 1 {
		mid := len(reports) / 2
		if err := b.store(ctx, reports[:mid]); err != nil {
			return err
		}
		return b.store(ctx, reports[mid:])
	}
	r := &reports[0]
	if qerr := b.quarantine.Add(reports, err); qerr != nil {
		return fmt.Errorf("set aside report %s refused by clickhouse (%v): %w", r.EventID, err, qerr)
	}
	b.metrics.quarantined.Inc()
	b.log.WithError(err).WithFields(logrus.Fields{"event_id": r.EventID, "run_id": r.RunID, "source": r.Source}).
		Error("clickhouse refused a report for good; it is in the quarantine (syncwatch quarantine list)")
	return nil
}

// insert makes one insert, bounded by InsertTimeout, and records it.
func (b *Batcher) insert(ctx context.Context, reports []synclog.Report) error {
	start := time.Now()
	ictx, cancel := context.WithTimeout(ctx, b.cfg.InsertTimeout)
	err := b.writer.InsertReports(ictx, reports)
	cancel()
	b.metrics.observeInsert(len(reports), time.Since(start), err)
	return err
}

func (b *Batcher) fail(err error) {
	b.mu.Lock()
	b.lastErr = err
	b.lastErrAt = time.Now()
	b.failures++
	b.mu.Unlock()
}

// sleep waits out the backoff; it returns false when waiting was cut short
// by Stop (normal mode) or by ctx (final mode).
func (b *Batcher) sleep(ctx context.Context, final bool) bool {
	b.mu.Lock()
	n := b.failures
	b.mu.Unlock()
	d := backoff(n, b.cfg.MinBackoff, b.cfg.MaxBackoff)
	t := time.NewTimer(d)
	defer t.Stop()
	if final {
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	select {
	case <-t.C:
		return true
	case <-b.stop:
		return false
	}
}

// backoff returns the wait after the nth consecutive failure.
func backoff(n int, min, max time.Duration) time.Duration { return backoffpkg.Wait(n, min, max) }

// Stop ends Run: it flushes what it can until ctx ends and leaves the rest
// in the spool.
func (b *Batcher) Stop(ctx context.Context) error {
	b.flushCtx = ctx
	close(b.stop)
	defer b.cancel()
	select {
	case <-b.stopped:
	case <-ctx.Done():
		b.cancel()
		<-b.stopped
	}
	if n, _ := b.spool.Pending(); n > 0 {
		b.log.WithField("reports", n).Warn("reports left in the spool for the next start")
		if ctx.Err() != nil {
			return errors.New("batcher: flush deadline passed; unflushed reports stay in the spool")
		}
	}
	return nil
}
