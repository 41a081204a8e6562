package digest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/config"
	"github.com/syncwatch/syncwatch/internal/backoff"
	"github.com/syncwatch/syncwatch/notify"
)

// Defaults of the scheduler.
const (
	DefaultTick      = 30 * time.Second
	DefaultLease     = 2 * time.Minute
	DefaultRetryFor  = 6 * time.Hour
	DefaultLateAfter = 10 * time.Minute
	// sendTimeout bounds one attempt to send; the lease must outlast it.
	sendTimeout = time.Minute
	// retryFirst and retryMax bound the wait between attempts.
	retryFirst = 30 * time.Second
	retryMax   = 10 * time.Minute
)

// Outcomes of deliveries, as syncwatch_digest_deliveries_total labels
// them.
const (
	OutcomeSent     = "sent"
	OutcomeSentLate = "sent_late"
	OutcomeFailed   = "failed"
	OutcomeGaveUp   = "gave_up"
	OutcomeSkipped  = "skipped"
)

var outcomes = []string{OutcomeSent, OutcomeSentLate, OutcomeFailed, OutcomeGaveUp, OutcomeSkipped}

// ContentBuilder builds the content of a digest; *Builder is one.
type ContentBuilder interface {
	Build(ctx context.Context, req Request) (*Content, error)
}

// ServiceConfig configures the scheduler.
type ServiceConfig struct {
	Digests []config.Digest
	// RetryFor bounds how long a failing delivery is retried, from its
	// first claim; DefaultRetryFor when zero.
	RetryFor time.Duration
	// Instance names this process in the ledger; random when empty.
	Instance string
	// Tick is how often the schedule is checked; DefaultTick when zero.
	Tick time.Duration
	// Lease is how long a claim holds before its first outcome;
	// DefaultLease when zero.
	Lease time.Duration
	// LateAfter is how long after its firing a digest counts as late;
	// DefaultLateAfter when zero.
	LateAfter time.Duration
}

// ServiceDeps are the parts of the scheduler.
type ServiceDeps struct {
	Log        logrus.FieldLogger
	Registerer prometheus.Registerer
	Builder    ContentBuilder
	Ledger     Ledger
	// Channels are the configured channels by name.
	Channels map[string]notify.Channel
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service sends the configured digests on their schedules, each period
// once to each channel (see Ledger), retrying failures with backoff.
type Service struct {
	cfg      ServiceConfig
	log      logrus.FieldLogger
	builder  ContentBuilder
	ledger   Ledger
	channels map[string]notify.Channel
	now      func() time.Time
	started  time.Time

	deliveries *prometheus.CounterVec
	failing    *prometheus.GaugeVec
	lastSent   *prometheus.GaugeVec
	errs       *prometheus.CounterVec

	mu sync.Mutex
	// done are deliveries known to be over; next, the time of the next
	// attempt of a delivery this instance holds; unrecorded, the sent
	// rows that the ledger has not taken yet (never sent again).
	done       map[unit]bool
	next       map[unit]time.Time
	unrecorded map[unit]Delivery
	// health: the failing deliveries and the last error of the
	// scheduler itself.
	failingNow map[unit]string
	lastErr    string
	lastErrAt  time.Time
	lastTick   time.Time
}

// NewService checks the digests' channels and registers the metrics.
func NewService(cfg ServiceConfig, d ServiceDeps) (*Service, error) {
	if d.Builder == nil || d.Ledger == nil || d.Log == nil || d.Registerer == nil {
		return nil, errors.New("digest: a builder, a ledger, a logger and a registerer are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = DefaultLateAfter
	}
	if cfg.Instance == "" {
		cfg.Instance = newInstance()
	}
	for _, dg := range cfg.Digests {
		for _, c := range dg.Channels {
			if d.Channels[c] == nil {
				return nil, fmt.Errorf("digest %q: channel %q is not configured", dg.Name, c)
			}
		}
	}
	s := &Service{
		cfg: cfg, log: d.Log.WithField("component", "digest"), builder: d.Builder, ledger: d.Ledger, channels: d.Channels, now: d.Now,
		done: map[unit]bool{}, next: map[unit]time.Time{}, unrecorded: map[unit]Delivery{}, failingNow: map[unit]string{},
	}
	s.started = s.now()
	s.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncwatch_digest_deliveries_total",
		Help: "Digest deliveries by this instance, by digest, channel and outcome: sent, sent_late, failed (an attempt that will be retried), gave_up (refused for good or failing past --digest-retry-for), skipped (nothing to say).",
	}, []string{"digest", "channel", "outcome"})
	s.failing = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "syncwatch_digest_delivery_failing",
		Help: "1 while this instance's latest delivery of a digest to a channel is failing or was given up, 0 once one succeeds.",
	}, []string{"digest", "channel"})
	s.lastSent = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "syncwatch_digest_last_sent_timestamp_seconds",
		Help: "When this instance last sent a digest to a channel, in Unix seconds; 0 before the first.",
	}, []string{"digest", "channel"})
	s.errs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncwatch_digest_scheduler_errors_total",
		Help: "Failures of the digest scheduler to read or write the ledger in ClickHouse or to build a digest's content, by digest.",
	}, []string{"digest"})
	for _, dg := range cfg.Digests {
		s.errs.WithLabelValues(dg.Name)
		for _, c := range dg.Channels {
			for _, o := range outcomes {
				s.deliveries.WithLabelValues(dg.Name, c, o)
			}
			s.failing.WithLabelValues(dg.Name, c)
			s.lastSent.WithLabelValues(dg.Name, c)
		}
	}
	for _, c := range []prometheus.Collector{s.deliveries, s.failing, s.lastSent, s.errs} {
		if err := d.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("digest: register metrics: %w", err)
		}
	}
	return s, nil
}

// newInstance names this process: host, process id and a random suffix.
func newInstance() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Instance is this scheduler's name in the ledger.
func (s *Service) Instance() string { return s.cfg.Instance }

// Run checks the schedules every tick until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick sends what is due now: the periods whose firing came since the
// last tick, those missed while syncwatch was down within their
// digest's catch_up, and the retries whose time came.
func (s *Service) Tick(ctx context.Context) {
	now := s.now()
	s.flushUnrecorded(ctx)
	for i := range s.cfg.Digests {
		if ctx.Err() != nil {
			return
		}
		d := &s.cfg.Digests[i]
		if err := s.tickDigest(ctx, d, now); err != nil {
			s.errs.WithLabelValues(d.Name).Inc()
			s.setErr(now, err)
			s.log.WithError(err).WithField("digest", d.Name).Error("digest scheduler")
		}
	}
	s.mu.Lock()
	s.lastTick = now
	s.mu.Unlock()
}

func (s *Service) setErr(now time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr, s.lastErrAt = err.Error(), now
}

// tickDigest handles the due deliveries of one digest.
func (s *Service) tickDigest(ctx context.Context, d *config.Digest, now time.Time) error {
	window := max(d.CatchUpAfter, s.cfg.RetryFor) + s.cfg.Tick
	due := DuePeriods(d, now.Add(-window), now)
	if len(due) == 0 {
		return nil
	}
	var todo []Due
	for _, du := range due {
		for _, c := range d.Channels {
			if !s.isDone(unit{d.Name, c, du.Period.Start.UTC()}) {
				todo = append(todo, du)
				break
			}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	rows, err := s.ledger.Deliveries(ctx, d.Name, todo[0].Period.Start)
	if err != nil {
		return err
	}
	st := states(rows)
	var errs []error
	for _, du := range todo {
		var content *Content
		for _, c := range d.Channels {
			u := unit{d.Name, c, du.Period.Start.UTC()}
			if s.isDone(u) {
				continue
			}
			cur := st[u]
			if cur == nil {
				cur = &state{}
			}
			if cur.done {
				if cur.sent {
					// Another instance got it through: this one's
					// failures of the pair are history.
					s.failing.WithLabelValues(d.Name, c).Set(0)
					s.clearFailing(u)
				}
				s.markDone(u)
				continue
			}
			// A period that was never claimed is owed if it came due
			// while this process ran or within catch_up.
			if cur.claim == nil && du.At.Before(now.Add(-d.CatchUpAfter)) && du.At.Before(s.started) {
				// Missed beyond catch_up: never owed again by this
				// process.
				s.markDone(u)
				continue
			}
			if err := s.deliver(ctx, d, du, c, u, cur, &content, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// deliver takes one delivery a step further: claims it when free, sends
// it when this instance holds it and its time came, records the outcome.
func (s *Service) deliver(ctx context.Context, d *config.Digest, du Due, channel string, u unit, cur *state, content **Content, now time.Time) error {
	mine := cur.claim != nil && cur.claim.Instance == s.cfg.Instance
	if cur.claim != nil && !mine && now.Before(cur.lease) {
		return nil // another instance holds it
	}
	if mine {
		if next, ok := s.nextAttempt(u); ok && now.Before(next) {
			return nil
		}
		if _, ok := s.nextAttempt(u); !ok && now.Before(cur.lease) {
			// Claimed by this instance name before a restart of the
			// scheduler object (same name): wait for the lease.
			return nil
		}
	}
	gen := uint32(1)
	if cur.claim != nil {
		gen = cur.claim.Generation
	}
	base := Delivery{Digest: d.Name, Channel: channel, PeriodStart: du.Period.Start.UTC(), PeriodEnd: du.Period.End.UTC(), Instance: s.cfg.Instance}
	if !mine {
		if cur.claim != nil {
			gen++
		}
		claim := base
		claim.Kind, claim.Generation, claim.At, claim.LeaseUntil = KindClaim, gen, now, now.Add(s.cfg.Lease)
		won, err := s.ledger.ClaimDelivery(ctx, claim)
		if err != nil {
			return err
		}
		if won.Instance != s.cfg.Instance {
			return nil
		}
		if cur.firstClaim.IsZero() {
			cur.firstClaim = now
		}
	}
	base.Generation = gen
	if *content == nil {
		c, err := s.builder.Build(ctx, RequestFor(d, du.Period))
		if err != nil {
			return err
		}
		late := now.Sub(du.At) > s.cfg.LateAfter
		at := du.At
		c.Late, c.DueAt = late, &at
		*content = c
	}
	c := *content
	attempt := cur.attempts + 1
	if c.Empty && !d.SendEmpty {
		skip := base
		skip.Kind, skip.At, skip.Attempt = KindSkipped, now, attempt
		if err := s.ledger.RecordDelivery(ctx, skip); err != nil {
			return err
		}
		s.deliveries.WithLabelValues(d.Name, channel, OutcomeSkipped).Inc()
		s.markDone(u)
		return nil
	}
	msg, err := c.Message()
	if err != nil {
		return err
	}
	ch := s.channels[channel]
	sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
	sendErr := ch.Send(sendCtx, msg)
	cancel()
	log := s.log.WithFields(logrus.Fields{"digest": d.Name, "channel": channel, "period": du.Period.Label, "attempt": attempt})
	if sendErr == nil {
		sent := base
		sent.Kind, sent.At, sent.Attempt, sent.Late = KindSent, s.now(), attempt, c.Late
		outcome := OutcomeSent
		if c.Late {
			outcome = OutcomeSentLate
		}
		s.deliveries.WithLabelValues(d.Name, channel, outcome).Inc()
		s.failing.WithLabelValues(d.Name, channel).Set(0)
		s.lastSent.WithLabelValues(d.Name, channel).Set(float64(sent.At.UnixMilli()) / 1000)
		s.clearFailing(u)
		log.WithField("late", c.Late).Info("digest sent")
		s.markDone(u)
		if err := s.ledger.RecordDelivery(ctx, sent); err != nil {
			// Sent, not yet recorded: record it on the next tick, never
			// send it again from here.
			s.keepUnrecorded(u, sent)
			return err
		}
		return nil
	}
	s.failing.WithLabelValues(d.Name, channel).Set(1)
	s.setFailing(u, sendErr.Error())
	first := cur.firstClaim
	if first.IsZero() {
		first = now
	}
	if notify.IsPermanent(sendErr) || now.Sub(first) >= s.cfg.RetryFor {
		gave := base
		gave.Kind, gave.At, gave.Attempt, gave.Error = KindGaveUp, now, attempt, sendErr.Error()
		s.deliveries.WithLabelValues(d.Name, channel, OutcomeGaveUp).Inc()
		// Logged once: the delivery is over and never tried again.
		log.WithError(sendErr).Error("digest not delivered: giving up")
		s.markDone(u)
		return s.ledger.RecordDelivery(ctx, gave)
	}
	wait := backoff.Wait(int(attempt), retryFirst, retryMax)
	next := now.Add(wait)
	failed := base
	failed.Kind, failed.At, failed.Attempt, failed.Error, failed.LeaseUntil = KindAttempt, now, attempt, sendErr.Error(), next.Add(s.cfg.Lease)
	s.deliveries.WithLabelValues(d.Name, channel, OutcomeFailed).Inc()
	log.WithError(sendErr).WithField("retry_in", wait.Round(time.Second).String()).Warn("digest delivery failed; retrying")
	s.setNext(u, next)
	cur.attempts = attempt
	return s.ledger.RecordDelivery(ctx, failed)
}

// flushUnrecorded records the sent rows the ledger refused before.
func (s *Service) flushUnrecorded(ctx context.Context) {
	s.mu.Lock()
	pending := make([]Delivery, 0, len(s.unrecorded))
	for _, d := range s.unrecorded {
		pending = append(pending, d)
	}
	s.mu.Unlock()
	for _, d := range pending {
		if err := s.ledger.RecordDelivery(ctx, d); err != nil {
			s.errs.WithLabelValues(d.Digest).Inc()
			s.setErr(s.now(), err)
			continue
		}
		s.mu.Lock()
		delete(s.unrecorded, unit{d.Digest, d.Channel, d.PeriodStart.UTC()})
		s.mu.Unlock()
	}
}

func (s *Service) isDone(u unit) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done[u]
}

func (s *Service) markDone(u unit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done[u] = true
	delete(s.next, u)
}

func (s *Service) nextAttempt(u unit) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.next[u]
	return t, ok
}

func (s *Service) setNext(u unit, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next[u] = t
}

func (s *Service) keepUnrecorded(u unit, d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unrecorded[u] = d
}

func (s *Service) setFailing(u unit, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failingNow[u] = msg
}

func (s *Service) clearFailing(u unit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.failingNow {
		if k.digest == u.digest && k.channel == u.channel {
			delete(s.failingNow, k)
		}
	}
}

// Health is the scheduler's state for the health report.
type Health struct {
	// Failing lists the deliveries whose latest attempt failed, as
	// "digest → channel (period start): error".
	Failing []string `json:"failing,omitempty"`
	// LastError is the scheduler's own latest failure (the ledger, the
	// content), with its time.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	LastTick    *time.Time `json:"last_tick,omitempty"`
	Digests     int        `json:"digests"`
	Instance    string     `json:"instance"`
}

// Health reports the scheduler's state: failing when a delivery is
// failing, or when the scheduler failed in its latest ticks.
func (s *Service) Health() (Health, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Health{Digests: len(s.cfg.Digests), Instance: s.cfg.Instance}
	for u, msg := range s.failingNow {
		h.Failing = append(h.Failing, fmt.Sprintf("%s → %s (%s): %s", u.digest, u.channel, u.start.Format(time.RFC3339), msg))
	}
	sort.Strings(h.Failing)
	if !s.lastTick.IsZero() {
		t := s.lastTick
		h.LastTick = &t
	}
	var err error
	if s.lastErr != "" && !s.lastErrAt.Before(s.lastTick.Add(-2*s.cfg.Tick)) {
		t := s.lastErrAt
		h.LastError, h.LastErrorAt = s.lastErr, &t
		err = errors.New("the digest scheduler failed: " + s.lastErr)
	}
	if len(h.Failing) > 0 {
		err = errors.Join(err, fmt.Errorf("%d digest deliveries failing", len(h.Failing)))
	}
	return h, err
}
